"""The gateway's one JSON reader and one JSON writer, both safe on hostile input.

Every body the gateway parses or writes goes through these two functions, so the two ways JSON
can fail on what a caller sent are handled once: nesting deep enough to exhaust the recursion
limit, and lone UTF-16 surrogates (``"\\ud800"``) that Python decodes into a ``str`` but cannot
encode as UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def loads(raw: bytes | str) -> Any:
    """``json.loads`` that raises only :class:`ValueError` (bad JSON, bad UTF-8, too deep)."""
    try:
        return json.loads(raw)
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
            return _encode(data).encode()
        except UnicodeEncodeError:
            # Only strings a caller sent can hold a lone surrogate; escaping them (ensure_ascii)
            # writes back exactly the escape the caller used, and is valid UTF-8.
            return _encode_ascii(data).encode()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
