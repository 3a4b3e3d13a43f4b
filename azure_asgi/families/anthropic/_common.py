"""Pieces both OpenAI-shaped translations to Claude's Messages API share (Chat Completions and
Responses): content blocks from OpenAI parts, the thinking budget of a reasoning effort, stop
reasons, usage and errors. Pure functions, no I/O (docs/claude.md has the tables).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ... import _json
from ..._errors import GatewayError

__all__ = [
    "ERROR_STATUS",
    "JSON_TOOL",
    "THINKING_BUDGETS",
    "anthropic_error",
    "chat_usage",
    "document_block",
    "error_object",
    "error_status",
    "finish_reason",
    "fit_max_tokens",
    "image_block",
    "json_tool",
    "thinking_for_effort",
    "usage_counts",
]

#: The HTTP status of each Anthropic error type (the Messages API's own pairs).
ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_TYPE_OF_STATUS = {status: kind for kind, status in ERROR_STATUS.items()}

#: ``budget_tokens`` for each OpenAI ``reasoning_effort``; ``none`` turns thinking off.
#: 1024 is the Messages API's minimum; each step roughly doubles (docs/claude.md, "Thinking").
THINKING_BUDGETS: Mapping[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 32768,
}

#: The forced tool that carries a structured answer (``response_format`` json_schema /
#: json_object): its input becomes the message's content. Named so no caller tool collides.
JSON_TOOL = "azure_asgi_json_response"

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def error_status(anthropic_type: str) -> int:
    """The HTTP status for an Anthropic error type; 502 for a type the API does not document."""
    return ERROR_STATUS.get(anthropic_type, 502)


def error_object(error: Any, status: int) -> dict[str, Any]:
    """The contract's error object from an Anthropic ``error`` object (``{"type", "message"}``),
    its type kept in ``type`` and ``code`` so callers can tell overload from throttling."""
    fallback = _TYPE_OF_STATUS.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    kind = fallback
    message = ""
    if isinstance(error, Mapping):
        if isinstance(error.get("type"), str) and error["type"]:
            kind = error["type"]
        if isinstance(error.get("message"), str):
            message = error["message"]
    if not message:
        message = f"The Claude deployment answered HTTP {status} ({kind}) without a message."
    return {"message": message, "type": kind, "code": kind, "param": None}


def anthropic_error(status: int, body: bytes) -> dict[str, Any]:
    """The contract's error object for an Anthropic error body
    (``{"type": "error", "error": {"type": ..., "message": ...}}``), keeping its status's
    meaning when the body is not JSON (a proxy's HTML page, an empty body)."""
    try:
        parsed = _json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping) and isinstance(parsed.get("error"), Mapping):
        return error_object(parsed["error"], status)
    text = body[:500].decode("utf-8", "replace").strip()
    obj = error_object(None, status)
    if text:
        obj["message"] = f"The Claude deployment answered HTTP {status}: {text}"
    return obj


def finish_reason(stop_reason: Any) -> str:
    """OpenAI's ``finish_reason`` for a Messages ``stop_reason``."""
    if stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return "length"
    if stop_reason == "tool_use":
        return "tool_calls"
    if stop_reason == "refusal":
        return "content_filter"
    return "stop"  # end_turn, stop_sequence, pause_turn (and anything newer)


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_counts(usage: Mapping[str, Any] | None) -> tuple[int, int, int, int]:
    """``(prompt, completion, cached, reasoning)`` token counts of a Messages ``usage``.

    Anthropic counts cache reads and writes apart from ``input_tokens``; OpenAI's prompt
    tokens include every input token, cached ones among them, so the three are added.
    """
    if not usage:
        return 0, 0, 0, 0
    cached = _count(usage, "cache_read_input_tokens")
    prompt = _count(usage, "input_tokens") + cached + _count(usage, "cache_creation_input_tokens")
    details = usage.get("output_tokens_details")
    reasoning = _count(details, "thinking_tokens") if isinstance(details, Mapping) else 0
    return prompt, _count(usage, "output_tokens"), cached, reasoning


