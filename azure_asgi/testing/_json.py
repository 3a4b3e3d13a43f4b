"""The emulator's one way into JSON and one way out, so that no request body can crash it.

Every body, batch line and internal round trip is parsed by :func:`parse_json`, and every
answer serialised by :func:`json_text` / :func:`json_bytes`:

- a body nested deeper than :data:`MAX_DEPTH` is refused (the C parser raises RecursionError
  near Python's recursion limit, and anything parsed must also serialise again, deeper in
  the stack);
- a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON, not Unicode text) is refused: the
  emulator hashes, encodes and echoes the text it receives, and none of that works on it;
- the body must be UTF-8, which also keeps raw surrogate bytes (ED A0 80) out;
- answers are escaped to ASCII, so encoding them can never fail.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "BadJson", "json_bytes", "json_text", "parse_json"]

#: Deeper bodies are refused: far below Python's recursion limit, far above real requests
#: (a tool's JSON schema nests a few dozen levels at most).
MAX_DEPTH = 256
# Only an escape can put a surrogate in text that decoded as UTF-8; pairs are joined by the
# parser, so a surrogate left in a parsed string is a lone one.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """A body the emulator will not take; ``reason`` completes "We could not parse ...: "."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_json(data: bytes | str) -> Any:
    """The value of a JSON document, or :class:`BadJson` saying why it is refused."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError:
        raise BadJson("it is not UTF-8 text") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadJson(f"it nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise BadJson("it is not valid JSON") from None
    # Cheap tests first (C-speed scans of the text); the walk runs only when they cannot rule
    # a problem out.
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    lone = _ESCAPED_SURROGATE.search(text) is not None
    if deep or lone:
        _check(value, deep=deep, lone=lone)
    return value


def _check(value: Any, *, deep: bool, lone: bool) -> None:
    """Walk ``value`` without recursion: refuse it past ``MAX_DEPTH`` or with a surrogate."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if lone and _SURROGATE.search(item):
                raise BadJson(
                    "it holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
                    "which is not Unicode text: send the character itself or a valid pair"
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if deep and depth >= MAX_DEPTH:
            raise BadJson(f"it nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)


def json_text(obj: Any) -> str:
    """Compact JSON, ASCII only (``ensure_ascii``): encoding it never fails."""
    return json.dumps(obj, separators=(",", ":"))


def json_bytes(obj: Any) -> bytes:
    """:func:`json_text` as bytes, for ASGI bodies."""
    return json_text(obj).encode("ascii")
