"""The gateway's one JSON reader and one JSON writer, both safe on hostile input.

Every body the gateway parses or writes goes through these two functions, so the ways JSON can
fail on what a caller sent are handled once: nesting deep enough to exhaust the recursion
limit, lone UTF-16 surrogates (``"\\ud800"``) that Python decodes into a ``str`` but cannot
encode as UTF-8, and the non-JSON tokens ``NaN``, ``Infinity`` and ``-Infinity`` (or numbers
too large for a double), which the standard library accepts and nothing else does.

msgspec's C reader and writer do the work: about a third of the instructions of the standard
library's for a chat request, and a seventh to write a Messages body (docs/performance.md).
What they cannot take (lone surrogates, BOMs and other encodings, numbers out of a double's
range, keys that are not strings) goes to the standard library's own C scanner and encoder,
built once, which decide it as ``json.loads`` and ``json.dumps`` would. Values read are exactly
``json.loads``' (integers of any size stay exact); text written is compact ``json.dumps``
output but for the spelling of some floats (``1e16`` for ``1e+16``), the same number.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import math
import re
from typing import Any

import msgspec

__all__ = ["dumps", "loads"]

_fast_decode = msgspec.json.Decoder().decode
_fast_encode = msgspec.json.Encoder().encode


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON value (JSON has no NaN or Infinity)")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:20]} is too large for a double")
    return value


_decoder = json.JSONDecoder(parse_constant=_not_json, parse_float=_finite)
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
    """``json.loads`` that raises only :class:`ValueError` (bad JSON, bad UTF-8, too deep, NaN
    or Infinity)."""
    try:
        return _fast_decode(raw)
    except ValueError:
        pass  # bad, or beyond msgspec (a DecodeError; a UnicodeError on a lone surrogate)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return _slow_loads(raw)


def _slow_loads(raw: bytes | str) -> Any:
    try:
        if isinstance(raw, bytes):
            if not raw or raw[0] in _NOT_PLAIN_UTF8 or raw[1:2] == b"\x00":
                # What it detects and decodes, it decides.
                return json.loads(raw, parse_constant=_not_json, parse_float=_finite)
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

    Raises :class:`ValueError` for data nested too deeply to encode, :class:`TypeError` for what
    JSON cannot hold. A NaN or an infinity (which :func:`loads` never returns) is written as
    ``null``.
    """
    try:
        return _fast_encode(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except (TypeError, ValueError):
        pass  # a lone surrogate (UnicodeEncodeError), a key that is not a string
    try:
        try:
            return "".join(_encode(data)).encode()
        except UnicodeEncodeError:
            # Only strings a caller sent can hold a lone surrogate; escaping them (ensure_ascii)
            # writes back exactly the escape the caller used, and is valid UTF-8.
            return "".join(_encode_ascii(data)).encode()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
