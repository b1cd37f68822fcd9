"""Small asyncio helpers that the standard library gets subtly wrong on the Python versions we support."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, whatever it raised.

    One ``cancel()`` is not enough on Python 3.11: ``asyncio.wait_for`` (redis-py sends every command under it)
    returns the result instead of raising when the cancellation arrives just as the awaited call completes
    (CPython gh-86296, fixed in 3.12). A background loop would then carry on with its next turn and never end,
    so the cancellation is repeated until it takes."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    await asyncio.gather(task, return_exceptions=True)
