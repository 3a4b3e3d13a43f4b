"""Pure builders of legacy text completions (JSON and SSE) and of embeddings."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._json import json_text
from ._replies import CHOICE_FILTER_RESULTS, PROMPT_FILTER_RESULTS, SYSTEM_FINGERPRINT
from ._text import count_words, pieces, truncate

__all__ = [
    "CompletionReply",
    "completion_events",
    "completion_json",
    "embed",
    "embedding_inputs",
    "plan_completion",
]

_CHUNK_FILTERS = {
    key: CHOICE_FILTER_RESULTS[key] for key in ("hate", "self_harm", "sexual", "violence")
}


@dataclass(frozen=True, slots=True)
class CompletionReply:
    id: str
    created: int
    model: str
    n: int
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _prompt_text(prompt: Any) -> str:
    """The echoed prompt: a string, or the first string of a list (token arrays echo "")."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        return prompt[0]
    return ""


def plan_completion(
    body: Mapping[str, Any], *, seq: int, model: str, created: int
) -> CompletionReply:
    """The deterministic reply to a validated ``/completions`` request: the prompt, echoed."""
    n = body.get("n") or 1
    prompt = _prompt_text(body.get("prompt"))
    text, cut = truncate(prompt, body.get("max_tokens"))
    return CompletionReply(
        id=f"cmpl-emu{seq:08d}",
        created=created,
        model=model,
        n=n,
        text=text,
        finish_reason="length" if cut else "stop",
        prompt_tokens=count_words(prompt),
        completion_tokens=count_words(text) * n,
    )


def _usage(reply: CompletionReply) -> dict[str, int]:
    return {
        "completion_tokens": reply.completion_tokens,
        "prompt_tokens": reply.prompt_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def completion_json(reply: CompletionReply) -> dict[str, Any]:
    """The ``text_completion`` body, with Azure's prompt and choice filter annotations."""
    choices = [
        {
            "content_filter_results": CHOICE_FILTER_RESULTS,
            "finish_reason": reply.finish_reason,
            "index": index,
            "logprobs": None,
            "text": reply.text,
        }
        for index in range(reply.n)
    ]
    return {
        "choices": choices,
        "created": reply.created,
        "id": reply.id,
        "model": reply.model,
        "object": "text_completion",
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": _usage(reply),
    }


def completion_events(reply: CompletionReply, *, include_usage: bool = False) -> list[bytes]:
    """The SSE events of a streamed completion, ``data: [DONE]`` last.

    As Azure sends them: a first chunk with empty ``choices`` and the prompt's filter
    results, one chunk per word piece and choice, a finish chunk per choice, the usage chunk
    when ``stream_options.include_usage`` is set, then ``[DONE]``.
    """
    head: dict[str, Any] = {
        "created": reply.created,
        "id": reply.id,
        "model": reply.model,
        "object": "text_completion",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if include_usage:
        head["usage"] = None

    def event(obj: Any) -> bytes:
        return f"data: {json_text(obj)}\n\n".encode()

    def chunk(index: int, text: str, finish: str | None, filters: Any) -> bytes:
        choice = {
            "content_filter_results": filters,
            "finish_reason": finish,
            "index": index,
            "logprobs": None,
            "text": text,
        }
        return event({"choices": [choice], **head})

    first = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
    events = [event({**first, "prompt_filter_results": PROMPT_FILTER_RESULTS})]
    for piece in pieces(reply.text):
        events.extend(chunk(index, piece, None, _CHUNK_FILTERS) for index in range(reply.n))
    events.extend(chunk(index, "", reply.finish_reason, {}) for index in range(reply.n))
    if include_usage:
        events.append(event({**head, "choices": [], "usage": _usage(reply)}))
    events.append(b"data: [DONE]\n\n")
    return events


def embedding_inputs(value: Any) -> list[tuple[str, int]] | None:
    """``(key, tokens)`` per input: a string, strings, a token array or token arrays."""

    def tokens(item: Any) -> bool:
        return isinstance(item, list) and bool(item) and all(_is_int(t) for t in item)

    if isinstance(value, str):
        return [(value, count_words(value))]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(item, str) for item in value):
        return [(item, count_words(item)) for item in value]
    if tokens(value):
        return [(" ".join(map(str, value)), len(value))]
    if all(tokens(item) for item in value):
        return [(" ".join(map(str, item)), len(item)) for item in value]
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def embed(key: str, dimensions: int) -> tuple[list[float], str]:
    """A unit vector derived from ``key``: as floats, and as base64 little-endian float32.

    The floats are float32-exact, so decoding the base64 form gives back the same numbers.
    """
    raw: list[float] = []
    block = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(f"{block}:{key}".encode()).digest()
        raw.extend(word / 2**31 - 1.0 for word in struct.unpack("<8I", digest))
        block += 1
    del raw[dimensions:]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(x / norm for x in raw))
    floats = list(struct.unpack(f"<{dimensions}f", packed))
    return floats, base64.b64encode(packed).decode()
