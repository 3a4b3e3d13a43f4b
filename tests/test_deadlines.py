"""One sweep for every request's deadline."""

from __future__ import annotations

import asyncio

import pytest

from azure_asgi._deadlines import Deadlines


async def test_expired_block_raises_timeout_error() -> None:
    deadlines = Deadlines(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError), deadlines.new():
        await asyncio.sleep(10)
    took = loop.time() - started
    assert took >= 0.05  # never early (how late depends on the machine's load: not asserted)
    assert not deadlines.live
    # The task carries no leftover cancellation: it can go on awaiting.
    await asyncio.sleep(0)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_block_in_time_is_untouched_and_sweeper_stops() -> None:
    deadlines = Deadlines(5)
    with deadlines.new():
        await asyncio.sleep(0)
    assert not deadlines.live
    deadlines.close()
    assert deadlines._sweeper is None


async def test_many_concurrent_requests_each_get_their_own_deadline() -> None:
    deadlines = Deadlines(0.05)

    async def request(sleep: float) -> str:
        try:
            with deadlines.new():
                await asyncio.sleep(sleep)
        except TimeoutError:
            return "timeout"
        return "done"

    results = await asyncio.gather(*(request(0.0 if i % 2 else 1.0) for i in range(20)))
    assert results == ["timeout", "done"] * 10


def test_works_across_event_loops() -> None:
    deadlines = Deadlines(0.02)

    async def once() -> None:
        with pytest.raises(TimeoutError), deadlines.new():
            await asyncio.sleep(1)

    asyncio.run(once())
    asyncio.run(once())  # a new loop starts a new sweeper
