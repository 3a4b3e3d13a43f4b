"""Chat Completions request -> Messages API body (:func:`chat_to_messages`): the fields
refused, dropped and translated, tools and ``tool_choice``, ``response_format`` as a forced
tool, thinking, limits and sampling. Pure, no I/O (docs/claude.md, "Chat Completions → Messages").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._errors import GatewayError
from ._chat_messages import chat_turns, unsupported
from ._common import (
    JSON_TOOL,
    fit_max_tokens,
    invalid,
    json_tool,
    positive_int,
    sampling,
    thinking_for_effort,
)

__all__ = ["chat_to_messages"]

#: OpenAI fields with no effect worth refusing a request for: left out of the Messages body.
_DROPPED = frozenset(
    {
        "model",
        "stream_options",  # the adapter reads it (usage chunk)
        "seed",
        "service_tier",
        "store",
        "metadata",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "safety_identifier",  # used as metadata.user_id when `user` is absent
        "verbosity",
        "fallbacks",  # the gateway's own fields, in case they were not taken out
        "endpoint",
    }
)
#: Fields translated below (everything else is refused).
_HANDLED = frozenset(
    {
        "messages",
        "stream",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "temperature",
        "top_p",
        "top_k",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "thinking",
        "output_config",
        "response_format",
        "n",
        "logprobs",
        "top_logprobs",
        "modalities",
        "logit_bias",
        "frequency_penalty",
        "presence_penalty",
    }
)
#: ``output_config.effort`` for each ``reasoning_effort`` when thinking is adaptive.
_ADAPTIVE_EFFORT = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


#: Fields that can never be refused: translated or dropped, whatever their value. A body of
#: only these (the usual one) is checked with one set operation.
_NEVER_REFUSED = (_HANDLED | _DROPPED) - {
    "n",
    "logprobs",
    "top_logprobs",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "modalities",
}


def _refuse_untranslatable(body: Mapping[str, Any]) -> None:
    """400 for each field whose meaning the Messages API cannot honour (when set to more than
    its neutral value)."""
    if _NEVER_REFUSED.issuperset(body):
        return
    n = body.get("n")
    if n not in (None, 1):
        raise unsupported("n", "Claude writes one choice per request; send n requests.")
    for field in ("logprobs", "top_logprobs"):
        if body.get(field):
            raise unsupported(field, "the Messages API returns no log probabilities.")
    for field in ("frequency_penalty", "presence_penalty"):
        if body.get(field) not in (None, 0, 0.0):
            raise unsupported(field, "the Messages API has no repetition penalties; remove it.")
    if body.get("logit_bias"):
        raise unsupported("logit_bias", "the Messages API has no token biases; remove it.")
    modalities = body.get("modalities")
    if modalities is not None and (
        not isinstance(modalities, list) or any(m != "text" for m in modalities)
    ):
        raise unsupported("modalities", "Claude answers with text only.")
    for field in ("audio", "prediction", "web_search_options", "moderation"):
        if body.get(field) is not None:
            raise unsupported(field, "the Messages API has no equivalent; remove it.")
    for field in ("functions", "function_call"):
        if body.get(field) is not None:
            raise unsupported(
                field, "use tools and tool_choice (the legacy form is not translated)."
            )
    for field, value in body.items():
        if field not in _HANDLED and field not in _DROPPED and value is not None:
            raise unsupported(
                str(field), "it is not a Chat Completions parameter the gateway translates."
            )


# --- tools, thinking, limits -----------------------------------------------------------------


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise invalid("tools must be a list of function tools.", "tools")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            raise GatewayError(
                400,
                f"{where}.type {kind!r}: only function tools translate to Claude.",
                code="unsupported_parameter",
                param=f"{where}.type",
            )
        function = tool.get("function")
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise invalid(f"{where}.function.name must be a string.", f"{where}.function.name")
        if function["name"] == JSON_TOOL:
            raise invalid(f"{where}: the name {JSON_TOOL} is reserved by the gateway.", where)
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(schema, Mapping):
            raise invalid(f"{where}.function.parameters must be a JSON Schema object.", where)
        translated: dict[str, Any] = {"name": function["name"]}
        if isinstance(function.get("description"), str):
            translated["description"] = function["description"]
        translated["input_schema"] = dict(schema)
        out.append(translated)
    return out


def _tool_choice(choice: Any) -> dict[str, Any]:
    if choice in (None, "auto"):
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return {"type": "tool", "name": function["name"]}
        raise invalid("tool_choice.function.name must be a string.", "tool_choice")
    raise unsupported(
        "tool_choice", "use auto, required, none or {'type': 'function', 'function': {...}}."
    )


def _response_format(fmt: Any) -> dict[str, Any] | None:
    """The forced JSON tool for ``response_format`` (None for text). A forced tool works on
    every Claude model Foundry serves, with no beta header (docs/claude.md)."""
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return json_tool({"type": "object"}, description=None, where="response_format")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, Mapping):
            raise invalid("response_format.json_schema must be an object.", "response_format")
        description = spec.get("description")
        return json_tool(
            spec.get("schema") or {"type": "object"},
            description=description if isinstance(description, str) else None,
            where="response_format.json_schema.schema",
        )
    raise invalid(
        "response_format.type must be text, json_object or json_schema.", "response_format"
    )


def _stop(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return [s for s in stop if s]
    raise invalid("stop must be a string or a list of strings.", "stop")


def _thinking(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Anthropic's own ``thinking`` (passed as is) wins over ``reasoning_effort``."""
    if body.get("thinking") is not None:
        if not isinstance(body["thinking"], Mapping):
            raise invalid("thinking must be an object (Anthropic's thinking config).", "thinking")
        return dict(body["thinking"])
    if body.get("reasoning_effort") is not None:
        return thinking_for_effort(body["reasoning_effort"], where="reasoning_effort")
    return None


