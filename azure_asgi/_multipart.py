"""Multipart uploads: spooled once (memory, then disk), scanned for ``model``, replayed upstream.

The body is held exactly once, in a spooled temporary file, so memory stays bounded whatever the
upload size, a retry can replay it, and nothing is copied part by part: the only change ever made
is swapping the ``model`` field's value for the deployment (v1-style upstreams), which is done
by streaming the bytes around it.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import IO

from ._body import body_chunks
from ._errors import GatewayError
from ._types import Receive

__all__ = ["Upload", "spool_upload"]

_CHUNK = 64 * 1024
_MEMORY = 1024 * 1024  # spool to disk past this
# The boundary parameter, quoted (which may hold spaces) or not (up to the next parameter).
_BOUNDARY = re.compile(rb';\s*boundary=(?:"([^"]*)"|([^;]*))', re.IGNORECASE)
# RFC 2046 section 5.1.1: 1 to 70 bchars, the last one not a space.
_MAX_BOUNDARY = 70
_BCHARS = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")
_NAME = re.compile(rb'[; ]name="([^"]*)"', re.IGNORECASE)


class Upload:
    """A spooled multipart body and where its ``model`` field's value sits in it."""

    def __init__(self, file: IO[bytes], size: int, boundary: bytes, content_type: bytes) -> None:
        self.file = file
        self.size = size
        self.boundary = boundary
        self.content_type = content_type.decode("latin-1")
        self.model: str | None = None
        self._span: tuple[int, int] | None = None

    def find_model(self) -> str | None:
        found = _find_field(self.file, self.size, self.boundary, b"model")
        if found is not None:
            value, self._span = found
            self.model = value.decode("utf-8", "replace").strip()
        return self.model

    def length(self, model: str | None = None) -> int:
        if model is None or self._span is None:
            return self.size
        start, end = self._span
        return self.size - (end - start) + len(model.encode())

    async def stream(self, model: str | None = None) -> AsyncIterator[bytes]:
        """The body, with the ``model`` value replaced when one is given."""
        if model is None or self._span is None:
            segments: list[tuple[int, int] | bytes] = [(0, self.size)]
        else:
            start, end = self._span
            segments = [(0, start), model.encode(), (end, self.size)]
        for segment in segments:
            if isinstance(segment, bytes):
                yield segment
                continue
            pos, stop = segment
            while pos < stop:
                chunk = await _read_at(self.file, pos, min(_CHUNK, stop - pos))
                if not chunk:
                    return
                pos += len(chunk)
                yield chunk

    def close(self) -> None:
        self.file.close()


async def _read_at(file: IO[bytes], pos: int, size: int) -> bytes:
    # Disk reads of a spooled file are page-cache fast; no thread hop for 64 KiB.
    file.seek(pos)
    data = file.read(size)
    await asyncio.sleep(0)  # let other requests run between chunks of a large upload
    return data


