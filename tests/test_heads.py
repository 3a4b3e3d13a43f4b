"""The head-bounded httptools protocol (``azure_asgi._heads``), served by uvicorn as ``serve``
configures it: heads past the bound refused with 431 (h11's own bound, 400, for comparison),
bodies unbounded by it, keep-alive and pipelining intact."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import request_body, serve_in_thread


async def _echo_head_size(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await request_body(receive)
    size = sum(len(k) + len(v) for k, v in scope["headers"])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d %d" % (size, len(body))})


@contextlib.contextmanager
def bounded_server(http: str, limit: int) -> Iterator[int]:
    """uvicorn with protocol ``http`` and head limit ``limit``, as ``serve`` configures it."""
    options = {"http": http, "h11_max_incomplete_event_size": limit, "log_level": "critical"}
    with serve_in_thread(_echo_head_size, **options) as url:
        yield int(url.rsplit(":", 1)[1])


def exchange(port: int, head_bytes: int, body: bytes = b"") -> bytes:
    """Send a request whose header lines add up to ``head_bytes``; the answer's first bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n" % len(body))
        sent, index = 0, 0
        try:
            while sent < head_bytes:
                line = b"x-pad-%d: %s\r\n" % (index, b"a" * min(4000, head_bytes - sent))
                sock.sendall(line)
                sent, index = sent + len(line), index + 1
            sock.sendall(b"\r\n" + body)
        except OSError:
            pass  # the server may close before the client has sent everything
        try:
            return sock.recv(200)
        except OSError:
            return b""


HEADS = "azure_asgi._heads:HeadBoundedHttpToolsProtocol"


@pytest.mark.parametrize(("http", "refusal"), [(HEADS, b"431"), ("h11", b"400")])
def test_served_heads_are_bounded_with_either_parser(http: str, refusal: bytes) -> None:
    limit = 16 * 1024
    with bounded_server(http, limit) as port:
        small = exchange(port, 4000, body=b"b" * 2_000_000)  # a large body is not a large head
        over = exchange(port, 200_000)
        huge = exchange(port, 20_000_000)
    assert small.startswith(b"HTTP/1.1 200"), small
    assert over.startswith(b"HTTP/1.1 " + refusal) or over == b"", over
    assert huge.startswith(b"HTTP/1.1 " + refusal) or huge == b"", huge
    if http == HEADS:
        assert over.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")


def test_bounded_httptools_keeps_serving_keep_alive_and_pipelined_requests() -> None:
    with (
        bounded_server(HEADS, 8 * 1024) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        request = b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 6000 + b"\r\n\r\n"
        sock.sendall(request * 3)  # three heads of 6 KB in one write: each within the bound
        seen = b""
        while seen.count(b"HTTP/1.1 200") < 3:
            chunk = sock.recv(65536)
            assert chunk, seen
            seen += chunk
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 9000 + b"\r\n\r\n")
        refused = sock.recv(65536)  # one head too many, in one read: measured, refused
    assert refused.startswith(b"HTTP/1.1 431 "), refused
