"""Chat Completions <-> Claude Messages: the request, the JSON answer and the event stream.

Pure translation, no I/O: :func:`chat_to_messages` builds the Messages body the Foundry
deployment receives, :func:`messages_to_chat` turns its answer into a ``chat.completion`` and
:class:`ChatStream` its event stream into ``chat.completion.chunk`` events, one event at a time.
The field-by-field mapping, and what is refused or dropped, is in docs/claude.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _json
from ..._errors import GatewayError
from ..._sse import SSEEvent, encode_event
from ._common import (
    JSON_TOOL,
    chat_usage,
    document_block,
    error_object,
    error_status,
    finish_reason,
    fit_max_tokens,
    image_block,
    json_tool,
    thinking_for_effort,
)

__all__ = ["ChatStream", "chat_to_messages", "messages_to_chat"]

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
#: Roles whose text goes to the top-level ``system``.
_SYSTEM_ROLES = ("system", "developer")


def _invalid(message: str, where: str) -> GatewayError:
    return GatewayError(400, message, code="invalid_request", param=where)


def _unsupported(field: str, why: str) -> GatewayError:
    return GatewayError(
        400,
        f"'{field}' is not supported for Claude deployments: {why}",
        code="unsupported_parameter",
        param=field,
    )


def _refuse_untranslatable(body: Mapping[str, Any]) -> None:
    """400 for each field whose meaning the Messages API cannot honour (when set to more than
    its neutral value)."""
    n = body.get("n")
    if n not in (None, 1):
        raise _unsupported("n", "Claude writes one choice per request; send n requests.")
    for field in ("logprobs", "top_logprobs"):
        if body.get(field):
            raise _unsupported(field, "the Messages API returns no log probabilities.")
    for field in ("frequency_penalty", "presence_penalty"):
        if body.get(field) not in (None, 0, 0.0):
            raise _unsupported(field, "the Messages API has no repetition penalties; remove it.")
    if body.get("logit_bias"):
        raise _unsupported("logit_bias", "the Messages API has no token biases; remove it.")
    modalities = body.get("modalities")
    if modalities is not None and (
        not isinstance(modalities, list) or any(m != "text" for m in modalities)
    ):
        raise _unsupported("modalities", "Claude answers with text only.")
    for field in ("audio", "prediction", "web_search_options", "moderation"):
        if body.get(field) is not None:
            raise _unsupported(field, "the Messages API has no equivalent; remove it.")
    for field in ("functions", "function_call"):
        if body.get(field) is not None:
            raise _unsupported(
                field, "use tools and tool_choice (the legacy form is not translated)."
            )
    for field, value in body.items():
        if field not in _HANDLED and field not in _DROPPED and value is not None:
            raise _unsupported(
                str(field), "it is not a Chat Completions parameter the gateway translates."
            )


# --- content --------------------------------------------------------------------------------


def _cache(part: Mapping[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """``cache_control`` kept on the block (OpenAI's ``prompt_cache_breakpoint`` is the same
    idea): prompt caching works through the translation."""
    if part.get("cache_control") is not None:
        block["cache_control"] = part["cache_control"]
    elif part.get("prompt_cache_breakpoint") is not None:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _parts(content: Any, where: str, *, images: bool) -> list[dict[str, Any]]:
    """Messages blocks for OpenAI message content (a string or a list of parts). Empty text is
    left out: the Messages API refuses empty text blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _invalid(f"{where} must be a string or a list of content parts.", where)
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str):
                raise _invalid(f"{at}.{kind} must be a string.", f"{at}.{kind}")
            if text:
                blocks.append(_cache(part, {"type": "text", "text": text}))
        elif kind == "image_url" and images:
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            blocks.append(_cache(part, image_block(url, where=f"{at}.image_url.url")))
        elif kind == "file" and images:
            file = part.get("file")
            if not isinstance(file, Mapping):
                raise _invalid(f"{at}.file must be an object with file_data.", f"{at}.file")
            block = document_block(
                file.get("file_data"),
                where=f"{at}.file",
                filename=file.get("filename"),
                file_id=file.get("file_id"),
            )
            blocks.append(_cache(part, block))
        elif kind == "input_audio":
            raise GatewayError(
                400,
                f"{at}: Claude deployments do not take audio input.",
                code="unsupported_parameter",
                param=at,
            )
        else:
            allowed = "text, image_url or file" if images else "text"
            raise _invalid(f"{at} has type {kind!r}; this message takes {allowed} parts.", at)
    return blocks


