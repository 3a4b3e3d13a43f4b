"""The gateway's one JSON reader and one JSON writer, both safe on hostile input.

Every body the gateway parses or writes goes through these two functions, so the two ways JSON
can fail on what a caller sent are handled once: nesting deep enough to exhaust the recursion
limit, and lone UTF-16 surrogates (``"\\ud800"``) that Python decodes into a ``str`` but cannot
encode as UTF-8.

Both take the standard library's own C scanner and encoder, built once: ``json.loads`` and
``json.dumps`` build them again on every call and detect the encoding first, which was half of
what parsing a chat request cost (docs/performance.md). What they accept and write is exactly
``json.loads``' and ``json.dumps``' (tested side by side).
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import re
from typing import Any

__all__ = ["dumps", "loads"]

_decoder = json.JSONDecoder()
#: The C scanner when there is one (``make_scanner`` picks it), as ``json.loads`` uses.
_scan: Any = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]  # stubs: a class
#: What ``json.loads`` skips around a value.
_SPACE = re.compile(r"[ \t\n\r]*")
#: Its characters; ``""`` is in it too, so an empty text takes the regex (and fails there).
_SPACE_CHARS = " \t\n\r"


def _skip_space(text: str, pos: int) -> int:
    found = _SPACE.match(text, pos)
    return found.end() if found is not None else pos


def _encoder(ensure_ascii: bool) -> Any:
    # The C accelerator's pieces are not in the type stubs: looked up by name.
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii).iterencode
    escape = getattr(
        json.encoder, "c_encode_basestring_ascii" if ensure_ascii else "c_encode_basestring"
    )
    # markers=None: no cycle check, the data is always a tree (parsed JSON, or built here);
    # a cycle would still end as RecursionError, reported as nesting too deep. ``default``
    # raises json's own TypeError for what JSON cannot hold.
    default = json.JSONEncoder().default
    encode = make(None, default, escape, None, ":", ",", False, False, True)
    return lambda data: encode(data, 0)


_encode = _encoder(ensure_ascii=False)
_encode_ascii = _encoder(ensure_ascii=True)

#: First bytes after which ``json.loads`` would look for another encoding than UTF-8: BOMs
#: (UTF-8, UTF-16, UTF-32) and NULs (UTF-16/32 without a BOM).
_NOT_PLAIN_UTF8 = frozenset(b"\x00\xef\xfe\xff")


def loads(raw: bytes | str) -> Any:
    """``json.loads`` that raises only :class:`ValueError` (bad JSON, bad UTF-8, too deep)."""
    try:
        if isinstance(raw, bytes):
            if not raw or raw[0] in _NOT_PLAIN_UTF8 or raw[1:2] == b"\x00":
                return json.loads(raw)  # what it detects and decodes, it decides
            # As json.loads decodes UTF-8 (surrogatepass), without detecting it first.
            text = raw.decode("utf-8", "surrogatepass")
        else:
            text = raw
        # Space around the value is rare: looked for only when the first or last character is
        # one (a regex match each way cost more than scanning a small object).
        start = _skip_space(text, 0) if text[:1] in _SPACE_CHARS else 0
        try:
            value, end = _scan(text, start)
        except StopIteration as exc:
            raise json.JSONDecodeError("Expecting value", text, exc.value) from None
        if end != len(text):
            end = _skip_space(text, end)
            if end != len(text):
                raise json.JSONDecodeError("Extra data", text, end)
        return value
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason})") from None


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON. A lone surrogate is written as its ``\\uXXXX`` escape, as it came.

    Raises :class:`ValueError` for data nested too deeply to encode.
    """
    try:
        try:
            return "".join(_encode(data)).encode()
        except UnicodeEncodeError:
            # Only strings a caller sent can hold a lone surrogate; escaping them (ensure_ascii)
            # writes back exactly the escape the caller used, and is valid UTF-8.
            return "".join(_encode_ascii(data)).encode()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
