"""Pieces both OpenAI-shaped translations to Claude's Messages API share (Chat Completions and
Responses): the thinking budget of a reasoning effort, the JSON answer tool, stop reasons, usage,
errors and small field checks. Content blocks are in ``_content``. Pure functions, no I/O
(docs/claude.md has the tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from ... import _json
from ..._errors import GatewayError

__all__ = [
    "ERROR_STATUS",
    "JSON_TOOL",
    "THINKING_BUDGETS",
    "anthropic_error",
    "chat_usage",
    "error_object",
    "error_status",
    "finish_reason",
    "fit_max_tokens",
    "invalid",
    "is_int",
    "json_tool",
    "positive_int",
    "responses_usage",
    "sampling",
    "text_field",
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


def invalid(message: str, where: str) -> GatewayError:
    """A 400 ``invalid_request`` naming the field (``param``) that is malformed."""
    return GatewayError(400, message, code="invalid_request", param=where)


def is_int(value: Any) -> TypeGuard[int]:
    """An integer that is not a bool (JSON ``true`` is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def text_field(block: Mapping[str, Any], key: str) -> str:
    """A string field of an upstream block ("" when missing or not a string)."""
    value = block.get(key)
    return value if isinstance(value, str) else ""


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
    return value if is_int(value) else 0


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


def responses_usage(usage: Any) -> dict[str, Any] | None:
    """A Responses ``usage`` object from a Messages ``usage`` (None when there is none); cache
    writes are reported too, as ``cache_write_tokens``."""
    if not isinstance(usage, Mapping):
        return None
    prompt, output, cached, reasoning = usage_counts(usage)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": cached,
            "cache_write_tokens": _count(usage, "cache_creation_input_tokens"),
        },
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output,
    }


def positive_int(body: Mapping[str, Any], field: str) -> int | None:
    """``body[field]`` checked to be a positive integer (None when absent)."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid(f"{field} must be a positive integer.", field)
    return value


def _number(body: Mapping[str, Any], field: str) -> float | int | None:
    value = body.get(field)
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
        raise invalid(f"{field} must be a number.", field)
    return value


def sampling(body: Mapping[str, Any], *, thinking: bool) -> dict[str, Any]:
    """The Messages sampling fields for a request's ``temperature``, ``top_p`` and ``top_k``
    (both translations; each is checked even when left out).

    Current Claude models refuse ``temperature`` and ``top_p`` together, and ``temperature`` is
    the one OpenAI callers mean, so ``top_p`` goes only alone; with thinking on Claude refuses
    sampling changes (``temperature`` may only be 1), so all are left out
    (docs/claude.md, "Sampling").
    """
    temperature = _number(body, "temperature")
    top_p = _number(body, "top_p")
    top_k = positive_int(body, "top_k")
    if thinking:
        return {}
    out: dict[str, Any] = {}
    if temperature is not None:
        out["temperature"] = temperature
    elif top_p is not None:
        out["top_p"] = top_p
    if top_k is not None:
        out["top_k"] = top_k
    return out


def thinking_for_effort(effort: Any, *, where: str) -> dict[str, Any] | None:
    """The Messages ``thinking`` for an OpenAI reasoning effort; None for ``none``."""
    if effort == "none":
        return None
    budget = THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        choices = ", ".join(["none", *THINKING_BUDGETS])
        raise invalid(f"{where} must be one of {choices}; got {effort!r}.", where)
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
        raise invalid(f"{where} must be a JSON Schema object.", where)
    if schema.get("type", "object") != "object":
        raise invalid(
            f"{where} must describe an object at its root (type: object); Claude's structured "
            "answers are tool inputs, which are objects.",
            where,
        )
    return {
        "name": JSON_TOOL,
        "description": description or "Give the final answer as JSON matching this schema.",
        "input_schema": {"type": "object", **schema},
    }