def _thinking_blocks(blocks: Any, where: str) -> list[dict[str, Any]]:
    """The signed thinking blocks a caller sends back (what :func:`messages_to_chat` and
    :class:`ChatStream` gave it), as Messages blocks; an accumulated stream's ``index`` dropped."""
    if not isinstance(blocks, list):
        raise _invalid(f"{where} must be a list of thinking blocks.", where)
    out: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        at = f"{where}[{j}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "thinking":
            thinking, signature = block.get("thinking"), block.get("signature")
            if not isinstance(thinking, str) or not isinstance(signature, str):
                raise _invalid(f"{at} needs string thinking and signature fields.", at)
            out.append({"type": "thinking", "thinking": thinking, "signature": signature})
        elif kind == "redacted_thinking":
            if not isinstance(block.get("data"), str):
                raise _invalid(f"{at} needs a string data field.", at)
            out.append({"type": "redacted_thinking", "data": block["data"]})
        else:
            raise _invalid(f"{at} must be a thinking or redacted_thinking block.", at)
    return out


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    if not isinstance(call, Mapping) or not isinstance(call.get("function"), Mapping):
        raise _invalid(f"{where} must be a function tool call.", where)
    if call.get("type", "function") != "function":
        raise GatewayError(
            400,
            f"{where}.type {call.get('type')!r}: only function tool calls translate to Claude.",
            code="unsupported_parameter",
            param=f"{where}.type",
        )
    function = call["function"]
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise _invalid(f"{where}.id must be the tool call's id.", f"{where}.id")
    if not isinstance(function.get("name"), str) or not function["name"]:
        raise _invalid(f"{where}.function.name must be a string.", f"{where}.function.name")
    arguments = function.get("arguments")
    at = f"{where}.function.arguments"
    if arguments in (None, ""):
        parsed: Any = {}
    elif not isinstance(arguments, str):
        raise _invalid(f"{at} must be a JSON string.", at)
    else:
        try:
            parsed = _json.loads(arguments)
        except ValueError as exc:
            raise _invalid(
                f"{at} is not valid JSON ({exc}); send the arguments as given.", at
            ) from None
    if not isinstance(parsed, dict):
        raise _invalid(f"{at} must be a JSON object (Claude's tool inputs are objects).", at)
    return {"type": "tool_use", "id": call["id"], "name": function["name"], "input": parsed}


def _tool_result(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    tool_call_id = message.get("tool_call_id")
    if not isinstance(tool_call_id, str) or not tool_call_id:
        raise _invalid(f"{where}.tool_call_id must be a string.", f"{where}.tool_call_id")
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_call_id}
    if isinstance(content, str):
        if content:
            block["content"] = content
    else:
        parts = _parts(content, f"{where}.content", images=False)
        if parts:
            block["content"] = parts
    return block


class _Turns:
    """Messages turns under construction: adjacent same-role turns merged, tool results checked
    against the tool calls they answer (the Messages API refuses unmatched ids)."""

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self._pending: dict[str, str] = {}  # unanswered tool call id -> where it was made

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return  # an empty message says nothing; leaving it out keeps turns valid
        if self.turns and self.turns[-1]["role"] == role:
            self.turns[-1]["content"].extend(blocks)
        else:
            self.turns.append({"role": role, "content": blocks})

    def answer(self, block: dict[str, Any], where: str) -> None:
        if self._pending.pop(block["tool_use_id"], None) is None:
            raise _invalid(
                f"{where}.tool_call_id {block['tool_use_id']!r} answers no tool call of the "
                "assistant message before it.",
                f"{where}.tool_call_id",
            )
        self.add("user", [block])

    def settle(self) -> None:
        """Before a message other than a tool result: every tool call must have its answer."""
        if self._pending:
            ids = ", ".join(sorted(self._pending))
            where = next(iter(self._pending.values()))
            raise _invalid(
                f"{where}: tool call(s) {ids} have no tool message answering them.", where
            )

    def call(self, blocks: list[dict[str, Any]], where: str) -> None:
        self.settle()
        self._pending = {b["id"]: f"{where}.tool_calls" for b in blocks if b["type"] == "tool_use"}
        self.add("assistant", blocks)