def chat_usage(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """A Chat Completions ``usage`` object from a Messages ``usage``."""
    prompt, completion, cached, reasoning = usage_counts(usage)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _invalid(message: str, where: str) -> GatewayError:
    return GatewayError(400, message, code="invalid_request", param=where)


def _data_url(url: str, where: str) -> tuple[str, str]:
    """``(media_type, base64 data)`` of a ``data:`` URL; only base64 ones carry binary data."""
    head, sep, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if not sep or encoding.lower() != "base64" or not media_type:
        raise _invalid(
            f"{where} is a data: URL that is not base64 with a media type; send "
            "'data:<media type>;base64,<data>'.",
            where,
        )
    return media_type.strip().lower(), data


def image_block(url: Any, *, where: str) -> dict[str, Any]:
    """A Messages ``image`` block for an OpenAI image URL: ``data:`` URLs become a base64
    source, http(s) URLs a ``url`` source (Claude fetches them itself)."""
    if not isinstance(url, str) or not url:
        raise _invalid(f"{where} must be an image URL (https:// or a data: URL).", where)
    if url[:5].lower() == "data:":
        media_type, data = _data_url(url, where)
        if media_type not in _IMAGE_TYPES:
            raise _invalid(
                f"{where} is {media_type}; Claude reads images as JPEG, PNG, GIF or WebP.", where
            )
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    elif url[:8].lower() == "https://" or url[:7].lower() == "http://":
        source = {"type": "url", "url": url}
    else:
        raise _invalid(f"{where} must be an https:// or data: URL.", where)
    return {"type": "image", "source": source}


def document_block(
    file_data: Any, *, where: str, filename: Any = None, file_id: Any = None
) -> dict[str, Any]:
    """A Messages ``document`` block for an OpenAI file part: a PDF (or plain text) given inline
    as a data URL or bare base64. A ``file_id`` is refused: Claude on Foundry has no Files API."""
    if file_id is not None:
        raise GatewayError(
            400,
            f"{where}.file_id: Claude deployments cannot read uploaded files (Foundry has no "
            "Files API for Claude); send the PDF inline as file_data "
            "('data:application/pdf;base64,...').",
            code="unsupported_parameter",
            param=f"{where}.file_id",
        )
    if not isinstance(file_data, str) or not file_data:
        raise _invalid(
            f"{where}.file_data must be a base64 PDF or a data: URL.", f"{where}.file_data"
        )
    if file_data[:5].lower() == "data:":
        media_type, data = _data_url(file_data, f"{where}.file_data")
    else:
        media_type, data = "application/pdf", file_data  # OpenAI's own default for bare data
    if media_type == "application/pdf":
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    elif media_type == "text/plain":
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid(
                f"{where}.file_data is not base64 UTF-8 text.", f"{where}.file_data"
            ) from None
        source = {"type": "text", "media_type": media_type, "data": text}
    else:
        raise _invalid(
            f"{where}.file_data is {media_type}; Claude reads PDF and plain-text documents.",
            f"{where}.file_data",
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    if isinstance(filename, str) and filename:
        block["title"] = filename
    return block


def thinking_for_effort(effort: Any, *, where: str) -> dict[str, Any] | None:
    """The Messages ``thinking`` for an OpenAI reasoning effort; None for ``none``."""
    if effort == "none":
        return None
    budget = THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        choices = ", ".join(["none", *THINKING_BUDGETS])
        raise _invalid(f"{where} must be one of {choices}; got {effort!r}.", where)
    return {"type": "enabled", "budget_tokens": budget}


def fit_max_tokens(max_tokens: int, thinking: Any, default: int) -> int:
    """``max_tokens`` raised to ``budget_tokens + default`` when it does not exceed the thinking
    budget: the Messages API requires ``max_tokens > budget_tokens``, and the caller's limit
    was meant for the answer (docs/claude.md, "Thinking")."""
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool) and max_tokens <= budget:
            return budget + default
    return max_tokens


def json_tool(schema: Any, *, description: str | None, where: str) -> dict[str, Any]:
    """The forced tool that makes Claude answer with JSON matching ``schema``."""
    if not isinstance(schema, Mapping):
        raise _invalid(f"{where} must be a JSON Schema object.", where)
    if schema.get("type", "object") != "object":
        raise _invalid(
            f"{where} must describe an object at its root (type: object); Claude's structured "
            "answers are tool inputs, which are objects.",
            where,
        )
    return {
        "name": JSON_TOOL,
        "description": description or "Give the final answer as JSON matching this schema.",
        "input_schema": {"type": "object", **schema},
    }
