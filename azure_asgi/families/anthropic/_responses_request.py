"""Responses request -> Messages API body (:func:`responses_to_messages`): which fields are
translated, dropped or refused, limits, reasoning as thinking, and the pieces the input and
tools modules build. Pure, no I/O (docs/claude.md, "Responses API").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import fit_max_tokens, is_int, sampling, thinking_for_effort
from ._responses_input import conversation, invalid_param, unsupported_param
from ._responses_tools import tools_and_choice

__all__ = ["responses_to_messages"]

#: Fields that change nothing on Claude (docs/claude.md lists why): accepted and not sent.
_DROPPED = frozenset(
    {
        "access_programs",
        "background_options",
        "image",
        "max_tool_calls",
        "metadata",
        "model",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "store",
        "stream_options",
        "truncation",
    }
)
#: Fields refused whenever set (not None), with the fix the message gives.
_STATEFUL = (
    "Claude deployments keep no server-side state: send the whole conversation in `input` "
    "(earlier output items included) instead."
)
_REFUSED = {
    "previous_response_id": _STATEFUL,
    "conversation": _STATEFUL,
    "prompt": "Stored prompts are not available for Claude deployments: send the prompt's "
    "text as `instructions` and `input`.",
    "context_management": "Server-side context compaction is not available for Claude "
    "deployments: remove `context_management`.",
    "moderation": "Moderation is not available for Claude deployments: remove `moderation`.",
}
_TRANSLATED = frozenset(
    {
        "background",
        "include",
        "input",
        "instructions",
        "max_output_tokens",
        "parallel_tool_calls",
        "reasoning",
        "stream",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)
#: The one ``include`` value Claude can honour: reasoning items always carry it.
_INCLUDABLE = frozenset({"reasoning.encrypted_content"})


def responses_to_messages(
    body: Mapping[str, Any], deployment: str, *, max_tokens: int
) -> dict[str, Any]:
    """A Responses ``POST /responses`` body -> a Messages API body (``model=deployment``).

    ``max_tokens`` is the default when the caller sets no ``max_output_tokens``. ``stream`` is
    kept. Raises :class:`GatewayError` 400 ``unsupported_parameter`` (``param`` naming the
    field) for what Claude cannot do and 400 ``invalid_request`` for malformed input.
    """
    if not isinstance(body, Mapping):
        raise invalid_param(None, "The request body must be a JSON object.")
    _check_fields(body)
    system, messages = conversation(body)
    out: dict[str, Any] = {"model": deployment, "max_tokens": _max_tokens(body, max_tokens)}
    out["messages"] = messages
    if system:
        out["system"] = system
    thinking = _thinking(body.get("reasoning"))
    tools, choice = tools_and_choice(body, thinking=thinking is not None)
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
    if thinking is not None:
        out["thinking"] = thinking
        # Claude counts thinking inside max_tokens and wants it above the budget; the caller's
        # figure stays what the visible answer may use (docs/claude.md, "Thinking").
        out["max_tokens"] = fit_max_tokens(out["max_tokens"], thinking, out["max_tokens"])
    out.update(sampling(body, thinking=thinking is not None))
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    stream = body.get("stream")
    if stream is not None:
        if not isinstance(stream, bool):
            raise invalid_param("stream", "`stream` must be true or false.")
        out["stream"] = stream
    return out


def _check_fields(body: Mapping[str, Any]) -> None:
    for name, value in body.items():
        if name in _TRANSLATED or name in _DROPPED:
            continue
        if name in _REFUSED:
            if value is None or (name == "context_management" and value == []):
                continue
            raise unsupported_param(name, _REFUSED[name])
        raise unsupported_param(
            name,
            f"Claude deployments do not take `{name}`: the gateway translates this request to "
            "Claude's Messages API, which has no equivalent. Remove the field.",
        )
    if body.get("background") is True:
        raise unsupported_param(
            "background", "Background responses are not available for Claude deployments."
        )
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            raise invalid_param("include", "`include` must be a list of strings.")
        for value in include:
            if value not in _INCLUDABLE:
                raise unsupported_param(
                    "include",
                    f"Claude deployments cannot include {value!r}; only "
                    "'reasoning.encrypted_content' (always included) is accepted.",
                )
    top_logprobs = body.get("top_logprobs")
    if top_logprobs not in (None, 0):
        raise unsupported_param("top_logprobs", "Claude does not return log probabilities.")


def _max_tokens(body: Mapping[str, Any], default: int) -> int:
    value = body.get("max_output_tokens")
    if value is None:
        return default
    if not is_int(value) or value < 1:
        raise invalid_param("max_output_tokens", "`max_output_tokens` must be a positive integer.")
    return int(value)


def _thinking(reasoning: Any) -> dict[str, Any] | None:
    """The Messages ``thinking`` for ``reasoning.effort`` (the budgets chat uses too)."""
    if reasoning is None:
        return None
    if not isinstance(reasoning, Mapping):
        raise invalid_param("reasoning", '`reasoning` must be an object such as {"effort": "low"}.')
    effort = reasoning.get("effort")
    if effort is None:
        return None
    return thinking_for_effort(effort, where="reasoning.effort")
