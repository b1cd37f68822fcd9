"""Fake providers speaking the real wire formats, with fault injection, for tests, benchmarks and demos."""

from .faults import Faults, Latency, Outage
from .server import SimConfig, Simulator, load_sim_config

__all__ = ["Faults", "Latency", "Outage", "SimConfig", "Simulator", "load_sim_config"]
