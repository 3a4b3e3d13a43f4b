"""Reading what follows a relayed stream's terminal event, after the caller's answer ended.

An upstream's chunked body ends after its terminal event (``[DONE]``), often in a later
packet. Closing the response before that end drops its connection; reading on in the request's
own task would keep the host's ASGI call open after its answer ended, and whatever went wrong
there would reach the host's server, which then closes the caller's connection (and with it
the next request the caller already sent on it). So the rest is read here, in a task of its
own, for a quarter second and 64 KB at most (docs/routes.md, "Streaming").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from ._transport import UpstreamError, UpstreamResponse

__all__ = ["DRAIN_BYTES", "DRAIN_S", "Drains"]

logger = logging.getLogger("azure_asgi")

#: What a stream's connection may still carry after its terminal, read so the connection is
#: kept: a quarter second at most, a few kilobytes at most.
DRAIN_S = 0.25
DRAIN_BYTES = 65_536


class Drains:
    """The drains of one gateway: ``drains.start(response, chunks)`` takes the response over."""

    def __init__(self) -> None:
        #: Each running drain, with what it closes when it ends.
        self._running: dict[asyncio.Task[None], tuple[UpstreamResponse, AsyncIterator[bytes]]] = {}

    def start(self, response: UpstreamResponse, chunks: AsyncIterator[bytes]) -> None:
        """Read the rest of ``chunks`` in the background, then close ``response``: a connection
        whose body ended goes back to the pool, any other is dropped."""
        task = asyncio.get_running_loop().create_task(self._drain(response, chunks))
        self._running[task] = (response, chunks)

    async def _drain(self, response: UpstreamResponse, chunks: AsyncIterator[bytes]) -> None:
        try:
            await _read_on(chunks)
        finally:
            self._running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            await _close(response, chunks)

    async def wait(self) -> None:
        """Until every drain started so far (in this event loop) has ended."""
        loop = asyncio.get_running_loop()
        tasks = [t for t in self._running if t.get_loop() is loop]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop every drain and close its response, before the connection pool closes."""
        for task in self._running:
            task.cancel()
        await self.wait()
        # A drain cancelled before it began never ran its own close.
        left, self._running = self._running, {}
        for response, chunks in left.values():
            await _close(response, chunks)


async def _read_on(chunks: AsyncIterator[bytes]) -> None:
    left = DRAIN_BYTES
    try:
        async with asyncio.timeout(DRAIN_S):
            async for chunk in chunks:
                left -= len(chunk)
                if left < 0:
                    return
    except (TimeoutError, UpstreamError):
        pass
    except Exception:  # pragma: no cover - a bug of ours; the caller's answer is long sent
        logger.exception("azure-asgi: reading the end of an upstream stream failed")


async def _close(response: UpstreamResponse, chunks: AsyncIterator[bytes]) -> None:
    if isinstance(chunks, AsyncGenerator):
        with contextlib.suppress(Exception):
            await chunks.aclose()
    with contextlib.suppress(Exception):
        await response.aclose()
