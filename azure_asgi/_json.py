"""The gateway's one JSON reader and one JSON writer, both safe on hostile input.

Every body the gateway parses or writes goes through these two functions, so the ways JSON can
fail on what a caller sent are handled once: nesting deep enough to exhaust the recursion
limit, lone UTF-16 surrogates (``"\\ud800"``) that Python decodes into a ``str`` but cannot
encode as UTF-8, and the non-JSON tokens ``NaN``, ``Infinity`` and ``-Infinity`` (or numbers
too large for a double), which the standard library accepts and nothing else does.

msgspec's C reader and writer do the work: about a third of the instructions of the standard
library's for a chat request, and a seventh to write a Messages body (docs/performance.md).
What they cannot take (lone surrogates, BOMs and other encodings, numbers out of a double's
range, keys that are not strings, and bad JSON, for its error message) goes to ``json.loads``
and ``json.dumps``, which decide it, NaN and Infinity refused. Values read are exactly
``json.loads``' (integers of any size stay exact); text written is compact ``json.dumps``
output but for the spelling of some floats (``1e16`` for ``1e+16``), the same number.
"""

from __future__ import annotations

import json
import math
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


def loads(raw: bytes | str) -> Any:
    """``json.loads`` that raises only :class:`ValueError` (bad JSON, bad UTF-8, too deep, NaN
    or Infinity)."""
    try:
        try:
            return _fast_decode(raw)
        except ValueError:
            pass  # bad, or beyond msgspec (a DecodeError; a UnicodeError on a lone surrogate)
        # What it detects and decodes (surrogatepass), it decides.
        return json.loads(raw, parse_constant=_not_json, parse_float=_finite)
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
        try:
            return _fast_encode(data)
        except (TypeError, ValueError):
            pass  # a lone surrogate (UnicodeEncodeError), a key that is not a string
        # No cycle check: the data is always a tree (parsed JSON, or built here); a cycle still
        # ends as RecursionError, reported as nesting too deep.
        try:
            return json.dumps(
                data, separators=(",", ":"), ensure_ascii=False, check_circular=False
            ).encode()
        except UnicodeEncodeError:
            # Only strings a caller sent can hold a lone surrogate; escaping them (ensure_ascii)
            # writes back exactly the escape the caller used, and is valid UTF-8.
            return json.dumps(data, separators=(",", ":"), check_circular=False).encode()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
