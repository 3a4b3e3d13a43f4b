"""A small ``multipart/form-data`` parser: the emulator holds whole bodies in memory anyway."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Form", "Part", "boundary_of", "parse_form"]


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a form: a field (``filename`` None) or an uploaded file."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Form:
    """The parts of a ``multipart/form-data`` body, in order."""

    parts: tuple[Part, ...]

    def field(self, name: str) -> str | None:
        """The last value of a plain field, or None."""
        value = None
        for part in self.parts:
            if part.name == name and part.filename is None:
                value = part.text
        return value

    def fields(self) -> dict[str, str]:
        """Every plain field; a repeated name keeps its last value."""
        return {part.name: part.text for part in self.parts if part.filename is None}

    def files(self, *names: str) -> list[Part]:
        """The file parts sent under any of ``names`` (every file when none is given)."""
        return [
            part
            for part in self.parts
            if part.filename is not None and (not names or part.name in names)
        ]


def _params(header: str) -> tuple[str, dict[str, str]]:
    """``value; key=value; key="quoted"`` split into the value and its parameters."""
    params: dict[str, str] = {}
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in header:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    for item in items[1:]:
        key, sep, value = item.strip().partition("=")
        if sep:
            params[key.strip().lower()] = value.strip()
    # RFC 5987 ``filename*=utf-8''name`` wins over the plain parameter.
    extended = params.pop("filename*", None)
    if extended is not None:
        _, _, encoded = extended.partition("''")
        params["filename"] = unquote(encoded)
    return items[0].strip().lower(), params


def boundary_of(content_type: str) -> str | None:
    """The boundary of a ``multipart/form-data`` content type, or None for anything else."""
    kind, params = _params(content_type)
    if kind != "multipart/form-data":
        return None
    return params.get("boundary") or None


def parse_form(body: bytes, content_type: str) -> Form | None:
    """The form in ``body``; None when it is not well-formed ``multipart/form-data``."""
    boundary = boundary_of(content_type)
    if boundary is None:
        return None
    delimiter = b"--" + boundary.encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        return None
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if body.startswith(b"--", position):
            return Form(tuple(parts))  # the closing delimiter
        if not body.startswith(b"\r\n", position):
            return None
        end = body.find(b"\r\n" + delimiter, position)
        if end < 0:
            return None
        part = _part(body[position + 2 : end])
        if part is None:
            return None
        parts.append(part)
        position = end + 2 + len(delimiter)


def _part(raw: bytes) -> Part | None:
    head, sep, data = raw.partition(b"\r\n\r\n")
    if not sep:
        if not raw.endswith(b"\r\n"):
            return None
        head, data = raw[:-2], b""  # a part with headers and an empty body
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            headers[key.strip().lower()] = value.strip()
    kind, params = _params(headers.get("content-disposition", ""))
    if kind != "form-data" or "name" not in params:
        return None
    return Part(params["name"], params.get("filename"), headers.get("content-type"), data)
