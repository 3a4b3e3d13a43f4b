"""Serving any ASGI app on a loopback port with uvicorn, for tests that need real sockets.

In-process ASGI transports buffer a whole response, so a test that watches a stream arrive
chunk by chunk (or a client that only speaks HTTP) needs a real server: see docs/testing.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

__all__ = ["serve", "serve_in_thread"]

_START_TIMEOUT_S = 10.0


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - uvicorn is in the test and serve extras
        raise RuntimeError(
            "serving on a loopback port needs uvicorn: pip install 'azure-asgi[serve]'"
        ) from None
    return uvicorn


def _bound_socket(host: str, port: int) -> socket.socket:
    # Bound here rather than by uvicorn, so the URL is known before the server starts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    lifespan: str = "off",
    **uvicorn_options: Any,
) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn inside the running event loop; yields its base URL.

    ::

        async with serve(emulator) as url:  # "http://127.0.0.1:<free port>"
            ...

    ``port=0`` picks a free port; ``lifespan`` is uvicorn's (``"off"``: the app is not sent
    lifespan events); ``uvicorn_options`` go to ``uvicorn.Config`` (``log_level`` defaults to
    ``warning``). The server stops when the block ends.
    """
    uvicorn = _uvicorn()
    sock = _bound_socket(host, port)
    bound = sock.getsockname()[1]
    options: dict[str, Any] = {"log_level": "warning", **uvicorn_options}
    server = uvicorn.Server(uvicorn.Config(app, lifespan=lifespan, **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT_S
        while not server.started:
            if task.done():
                task.result()  # a server that failed to start says why
                raise RuntimeError("uvicorn stopped before it started")
            if loop.time() > deadline:
                raise RuntimeError(f"uvicorn did not start within {_START_TIMEOUT_S:g} s")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    lifespan: str = "auto",
    **uvicorn_options: Any,
) -> Iterator[str]:
    """Serve ``app`` from a background thread with its own event loop; yields its base URL.

    For sync clients (``openai.OpenAI``, ``requests``, raw sockets) and tests with no event
    loop::

        with serve_in_thread(emulator) as url:
            openai.OpenAI(base_url=f"{url}/openai/v1", api_key="emulator-key")

    The app runs on the thread's loop: set a ``Fault.hold_stream``'s ``release`` with
    ``loop.call_soon_threadsafe`` rather than directly. ``uvicorn_options`` go to
    ``uvicorn.Config`` (``http=``, limits, ``log_level``).
    """
    uvicorn = _uvicorn()
    sock = _bound_socket(host, port)
    bound = sock.getsockname()[1]
    options: dict[str, Any] = {"log_level": "warning", **uvicorn_options}
    server = uvicorn.Server(uvicorn.Config(app, lifespan=lifespan, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        waited = threading.Event()
        for _ in range(int(_START_TIMEOUT_S / 0.005)):
            if server.started or not thread.is_alive():
                break
            waited.wait(0.005)
        if not server.started:
            raise RuntimeError("uvicorn did not start (see its log above)")
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
