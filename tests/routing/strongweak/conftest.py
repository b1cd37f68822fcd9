"""The real routing data, when present; tests that need it skip with the reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.routing.strongweak.data import LoadedData, default_data_dir, load_routing_data

SHARED = Path("/work/shared/data/routing")


def real_data_dir() -> Path:
    for candidate in (default_data_dir(), SHARED):
        if (candidate / "mmlu").is_dir():
            return candidate
    pytest.skip(f"routing data (RouteLLM's MMLU/GSM8K/MT-Bench labels) not found at {default_data_dir()} or {SHARED}")


@pytest.fixture(scope="session")
def real_dir() -> Path:
    return real_data_dir()


@pytest.fixture(scope="session")
def real_data(real_dir: Path) -> LoadedData:
    return load_routing_data(real_dir)