async def spool_upload(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> Upload:
    """Read a multipart body into a spooled file, refusing it (413) past ``limit`` bytes."""
    content_type = headers.get(b"content-type", b"")
    boundary = _boundary(content_type)  # refused before a byte of the body is read
    file = tempfile.SpooledTemporaryFile(max_size=_MEMORY)  # noqa: SIM115 - owned by Upload
    size = 0
    try:
        async for chunk in body_chunks(receive, headers, limit, "limits.max_upload_bytes"):
            size += len(chunk)
            file.write(chunk)
    except BaseException:
        file.close()
        raise
    return Upload(file, size, boundary, content_type)


def _boundary(content_type: bytes) -> bytes:
    """The multipart boundary of a content type, refused (400) unless RFC 2046 allows it.

    The length cap is what keeps :func:`_delimiters` linear: its blocks overlap by the
    delimiter's length, which must stay far below the block size.
    """
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith(b"multipart/form-data") or match is None:
        raise _invalid(
            "This operation takes a multipart/form-data body (with a boundary), such as the "
            "openai SDK sends for uploads."
        )
    quoted, bare = match.groups()
    boundary: bytes = quoted if quoted is not None else bare.strip()
    # The boundary itself is never echoed: it may be tens of kilobytes long.
    if not boundary:
        raise _invalid(
            "The multipart boundary is empty; RFC 2046 requires 1 to 70 characters: "
            "send a content-type such as multipart/form-data; boundary=<32 hex digits>."
        )
    if len(boundary) > _MAX_BOUNDARY:
        raise _invalid(
            f"The multipart boundary is {len(boundary)} characters long; RFC 2046 allows at "
            f"most {_MAX_BOUNDARY}: send a shorter one (the openai SDK sends 32 hex digits)."
        )
    if not _BCHARS.fullmatch(boundary):
        raise _invalid(
            "The multipart boundary may hold only letters, digits, spaces and '()+_,-./:=? "
            "and must not end in a space (RFC 2046): send one made of such characters."
        )
    if not content_type.isascii():
        # The content type goes upstream as a header, which must be ASCII (RFC 9110).
        raise _invalid(
            "The content-type header must be ASCII: send multipart/form-data; boundary=..."
        )
    return boundary


def _invalid(message: str) -> GatewayError:
    return GatewayError(400, message, code="invalid_multipart")


def _find_field(
    file: IO[bytes], size: int, boundary: bytes, name: bytes
) -> tuple[bytes, tuple[int, int]] | None:
    """The value of a plain (non-file) form field and its byte span, scanning only as far as
    needed: SDKs send form fields before file parts, so this usually reads one block."""
    delimiter = b"--" + boundary
    starts = _delimiters(file, size, delimiter)
    previous: int | None = None
    for pos in starts:
        if previous is not None:
            found = _field_in_part(file, previous + len(delimiter), pos, name)
            if found is not None:
                return found
        previous = pos
    return None


def _delimiters(file: IO[bytes], size: int, delimiter: bytes) -> Iterator[int]:
    """Positions of the multipart delimiter, found block by block, lazily.

    Blocks overlap by the delimiter's length plus its leading CRLF, so a delimiter split across
    two blocks is still found; ``last`` keeps one found in the overlap from counting twice.
    Each block starts ``step`` bytes after the previous one, so the scan always moves forward
    and reads the file about once.
    """
    overlap = len(delimiter) + 2
    step = _CHUNK - overlap
    if step < _CHUNK // 2:
        # Unreachable through spool_upload (boundaries are capped at 70 bytes); refused here
        # so that no other caller can make the scan stand still, seek backwards or crawl.
        raise ValueError(f"a {len(delimiter)}-byte multipart delimiter is too long to scan")
    last = -1
    for pos in range(0, size, step):
        file.seek(pos)
        block = file.read(_CHUNK)
        if not block:
            return
        i = block.find(delimiter)
        while i >= 0:
            at = pos + i
            # A delimiter starts the body or follows a CRLF; anything else is file content.
            if at > last and (at == 0 or (i >= 2 and block[i - 2 : i] == b"\r\n")):
                last = at
                yield at
            i = block.find(delimiter, i + 1)
        if pos + len(block) >= size:
            return


def _field_in_part(
    file: IO[bytes], start: int, end: int, name: bytes
) -> tuple[bytes, tuple[int, int]] | None:
    file.seek(start)
    head = file.read(min(8192, end - start))
    split = head.find(b"\r\n\r\n")
    if split < 0:
        return None
    headers = head[:split].lower()
    match = _NAME.search(head[:split])
    if match is None or match.group(1) != name or b"filename=" in headers:
        return None
    value_start = start + split + 4
    value_end = end - 2  # the CRLF before the next delimiter
    if value_end - value_start > 4096:
        return None  # not a model name
    file.seek(value_start)
    return file.read(value_end - value_start), (value_start, value_end)
