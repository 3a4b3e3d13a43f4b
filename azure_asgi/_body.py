"""Reading a request body from ASGI ``receive``, refused (413) as soon as it is too large."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from ._errors import ClientGone, too_large
from ._types import Receive

__all__ = ["body_chunks"]


async def body_chunks(
    receive: Receive, headers: Mapping[bytes, bytes], limit: int, setting: str
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; 413 naming ``setting`` past ``limit`` bytes, decided
    from ``content-length`` before anything is read when the caller declares one."""
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, setting)
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise too_large(limit, setting)
            yield chunk
        if not message.get("more_body", False):
            return
