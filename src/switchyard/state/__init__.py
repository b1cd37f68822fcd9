"""Shared state behind one interface: in memory for one process, Redis for many replicas."""

from .base import StateStore
from .memory import MemoryStore

__all__ = ["MemoryStore", "StateStore"]
