"""One sweep for every request's deadline."""

from __future__ import annotations

import asyncio

import pytest

from azure_asgi._deadlines import Deadlines


async def test_expired_block_raises_timeout_error() -> None:
    deadlines = Deadlines(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = deadlines.new()
    with pytest.raises(TimeoutError), deadline:
        await asyncio.sleep(10)
    took = loop.time() - started
    assert took >= 0.05  # never early (how late depends on the machine's load: not asserted)
    deadline.close()
    assert not deadlines.live
    # The task carries no leftover cancellation: it can go on awaiting.
    await asyncio.sleep(0)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_block_in_time_is_untouched_and_sweeper_stops() -> None:
    deadlines = Deadlines(5)
    deadline = deadlines.new()
    for _ in range(3):  # a phase each: entered again, swept all along
        with deadline:
            await asyncio.sleep(0)
        assert deadlines.live == {deadline}
    deadline.close()
    assert not deadlines.live
    deadlines.close()
    assert deadlines._sweeper is None


async def test_many_concurrent_requests_each_get_their_own_deadline() -> None:
    deadlines = Deadlines(0.05)

    async def request(sleep: float) -> str:
        deadline = deadlines.new()
        try:
            with deadline:
                await asyncio.sleep(sleep)
        except TimeoutError:
            return "timeout"
        finally:
            deadline.close()
        return "done"

    results = await asyncio.gather(*(request(0.0 if i % 2 else 1.0) for i in range(20)))
    assert results == ["timeout", "done"] * 10


async def test_a_deadline_passing_between_phases_raises_at_the_next_one() -> None:
    deadlines = Deadlines(0.02)
    deadline = deadlines.new()
    with deadline:
        await asyncio.sleep(0)
    # Between phases (an answer being rendered): swept, marked, never interrupted.
    await asyncio.sleep(0.2)
    assert deadline.expired
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    with pytest.raises(TimeoutError), deadline:
        raise AssertionError("a phase past its deadline does not start")
    deadline.close()
    deadlines.close()


def test_works_across_event_loops() -> None:
    deadlines = Deadlines(0.02)

    async def once() -> None:
        deadline = deadlines.new()
        with pytest.raises(TimeoutError), deadline:
            await asyncio.sleep(1)
        deadline.close()

    asyncio.run(once())
    asyncio.run(once())  # a new loop starts a new sweeper