def _output_config(body: Mapping[str, Any], thinking: dict[str, Any] | None) -> dict[str, Any]:
    """Anthropic's ``output_config`` as given; with adaptive thinking (which takes no budget)
    ``reasoning_effort`` becomes its ``effort``, so newer models that only think adaptively
    still follow the caller's effort."""
    given = body.get("output_config")
    if given is not None and not isinstance(given, Mapping):
        raise invalid(
            "output_config must be an object (Anthropic's output config).", "output_config"
        )
    config = dict(given or {})
    effort = body.get("reasoning_effort")
    if thinking is not None and thinking.get("type") == "adaptive" and "effort" not in config:
        if effort in _ADAPTIVE_EFFORT:
            config["effort"] = _ADAPTIVE_EFFORT[effort]
        elif effort not in (None, "none"):
            thinking_for_effort(effort, where="reasoning_effort")  # raises for unknown values
    return config


#: The fields of the usual request: text messages, a limit, a temperature.
_PLAIN_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "user",
    }
)
_PLAIN_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_NUMBERS = (int, float)


def _plain_chat(body: Mapping[str, Any], deployment: str, max_tokens: int) -> dict[str, Any] | None:
    """:func:`chat_to_messages` for the usual request, in one pass: only the fields of
    :data:`_PLAIN_FIELDS`, each of the right type, and messages that are a role and a
    non-empty string, ending with the user's. None for anything else, which the general path
    then translates or refuses; where this answers, the answer is the general path's (tested).
    """
    if not _PLAIN_FIELDS.issuperset(body):
        return None
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        return None
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    last = None
    try:
        for message in messages:
            if type(message) is not dict or len(message) != 2:
                return None
            content = message["content"]
            kind = _PLAIN_ROLES[message["role"]]  # KeyError, or TypeError for a list or dict
            if type(content) is not str or not content:
                return None
            block = {"type": "text", "text": content}
            if kind == last:  # never "system": adjacent same-role turns merged
                turns[-1]["content"].append(block)
            elif kind == "system":
                system.append(block)
            else:
                turns.append({"role": kind, "content": [block]})
                last = kind
    except (KeyError, TypeError):
        return None  # not a role and a content, or not a role translated here
    if last != "user" or turns[0]["role"] != "user":
        return None  # an opening greeting or a prefill: the general path's rules
    # Both limits are checked; max_completion_tokens wins.
    limit = body.get("max_completion_tokens")
    other = body.get("max_tokens")
    if limit is None:
        limit = other
    elif other is not None and (type(other) is not int or other < 1):
        return None
    if limit is not None and (type(limit) is not int or limit < 1):
        return None
    temperature = body.get("temperature")
    top_p = body.get("top_p")
    if (temperature is not None and type(temperature) not in _NUMBERS) or (
        top_p is not None and type(top_p) not in _NUMBERS
    ):
        return None
    out: dict[str, Any] = {"model": deployment, "max_tokens": limit or max_tokens}
    if system:
        out["system"] = system
    out["messages"] = turns
    if temperature is not None:
        out["temperature"] = temperature
    elif top_p is not None:
        out["top_p"] = top_p
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("stream"):
        out["stream"] = True
    return out


