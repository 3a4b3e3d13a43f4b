"""Noticing a caller that left (``_disconnects``): a watch only for requests that run long
enough, the guarded block cancelled and ended quietly on ``http.disconnect``."""

from __future__ import annotations

import asyncio
from typing import Any

from azure_asgi._disconnects import WATCH_AFTER_S, Disconnects


class Caller:
    """A receive callable that counts its calls and disconnects when told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.left = asyncio.Event()

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        await self.left.wait()
        return {"type": "http.disconnect"}


async def test_a_quick_request_is_never_watched() -> None:
    disconnects, caller = Disconnects(), Caller()
    with disconnects.watch(caller):
        await asyncio.sleep(0)
    await asyncio.sleep(WATCH_AFTER_S * 3)
    assert caller.calls == 0
    disconnects.close()


async def test_a_caller_leaving_cancels_the_block_which_ends_quietly() -> None:
    disconnects, caller = Disconnects(), Caller()
    reached_end = False

    async def request() -> bool:
        nonlocal reached_end
        with disconnects.watch(caller) as watch:
            await asyncio.sleep(WATCH_AFTER_S * 4)  # the watch starts meanwhile
            caller.left.set()
            await asyncio.sleep(30)  # cancelled when the disconnect arrives
            reached_end = True
        return watch.gone

    assert await asyncio.wait_for(request(), 5) is True
    assert caller.calls == 1 and not reached_end
    disconnects.close()


async def test_leaving_the_block_stops_its_watch() -> None:
    disconnects, caller = Disconnects(), Caller()
    with disconnects.watch(caller) as watch:
        await asyncio.sleep(WATCH_AFTER_S * 4)
        assert caller.calls == 1
    caller.left.set()
    await asyncio.sleep(WATCH_AFTER_S)
    assert not watch.gone  # the disconnect came after the block: nothing was cancelled
    disconnects.close()


async def test_an_outside_cancellation_is_not_swallowed() -> None:
    disconnects, caller = Disconnects(), Caller()

    async def request() -> None:
        with disconnects.watch(caller):
            await asyncio.sleep(30)

    task = asyncio.create_task(request())
    await asyncio.sleep(WATCH_AFTER_S * 3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    disconnects.close()


def test_one_ticker_serves_requests_on_successive_event_loops() -> None:
    disconnects = Disconnects()

    async def long_request() -> int:
        caller = Caller()
        with disconnects.watch(caller):
            await asyncio.sleep(WATCH_AFTER_S * 4)
        return caller.calls

    assert asyncio.run(long_request()) == 1
    assert asyncio.run(long_request()) == 1  # a new loop gets its own ticker
