"""cancel_and_wait: a background loop ends even when Python 3.11's wait_for drops the cancellation."""

from __future__ import annotations

import asyncio
import sys

from switchyard.aio import cancel_and_wait


async def test_a_loop_whose_first_cancellation_is_swallowed_still_ends() -> None:
    sending = asyncio.Event()
    sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    swallowed = 0

    async def poller() -> None:
        nonlocal swallowed
        while True:  # a follower loop, as over redis-py, whose every command runs under wait_for
            sending.set()
            await asyncio.wait_for(sent if not sent.done() else asyncio.sleep(0.01), 5)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                swallowed += 1

    task = asyncio.ensure_future(poller())
    await sending.wait()
    sent.set_result(None)  # the awaited call completes just as the cancellation arrives
    async with asyncio.timeout(5):
        await cancel_and_wait(task)
    assert task.done()
    if sys.version_info < (3, 12):
        assert swallowed >= 1  # one cancel() alone would have left this loop running


async def test_a_finished_or_failing_task_is_waited_for_quietly() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.done()