def chat_to_messages(
    body: Mapping[str, Any], deployment: str, *, max_tokens: int
) -> dict[str, Any]:
    """A Chat Completions request body -> the Messages API body (``model`` = ``deployment``,
    ``stream`` kept).

    ``max_tokens`` is the default when the caller gave neither ``max_completion_tokens`` nor
    ``max_tokens``. Raises :class:`GatewayError` 400 ``unsupported_parameter`` (``param`` the
    field) for fields with no Messages equivalent and ``invalid_request`` (``param`` e.g.
    ``messages[2].tool_calls[0].function.arguments``) for malformed input. No OpenAI-only
    field reaches the result: the Messages API refuses unknown fields.
    """
    plain = _plain_chat(body, deployment, max_tokens)
    if plain is not None:
        return plain
    return general_chat_to_messages(body, deployment, max_tokens=max_tokens)


def general_chat_to_messages(
    body: Mapping[str, Any], deployment: str, *, max_tokens: int
) -> dict[str, Any]:
    """:func:`chat_to_messages` for any request, the usual one too (tests compare the two)."""
    _refuse_untranslatable(body)
    turns = chat_turns(body.get("messages"))
    out: dict[str, Any] = {"model": deployment}
    thinking = _thinking(body)
    thinks = thinking is not None and thinking.get("type") != "disabled"
    limit = positive_int(body, "max_completion_tokens") or positive_int(body, "max_tokens")
    out["max_tokens"] = fit_max_tokens(limit or max_tokens, thinking, max_tokens)

    tools = _tools(body["tools"]) if body.get("tools") else []
    choice = _tool_choice(body.get("tool_choice"))
    if thinks and choice["type"] in ("any", "tool"):
        raise unsupported(
            "tool_choice",
            "with thinking on, Claude only allows tool_choice auto or none; drop "
            "reasoning_effort/thinking or let the model choose.",
        )
    answer_tool = _response_format(body["response_format"]) if body.get("response_format") else None
    if answer_tool is not None:
        if thinks:
            # Forced tool use is refused with thinking: the model is asked to use the tool.
            if choice["type"] == "none":
                choice = {"type": "auto"}
            turns.system.append(
                {"type": "text", "text": f"Give your final answer by calling {JSON_TOOL}."}
            )
        elif choice["type"] in ("auto", "any"):
            # With the caller's tools, the model calls one of them or answers through the tool.
            choice = {"type": "any"} if tools else {"type": "tool", "name": JSON_TOOL}
        elif choice["type"] == "none":
            choice = {"type": "tool", "name": JSON_TOOL}
        tools.append(answer_tool)
    if body.get("parallel_tool_calls") is False and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True

    if turns.system:
        out["system"] = turns.system
    out["messages"] = turns.turns
    if tools:
        out["tools"] = tools
        if choice != {"type": "auto"}:
            out["tool_choice"] = choice
    if thinking is not None:
        out["thinking"] = thinking
    output_config = _output_config(body, thinking)
    if output_config:
        out["output_config"] = output_config
    stop = _stop(body.get("stop"))
    if stop:
        out["stop_sequences"] = stop
    out.update(sampling(body, thinking=thinks))
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("stream"):
        out["stream"] = True
    return out
