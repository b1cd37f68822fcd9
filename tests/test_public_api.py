"""The curated public surface: everything exported exists, and ``__all__`` stays sorted."""

from __future__ import annotations

import switchyard


def test_all_is_sorted_and_complete() -> None:
    assert switchyard.__all__ == sorted(switchyard.__all__)
    for name in switchyard.__all__:
        assert hasattr(switchyard, name), name


def test_exports_come_from_switchyard_modules() -> None:
    modules = {getattr(getattr(switchyard, name), "__module__", "switchyard") for name in switchyard.__all__}
    # Type aliases (Literal, X | Y) report "typing" or "types"; every class and function is one of ours.
    assert all(m.startswith("switchyard.") for m in modules - {"typing", "types"})