def _translate_messages(messages: Any) -> _Turns:
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages must be a non-empty list.", "messages")
    turns = _Turns()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise _invalid(f"{where} must be an object.", where)
        role = message.get("role")
        if role == "tool":
            turns.answer(_tool_result(message, where), where)
            continue
        if role in _SYSTEM_ROLES:
            # The Messages API has one system prompt; system text anywhere joins it, in order.
            turns.system.extend(_parts(message.get("content"), f"{where}.content", images=False))
            continue
        turns.settle()
        if role == "user":
            blocks = _parts(message.get("content"), f"{where}.content", images=True)
        elif role == "assistant":
            if message.get("function_call") is not None:
                raise _unsupported(f"{where}.function_call", "send tool_calls instead.")
            blocks = []
            if message.get("thinking_blocks") is not None:
                blocks = _thinking_blocks(message["thinking_blocks"], f"{where}.thinking_blocks")
            blocks += _parts(message.get("content"), f"{where}.content", images=False)
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                raise _invalid(f"{where}.tool_calls must be a list.", f"{where}.tool_calls")
            blocks += [_tool_use(c, f"{where}.tool_calls[{j}]") for j, c in enumerate(calls)]
            if message.get("cache_control") is not None and blocks:
                blocks[-1]["cache_control"] = message["cache_control"]
            turns.call(blocks, where)
            continue
        else:
            raise _invalid(
                f"{where}.role {role!r} is not one of system, developer, user, assistant, tool.",
                f"{where}.role",
            )
        if message.get("cache_control") is not None and blocks:
            blocks[-1]["cache_control"] = message["cache_control"]
        turns.add("user", blocks)
    turns.settle()
    _finish_turns(turns)
    return turns


