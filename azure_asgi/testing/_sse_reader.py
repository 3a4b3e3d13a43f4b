"""Reading a whole SSE body in a test: its events, their data, their JSON payloads.

Built on the gateway's own codec (``azure_asgi._sse``), so tests read streams exactly as the
gateway does; the emulator itself does not use it.
"""

from __future__ import annotations

from typing import Any

from .._json import loads
from .._sse import SSEDecoder, SSEEvent

__all__ = ["SSEEvent", "sse_data", "sse_events", "sse_json"]


def sse_events(body: bytes | str) -> list[SSEEvent]:
    """Every block of a whole SSE body, in order (``.event``, ``.data``, ``.raw``...).

    Comments and other blocks without data are included (``has_data=False``); a last block
    lacking its blank line is completed::

        events = sse_events(response.content)
        assert events[-1].event == "message_stop"
    """
    decoder = SSEDecoder()
    events = decoder.feed(body.encode() if isinstance(body, str) else body)
    return [*events, *decoder.end()]


def sse_data(body: bytes | str) -> list[str]:
    """The ``data`` of each event a browser would dispatch, in order (``"[DONE]"`` included)."""
    return [event.data for event in sse_events(body) if event.has_data]


def sse_json(body: bytes | str) -> list[Any]:
    """The JSON payload of each event, in order, the ``[DONE]`` sentinel left out::

    chunks = sse_json(response.content)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    """
    return [loads(data) for data in sse_data(body) if data != "[DONE]"]
