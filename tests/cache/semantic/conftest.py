"""Shared pieces: the real encoder and verifier, the shared Quora pairs (skipped when absent), real Redis."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from switchyard.cache.semantic.dataset import qqp_path
from switchyard.embed import Encoder, get_encoder

SHARED_DATA = Path("/work/shared/data")
REDIS = ("127.0.0.1", 6379)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return get_encoder()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    for candidate in (Path("../shared/data"), SHARED_DATA):
        if qqp_path(candidate).is_file():
            return candidate
    pytest.skip(f"the Quora pairs (cache/qqp_pairs.jsonl.gz) are not in ../shared/data or {SHARED_DATA}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
    except OSError:
        pytest.skip(f"no Redis at {REDIS[0]}:{REDIS[1]}")
    return f"redis://{REDIS[0]}:{REDIS[1]}/0"
