"""Per-request deadlines enforced by one sweep, instead of one timer per request.

``asyncio.timeout`` schedules and cancels a timer handle for every request: measured under load
that was ~8 us of a ~220 us request. Here a request only joins and leaves a set; one task wakes
every ``tick`` (a tenth of ``timeout_s``, at most a second) and cancels the requests whose time
is up, which then see :class:`TimeoutError` exactly as with ``asyncio.timeout``. A deadline is
thus kept to within one tick.
"""

from __future__ import annotations

import asyncio

__all__ = ["Deadline", "Deadlines"]


class Deadline:
    """``with deadlines.start():`` — raises TimeoutError out of the block once time is up."""

    __slots__ = ("_owner", "at", "expired", "task")

    def __init__(self, owner: Deadlines, task: asyncio.Task[object], at: float) -> None:
        self._owner = owner
        self.task = task
        self.at = at
        self.expired = False

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._owner.live.discard(self)
        if self.expired and self.task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError


class Deadlines:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.tick = min(1.0, max(timeout_s / 10, 0.005))
        self.live: set[Deadline] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> Deadline:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        deadline = Deadline(self, task, loop.time() + self.timeout_s)
        self.live.add(deadline)
        if self._sweeper is None or self._loop is not loop:
            # (Re)start per event loop: a gateway may outlive the loop it first ran in.
            self._loop = loop
            self._sweeper = loop.create_task(self._sweep(loop))
        return deadline

    async def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while self.live:
                await asyncio.sleep(self.tick)
                now = loop.time()
                for deadline in [d for d in self.live if d.at <= now and not d.expired]:
                    deadline.expired = True
                    deadline.task.cancel()
        finally:
            if self._loop is loop:
                self._sweeper = None

    def close(self) -> None:
        if self._sweeper is not None and not self._sweeper.done():
            self._sweeper.cancel()
        self._sweeper = None
