"""Noticing a caller that left, so that its upstream call is closed at once.

A request still running after :data:`WATCH_AFTER_S` gets a task that waits for its
``http.disconnect``; quicker ones finish before a disconnect could matter. One ticker per
gateway starts those tasks, so a request pays for a dictionary entry instead of a timer of its
own (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._types import Receive

__all__ = ["WATCH_AFTER_S", "CallerWatch", "Disconnects"]

#: How long a request runs before a task watches for its caller to leave (within one more).
WATCH_AFTER_S = 0.02


class Disconnects:
    """The ticker shared by every request of one gateway: ``with disconnects.watch(receive):``."""

    def __init__(self) -> None:
        #: Requests not yet watched, oldest first, with the loop time their watch is due.
        self._waiting: dict[CallerWatch, float] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, receive: Receive, task: asyncio.Task[Any] | None = None) -> CallerWatch:
        """A watch over the block it guards, in ``task`` (the request's; the current task when
        None)."""
        return CallerWatch(self, receive, task)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        # (Re)started per event loop: a gateway may outlive the loop it first ran in.
        self._loop = loop
        self._ticker = loop.create_task(self._tick(loop))

    async def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting
        try:
            while waiting:
                await asyncio.sleep(WATCH_AFTER_S)
                now = loop.time()
                due = []
                for watch, at in waiting.items():
                    if at > now:
                        break  # the rest came later
                    due.append(watch)
                for watch in due:
                    del waiting[watch]
                    watch.start()
        finally:
            if self._loop is loop:
                self._ticker = None

    def close(self) -> None:
        if self._ticker is not None and not self._ticker.done():
            self._ticker.cancel()
        self._ticker = None


class CallerWatch:
    """Cancels the block it guards when the caller disconnects, so the upstream call (JSON or
    stream) is closed at once; the block then ends quietly."""

    __slots__ = ("_owner", "_receive", "_request_task", "_task", "_watch", "gone")

    def __init__(
        self, owner: Disconnects, receive: Receive, task: asyncio.Task[Any] | None = None
    ) -> None:
        self._owner = owner
        self._receive = receive
        self._request_task = task
        self._task: asyncio.Task[Any] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.gone = False

    def __enter__(self) -> CallerWatch:
        task = self._request_task or asyncio.current_task()
        assert task is not None, "a caller watch guards a block run by a task"
        self._task = task
        # (Joining the owner's ticker here, not in a method of it: one call less a request.)
        owner = self._owner
        loop = task.get_loop()  # no running-loop look-up (a getpid system call)
        owner._waiting[self] = loop.time() + WATCH_AFTER_S
        if owner._ticker is None or owner._loop is not loop:
            owner._start(loop)
        return self

    def start(self) -> None:
        """Begin watching (the ticker calls this once the request ran long enough)."""
        self._watch = asyncio.get_running_loop().create_task(_until_disconnect(self._receive))
        self._watch.add_done_callback(self._left)

    def _left(self, watch: asyncio.Task[None]) -> None:
        if self._task is not None and not watch.cancelled() and watch.exception() is None:
            self.gone = True
            self._task.cancel()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        task, self._task = self._task, None
        self._owner._waiting.pop(self, None)
        if self._watch is not None:
            self._watch.cancel()
        if self.gone and task is not None and task.uncancel() == 0:
            # Our own cancellation: the caller left, there is nobody to answer.
            return exc_type is asyncio.CancelledError
        return False


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
