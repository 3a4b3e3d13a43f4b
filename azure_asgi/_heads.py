"""uvicorn's httptools protocol with a bound on the request head, for ``azure-asgi serve``.

httptools (llhttp) has no header-size limit and uvicorn exposes none for it: a client can
send megabytes of header lines and uvicorn keeps them all in memory (a 5 MB head is
accepted). h11 has one (``h11_max_incomplete_event_size``); this protocol applies the same
setting to httptools, so ``serve --max-header-bytes`` means one thing whatever the parser.
Imported only when httptools is installed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = ["DEFAULT_MAX_HEAD_BYTES", "HeadBoundedHttpToolsProtocol"]

#: Room for an Entra ID bearer token (several KB with group claims), cookies of a host
#: application and the usual headers, with plenty to spare; far below what hurts memory.
DEFAULT_MAX_HEAD_BYTES = 64 * 1024

_REFUSAL = (
    b"Request header fields too large: the request line and headers of one request must "
    b"fit in the gateway's limit (azure-asgi serve --max-header-bytes)."
)


class _HeadTooLarge(Exception):
    """Raised from a parser callback: stops llhttp, which uvicorn reports via send_400_response."""


class HeadBoundedHttpToolsProtocol(HttpToolsProtocol):
    """Refuses (431, then closes) a request head larger than the bound.

    The bound is ``config.h11_max_incomplete_event_size``, the setting uvicorn gives h11, so
    that it reaches every worker process with the rest of the config. Two checks keep to it:
    a head still incomplete once more bytes than the bound arrived is refused before anything
    more is fed to the parser (so the memory held is the bound plus one read), and a complete
    head is measured (request target plus header lines) before its request starts.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_limit = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEAD_BYTES
        self._in_head = True  # a connection starts with a request head
        self._head_bytes = 0
        self._head_refused = False

    def data_received(self, data: bytes) -> None:
        if not self._in_head:  # a body: the app's flow control bounds it
            super().data_received(data)
            return
        # Counted before parsing: bytes after the head in this read are body, and reset with
        # the count in on_headers_complete.
        self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self._head_limit:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._head_limit:
            # The whole head came in one read: refused before its request starts.
            self._head_refused = True
            raise _HeadTooLarge
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error here, including the one _HeadTooLarge causes
        # (after logging its own "Invalid HTTP request received." warning).
        if self._head_refused:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def on_message_complete(self) -> None:
        self._in_head = True  # what follows on this connection is the next request's head
        super().on_message_complete()

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return  # the parser already answered (400) and closed
        self.logger.warning("Request head larger than %d bytes refused (431).", self._head_limit)
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head behind a response still being sent: a 431 would land inside
            # that response, so the connection is only closed.
            self.transport.close()
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_REFUSAL), _REFUSAL)
        )
        self.transport.close()