def _finish_turns(turns: _Turns) -> None:
    if not turns.turns:
        raise _invalid("messages must hold at least one user message with content.", "messages")
    if turns.turns[0]["role"] != "user":
        # The Messages API starts with a user turn; a chat that opens with the assistant's
        # greeting gets a neutral one (docs/claude.md).
        turns.turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "."}]})
    for turn in turns.turns:
        if turn["role"] == "user":
            # tool_result blocks must open their turn; text the caller sent after them follows.
            content = turn["content"]
            content.sort(key=lambda block: block["type"] != "tool_result")
    last = turns.turns[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
        # A final assistant message is a prefill, and the API refuses one ending in whitespace.
        text = last["content"][-1]["text"].rstrip()
        if text:
            last["content"][-1]["text"] = text
        else:
            last["content"].pop()
            if not last["content"]:
                turns.turns.pop()


# --- tools, thinking, limits -----------------------------------------------------------------


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _invalid("tools must be a list of function tools.", "tools")
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
            raise _invalid(f"{where}.function.name must be a string.", f"{where}.function.name")
        if function["name"] == JSON_TOOL:
            raise _invalid(f"{where}: the name {JSON_TOOL} is reserved by the gateway.", where)
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(schema, Mapping):
            raise _invalid(f"{where}.function.parameters must be a JSON Schema object.", where)
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
        raise _invalid("tool_choice.function.name must be a string.", "tool_choice")
    raise _unsupported(
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
            raise _invalid("response_format.json_schema must be an object.", "response_format")
        description = spec.get("description")
        return json_tool(
            spec.get("schema") or {"type": "object"},
            description=description if isinstance(description, str) else None,
            where="response_format.json_schema.schema",
        )
    raise _invalid(
        "response_format.type must be text, json_object or json_schema.", "response_format"
    )


def _positive_int(body: Mapping[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _invalid(f"{field} must be a positive integer.", field)
    return value


def _number(body: Mapping[str, Any], field: str) -> float | int | None:
    value = body.get(field)
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
        raise _invalid(f"{field} must be a number.", field)
    return value


def _stop(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return [s for s in stop if s]
    raise _invalid("stop must be a string or a list of strings.", "stop")


def _thinking(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Anthropic's own ``thinking`` (passed as is) wins over ``reasoning_effort``."""
    if body.get("thinking") is not None:
        if not isinstance(body["thinking"], Mapping):
            raise _invalid("thinking must be an object (Anthropic's thinking config).", "thinking")
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
        raise _invalid(
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


def _sampling(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    temperature = _number(body, "temperature")
    top_p = _number(body, "top_p")
    if temperature is not None:
        out["temperature"] = temperature
    elif top_p is not None:
        # Current Claude models refuse temperature and top_p together; temperature is the one
        # OpenAI callers mean (docs/claude.md).
        out["top_p"] = top_p
    top_k = _positive_int(body, "top_k")
    if top_k is not None:
        out["top_k"] = top_k
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
    _refuse_untranslatable(body)
    turns = _translate_messages(body.get("messages"))
    out: dict[str, Any] = {"model": deployment}
    thinking = _thinking(body)
    thinks = thinking is not None and thinking.get("type") != "disabled"
    limit = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    out["max_tokens"] = fit_max_tokens(limit or max_tokens, thinking, max_tokens)

    tools = _tools(body["tools"]) if body.get("tools") else []
    choice = _tool_choice(body.get("tool_choice"))
    if thinks and choice["type"] in ("any", "tool"):
        raise _unsupported(
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
    if not thinks:
        # Thinking refuses sampling changes (temperature may only be 1): left out then.
        out.update(_sampling(body))
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("stream"):
        out["stream"] = True
    return out


# --- answers ----------------------------------------------------------------------------------


def _text(block: Mapping[str, Any], key: str) -> str:
    """A string field of an upstream block ("" when missing or not a string)."""
    value = block.get(key)
    return value if isinstance(value, str) else ""


def messages_to_chat(message: Mapping[str, Any], *, model: str, created: int) -> dict[str, Any]:
    """A Messages API response -> a ``chat.completion`` (no ``extra_fields``; the adapter adds
    them). ``model`` is the alias the caller used; the upstream ``id`` is kept."""
    texts: list[str] = []
    thinking: list[str] = []
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    answer: str | None = None
    for block in message.get("content") or []:
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(_text(block, "text"))
        elif kind == "thinking":
            thinking.append(_text(block, "thinking"))
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": _text(block, "thinking"),
                    "signature": _text(block, "signature"),
                }
            )
        elif kind == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": _text(block, "data")})
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            answer = _json.dumps(block.get("input") or {}).decode()
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": _json.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    # A structured answer is the JSON alone: text the model wrote around the tool would spoil it.
    content = answer if answer is not None else "".join(texts) if texts or not calls else None
    chat_message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        chat_message["tool_calls"] = calls
    if thinking:
        chat_message["reasoning_content"] = "".join(thinking)
    if blocks:
        chat_message["thinking_blocks"] = blocks
    reason = finish_reason(message.get("stop_reason"))
    if reason == "tool_calls" and not calls:
        reason = "stop"  # only the JSON tool was called: a finished structured answer
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": chat_message, "finish_reason": reason, "logprobs": None}
        ],
        "usage": chat_usage(message.get("usage")),
    }


# --- the stream -------------------------------------------------------------------------------

_NO_FINISH = b',"finish_reason":null,"logprobs":null}]}'
#: A text delta as the Messages API writes it, around its text's JSON string literal.
_TEXT_HEAD = '{"type":"content_block_delta","index":'
_TEXT_MID = ',"delta":{"type":"text_delta","text":"'
_DONE = b"data: [DONE]\n\n"


def _obj(value: Any) -> dict[str, Any]:
    """An object field of an upstream event; an empty one when it is missing or malformed (a
    translator must not fail on what the upstream sent)."""
    return value if isinstance(value, dict) else {}


def _index(data: dict[str, Any]) -> int:
    index = data.get("index", 0)
    return index if isinstance(index, int) else -1


class _Block:
    """What the stream keeps of the content block in progress: its kind and, for thinking, its
    text until the signature arrives (a thinking block is sent back whole, signed)."""

    __slots__ = ("args", "kind", "parts", "signature", "slot")

    def __init__(self, kind: str, slot: int = 0) -> None:
        self.kind = kind  # text | thinking | tool | json | other
        self.slot = slot  # the tool call's index, or the thinking block's
        self.args = False  # any tool input sent yet
        self.parts: list[str] = []
        self.signature = ""


class ChatStream:
    """Messages SSE -> ``chat.completion.chunk`` SSE, one upstream event at a time (a
    :class:`~azure_asgi.families.StreamTranslator`).

    Text deltas become ``delta.content``, thinking deltas ``delta.reasoning_content``; a
    finished thinking block is sent once more, signed, as ``delta.thinking_blocks`` (indexed,
    so the openai SDK's accumulator collects them) for the caller to send back. Tool calls are
    indexed from 0 as OpenAI does; the gateway's JSON tool streams as ``delta.content``.
    ``[DONE]`` follows ``message_stop`` only.
    """

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        #: True once ``message_stop`` was seen (then :meth:`end` sends ``[DONE]``).
        self.complete = False
        #: The upstream's in-stream ``error`` as ``(status, contract error object)``.
        self.failure: tuple[int, dict[str, Any]] | None = None
        #: The Anthropic ``usage`` so far: message_start's, updated by message_delta's.
        self.usage: dict[str, Any] | None = None
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._id = ""
        self._head = self._chunk_head()
        self._blocks: dict[int, _Block] = {}
        self._tools = 0  # tool calls announced so far
        self._thinking = 0  # thinking blocks sent so far
        self._started = False

    def _chunk_head(self) -> bytes:
        return (
            b'{"id":'
            + _json.dumps(self._id)
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + _json.dumps(self._model)
            + b',"choices":[{"index":0,"delta":'
        )

    def _delta(self, delta: bytes) -> bytes:
        # Compact JSON never holds a raw line break, so it is one ``data:`` line as it is.
        return b"data: " + self._head + delta + _NO_FINISH + b"\n\n"

    def _content(self, text: str) -> bytes:
        return self._delta(b'{"content":' + _json.dumps(text) + b"}")

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return [self._delta(b'{"role":"assistant","content":""}')]

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The caller's encoded chunks for one upstream event (none for ``ping``)."""
        if not event.has_data or not event.data:
            return []
        if event.data.startswith(_TEXT_HEAD):
            fast = self._text_fast(event.data)
            if fast is not None:
                return fast
        try:
            data = _json.loads(event.data)
        except ValueError:
            return []  # not an event of the Messages stream; nothing to translate
        if not isinstance(data, dict):
            return []
        kind = data.get("type")
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_stop":
            return self._block_stop(data)
        if kind == "message_start":
            message = _obj(data.get("message"))
            if isinstance(message.get("id"), str):
                self._id = message["id"]
                self._head = self._chunk_head()
            if isinstance(message.get("usage"), dict):
                self.usage = dict(message["usage"])
            return self._start()
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self.complete = True
            if not self._include_usage:
                return []
            chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": chat_usage(self.usage),
            }
            return [encode_event(_json.dumps(chunk))]
        if kind == "error":
            error = data.get("error")
            kind_of = error.get("type") if isinstance(error, dict) else None
            status = error_status(kind_of if isinstance(kind_of, str) else "")
            self.failure = (status, error_object(error, status))
        return []  # ping, and event types newer than this translator

    def _text_fast(self, data: str) -> list[bytes] | None:
        """A text delta in the API's compact form, translated without a JSON decode: its text
        is a JSON string literal, and so is ``delta.content``, so the literal is copied. Only
        a literal with no quote in it qualifies (a quote could end it early); anything else
        returns None and takes the general path (docs/claude.md, "Streaming")."""
        mid = data.find(_TEXT_MID, len(_TEXT_HEAD))
        if mid < 0 or not data.endswith('"}}'):
            return None
        literal = data[mid + len(_TEXT_MID) : -3]
        index = data[len(_TEXT_HEAD) : mid]
        if '"' in literal or literal.endswith("\\") or not index.isdigit():
            return None
        state = self._blocks.get(int(index))
        if state is None or state.kind != "text":
            return None
        if not literal:
            return []
        return [self._delta(b'{"content":"' + literal.encode() + b'"}')]

    def _block_start(self, data: dict[str, Any]) -> list[bytes]:
        out = self._start()
        block = _obj(data.get("content_block"))
        index = _index(data)
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            if _text(block, "text"):
                out.append(self._content(block["text"]))
        elif kind == "thinking":
            state = self._blocks[index] = _Block("thinking")
            if _text(block, "thinking"):
                state.parts.append(block["thinking"])
                out.append(self._reasoning(block["thinking"]))
        elif kind == "redacted_thinking":
            entry = {
                "index": self._thinking,
                "type": "redacted_thinking",
                "data": block.get("data"),
            }
            self._thinking += 1
            out.append(self._delta(_json.dumps({"thinking_blocks": [entry]})))
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            self._blocks[index] = _Block("json")
        elif kind == "tool_use":
            self._blocks[index] = _Block("tool", self._tools)
            call = {
                "index": self._tools,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            self._tools += 1
            out.append(self._delta(_json.dumps({"tool_calls": [call]})))
        else:
            self._blocks[index] = _Block("other")  # server tools and the like: not translated
        return out

    def _reasoning(self, text: str) -> bytes:
        return self._delta(b'{"reasoning_content":' + _json.dumps(text) + b"}")

    def _arguments(self, slot: int, partial: str) -> bytes:
        call = {"index": slot, "function": {"arguments": partial}}
        return self._delta(_json.dumps({"tool_calls": [call]}))

    def _block_delta(self, data: dict[str, Any]) -> list[bytes]:
        state = self._blocks.get(_index(data))
        delta = _obj(data.get("delta"))
        if state is None:
            return []
        kind = delta.get("type")
        if kind == "text_delta" and state.kind == "text":
            text = delta.get("text")
            return [self._content(text)] if isinstance(text, str) and text else []
        if kind == "input_json_delta" and state.kind in ("tool", "json"):
            partial = delta.get("partial_json")
            if not isinstance(partial, str) or not partial:
                return []
            state.args = True
            return [
                self._content(partial)
                if state.kind == "json"
                else self._arguments(state.slot, partial)
            ]
        if kind == "thinking_delta" and state.kind == "thinking":
            text = delta.get("thinking")
            if not isinstance(text, str) or not text:
                return []
            state.parts.append(text)
            return [self._reasoning(text)]
        if kind == "signature_delta" and state.kind == "thinking":
            state.signature += delta.get("signature") or ""
        return []

    def _block_stop(self, data: dict[str, Any]) -> list[bytes]:
        state = self._blocks.pop(_index(data), None)
        if state is None:
            return []
        if state.kind == "thinking":
            entry = {
                "index": self._thinking,
                "type": "thinking",
                "thinking": "".join(state.parts),
                "signature": state.signature,
            }
            self._thinking += 1
            return [self._delta(_json.dumps({"thinking_blocks": [entry]}))]
        if state.kind in ("tool", "json") and not state.args:
            # A tool called without input: its arguments are still a JSON object.
            return [
                self._content("{}") if state.kind == "json" else self._arguments(state.slot, "{}")
            ]
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[bytes]:
        usage = data.get("usage")
        if isinstance(usage, dict):
            merged = self.usage if self.usage is not None else {}
            merged.update({k: v for k, v in usage.items() if v is not None})
            self.usage = merged
        delta = _obj(data.get("delta"))
        if delta.get("stop_reason") is None:
            return []
        reason = finish_reason(delta["stop_reason"])
        if reason == "tool_calls" and not self._tools:
            reason = "stop"  # only the JSON tool was called: a finished structured answer
        out = self._start()
        out.append(
            encode_event(
                self._head + b'{},"finish_reason":' + _json.dumps(reason) + b',"logprobs":null}]}'
            )
        )
        return out

    def end(self) -> list[bytes]:
        """``[DONE]`` when ``message_stop`` was seen; nothing otherwise (the relay then ends the
        caller's stream with an error event)."""
        return [_DONE] if self.complete else []
