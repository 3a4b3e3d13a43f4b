"""Responses API <-> Claude's Messages API: the request, the answer and the event stream.

Pure functions and one state machine, no I/O. A ``POST /responses`` body becomes a Messages
body (:func:`responses_to_messages`), a Messages answer becomes a ``response`` object
(:func:`messages_to_response`) and a Messages event stream becomes the Responses event
sequence (:class:`ResponsesStream`), event by event. The mapping, field by field, and what is
refused or dropped is in docs/claude.md ("Responses API").

Three representations are this module's own choices (docs/claude.md):

* A thinking block becomes a ``reasoning`` item: its text as one ``summary_text`` and its
  signature in ``encrypted_content`` behind the :data:`_THINKING` prefix (a redacted block's
  data behind :data:`_REDACTED`), so sending the item back restores the exact block. Reasoning
  items without such a prefix (another model's) are dropped: Claude would refuse them.
* ``text.format`` (JSON schema / JSON object) is the forced-tool technique: one extra tool whose
  ``input_schema`` is the schema, forced by ``tool_choice``; its input is the answer's
  ``output_text``, and the caller never sees the tool.
* Item ids derive from the Messages id and the item's position, so the JSON answer and the
  stream of the same message name their items alike.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, TypeGuard

from ... import _json
from ..._errors import GatewayError
from ..._sse import SSEEvent, encode_event
from ._common import error_status

__all__ = ["ResponsesStream", "messages_to_response", "responses_to_messages"]

#: ``encrypted_content`` prefixes of the reasoning items this module produces. Not base64
#: characters, so no real signature or OpenAI payload can look like them.
_THINKING = "claude.thinking:"
_REDACTED = "claude.redacted_thinking:"

#: ``reasoning.effort`` -> thinking ``budget_tokens`` (Claude's minimum budget is 1024).
_BUDGETS = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 65536,
}
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_JSON_OBJECT_TOOL = "json_answer"
_FORMAT_DESCRIPTION = (
    "Give your final answer by calling this tool: its input is the answer, a JSON value "
    "matching the schema."
)


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


def _unsupported(param: str, message: str) -> GatewayError:
    return GatewayError(400, message, code="unsupported_parameter", param=param)


def _invalid(param: str | None, message: str) -> GatewayError:
    return GatewayError(400, message, code="invalid_request", param=param)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _empty_schema() -> dict[str, Any]:
    """A tool's input schema when it takes nothing (fresh: bodies get mutated downstream)."""
    return {"type": "object", "properties": {}}


# --- the request -------------------------------------------------------------------------


def responses_to_messages(
    body: Mapping[str, Any], deployment: str, *, max_tokens: int
) -> dict[str, Any]:
    """A Responses ``POST /responses`` body -> a Messages API body (``model=deployment``).

    ``max_tokens`` is the default when the caller sets no ``max_output_tokens``. ``stream`` is
    kept. Raises :class:`GatewayError` 400 ``unsupported_parameter`` (``param`` naming the
    field) for what Claude cannot do and 400 ``invalid_request`` for malformed input.
    """
    if not isinstance(body, Mapping):
        raise _invalid(None, "The request body must be a JSON object.")
    _check_fields(body)
    system, messages = _conversation(body)
    out: dict[str, Any] = {"model": deployment, "max_tokens": _max_tokens(body, max_tokens)}
    out["messages"] = messages
    if system:
        out["system"] = system
    budget = _thinking_budget(body.get("reasoning"))
    tools, choice = _tools_and_choice(body, thinking=budget is not None)
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
    if budget is not None:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if out["max_tokens"] <= budget:
            # Claude counts thinking inside max_tokens and wants it above the budget; the
            # caller's figure stays what the visible answer may use (docs/claude.md).
            out["max_tokens"] = budget + out["max_tokens"]
    for name in ("temperature", "top_p"):
        # Checked, echoed in the answer, never sent: the Messages API takes no sampling
        # parameters any more (current Claude models refuse them; docs/claude.md).
        value = body.get(name)
        if value is not None and not _is_number(value):
            raise _invalid(name, f"`{name}` must be a number.")
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    stream = body.get("stream")
    if stream is not None:
        if not isinstance(stream, bool):
            raise _invalid("stream", "`stream` must be true or false.")
        out["stream"] = stream
    return out


def _check_fields(body: Mapping[str, Any]) -> None:
    for name, value in body.items():
        if name in _TRANSLATED or name in _DROPPED:
            continue
        if name in _REFUSED:
            if value is None or (name == "context_management" and value == []):
                continue
            raise _unsupported(name, _REFUSED[name])
        raise _unsupported(
            name,
            f"Claude deployments do not take `{name}`: the gateway translates this request to "
            "Claude's Messages API, which has no equivalent. Remove the field.",
        )
    if body.get("background") is True:
        raise _unsupported(
            "background", "Background responses are not available for Claude deployments."
        )
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            raise _invalid("include", "`include` must be a list of strings.")
        for value in include:
            if value not in _INCLUDABLE:
                raise _unsupported(
                    "include",
                    f"Claude deployments cannot include {value!r}; only "
                    "'reasoning.encrypted_content' (always included) is accepted.",
                )
    top_logprobs = body.get("top_logprobs")
    if top_logprobs not in (None, 0):
        raise _unsupported("top_logprobs", "Claude does not return log probabilities.")


def _max_tokens(body: Mapping[str, Any], default: int) -> int:
    value = body.get("max_output_tokens")
    if value is None:
        return default
    if not _is_int(value) or value < 1:
        raise _invalid("max_output_tokens", "`max_output_tokens` must be a positive integer.")
    return int(value)


def _thinking_budget(reasoning: Any) -> int | None:
    if reasoning is None:
        return None
    if not isinstance(reasoning, Mapping):
        raise _invalid("reasoning", '`reasoning` must be an object such as {"effort": "low"}.')
    effort = reasoning.get("effort")
    if effort is None or effort == "none":
        return None
    if effort not in _BUDGETS:
        raise _invalid(
            "reasoning.effort",
            f"`reasoning.effort` must be one of none, {', '.join(_BUDGETS)}; got {effort!r}.",
        )
    return _BUDGETS[effort]


# --- input -> messages


class _Turns:
    """The conversation being built: adjacent same-role turns merged as they arrive."""

    __slots__ = ("calls", "messages", "system")

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.calls: set[str] = set()

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == role:
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": role, "content": blocks})


def _conversation(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    turns = _Turns()
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise _invalid("instructions", "`instructions` must be a string.")
        if instructions:
            turns.system.append({"type": "text", "text": instructions})
    given = body.get("input")
    if isinstance(given, str):
        turns.add("user", [{"type": "text", "text": given}] if given else [])
    elif isinstance(given, list):
        for i, item in enumerate(given):
            _item(turns, item, f"input[{i}]")
    elif given is None:
        raise _invalid("input", "`input` is required: a string or a list of input items.")
    else:
        raise _invalid("input", "`input` must be a string or a list of input items.")
    if not turns.messages:
        raise _invalid("input", "`input` holds no user or assistant content to answer.")
    for message in turns.messages:
        if message["role"] == "user":
            # Claude wants a turn's tool results before anything else in it.
            blocks = message["content"]
            message["content"] = [b for b in blocks if b["type"] == "tool_result"] + [
                b for b in blocks if b["type"] != "tool_result"
            ]
    return turns.system, turns.messages


def _item(turns: _Turns, item: Any, at: str) -> None:
    if not isinstance(item, Mapping):
        raise _invalid(at, f"`{at}` must be an input item object.")
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            turns.system.extend(_parts(item.get("content"), at, system=True))
        elif role in ("user", "assistant"):
            turns.add(role, _parts(item.get("content"), at, system=False))
        else:
            raise _invalid(
                f"{at}.role", f"`{at}.role` must be user, assistant, system or developer."
            )
    elif kind == "function_call":
        call_id = _string(item, "call_id", at)
        name = _string(item, "name", at)
        turns.calls.add(call_id)
        block: dict[str, Any] = {"type": "tool_use", "id": call_id, "name": name}
        block["input"] = _arguments(item.get("arguments"), f"{at}.arguments")
        turns.add("assistant", [block])
    elif kind == "function_call_output":
        call_id = _string(item, "call_id", at)
        if call_id not in turns.calls:
            raise _invalid(
                f"{at}.call_id",
                f"No function_call item with call_id {call_id!r} comes before `{at}`: send the "
                "function_call item the output answers first.",
            )
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
        output = item.get("output")
        if isinstance(output, str):
            if output:
                result["content"] = output
        elif isinstance(output, list):
            blocks = [_part(part, f"{at}.output[{j}]") for j, part in enumerate(output)]
            content = [b for b in blocks if b is not None]
            if content:
                result["content"] = content
        else:
            raise _invalid(f"{at}.output", f"`{at}.output` must be a string or a list of parts.")
        turns.add("user", [result])
    elif kind == "reasoning":
        thinking = _thinking_block(item)
        if thinking is not None:
            turns.add("assistant", [thinking])
    else:
        raise _unsupported(
            f"{at}.type",
            f"Claude deployments cannot take {kind!r} input items: send messages, "
            "function_call, function_call_output and reasoning items only.",
        )


def _string(item: Mapping[str, Any], key: str, at: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{at}.{key}", f"`{at}.{key}` must be a non-empty string.")
    return value


def _arguments(raw: Any, at: str) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = _json.loads(raw)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    raise _invalid(at, f"`{at}` must be a JSON object encoded as a string (Claude's tool input).")


def _thinking_block(item: Mapping[str, Any]) -> dict[str, Any] | None:
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str):
        return None
    if encrypted.startswith(_REDACTED):
        return {"type": "redacted_thinking", "data": encrypted[len(_REDACTED) :]}
    if not encrypted.startswith(_THINKING):
        return None  # not a Claude thinking block: Claude would refuse its signature
    # The summary holds the block's text as Claude sent it; content is read when a caller
    # kept the text there instead.
    text = _joined_text(item.get("summary")) or _joined_text(item.get("content"))
    return {"type": "thinking", "thinking": text, "signature": encrypted[len(_THINKING) :]}


def _joined_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "".join(
        p["text"] for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)
    )


def _parts(content: Any, at: str, *, system: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _invalid(f"{at}.content", f"`{at}.content` must be a string or a list of parts.")
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        block = _part(part, f"{at}.content[{j}]")
        if block is None:
            continue
        if system and block["type"] != "text":
            raise _unsupported(
                f"{at}.content[{j}].type",
                "Claude's system prompt holds text only: move images and files to a user message.",
            )
        blocks.append(block)
    return blocks


def _part(part: Any, at: str) -> dict[str, Any] | None:
    """One content part as a Claude block; None for an empty text (Claude refuses those)."""
    if not isinstance(part, Mapping):
        raise _invalid(at, f"`{at}` must be a content part object.")
    kind = part.get("type")
    block: dict[str, Any]
    if kind in ("input_text", "output_text", "text", "refusal"):
        key = "refusal" if kind == "refusal" else "text"
        text = part.get(key)
        if not isinstance(text, str):
            raise _invalid(f"{at}.{key}", f"`{at}.{key}` must be a string.")
        if not text:
            return None
        block = {"type": "text", "text": text}
    elif kind == "input_image":
        block = _image(part, at)
    elif kind == "input_file":
        block = _document(part, at)
    else:
        raise _invalid(
            f"{at}.type",
            f"`{at}.type` {kind!r} is not a content part Claude takes (input_text, "
            "output_text, input_image, input_file).",
        )
    cache = part.get("cache_control")
    if isinstance(cache, Mapping):
        block["cache_control"] = dict(cache)
    elif isinstance(part.get("prompt_cache_breakpoint"), Mapping):
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _data_url(url: str, at: str) -> tuple[str, str] | None:
    """``(media type, base64 data)`` of a ``data:`` URL; None for any other URL."""
    if not url.startswith("data:"):
        return None
    head, comma, data = url[5:].partition(",")
    media, _, encoding = head.partition(";")
    if not comma or encoding.lower() != "base64":
        raise _invalid(at, f"`{at}` must be a base64 data URL (data:<type>;base64,<data>).")
    return media.strip().lower(), data


def _image(part: Mapping[str, Any], at: str) -> dict[str, Any]:
    if part.get("file_id") is not None:
        raise _unsupported(
            f"{at}.file_id",
            "Claude deployments cannot read OpenAI file ids: send the image as a data URL or "
            "an https URL in `image_url`.",
        )
    url = part.get("image_url")
    if not isinstance(url, str):
        raise _invalid(f"{at}.image_url", f"`{at}.image_url` must be a data URL or an URL.")
    data = _data_url(url, f"{at}.image_url")
    if data is not None:
        media, payload = data
        if media not in _IMAGE_TYPES:
            raise _unsupported(
                f"{at}.image_url",
                f"Claude reads JPEG, PNG, GIF and WebP images; got {media or 'no type'!r}.",
            )
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": payload}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _invalid(f"{at}.image_url", f"`{at}.image_url` must be a data URL or an http(s) URL.")


def _document(part: Mapping[str, Any], at: str) -> dict[str, Any]:
    source: dict[str, Any]
    if part.get("file_id") is not None:
        raise _unsupported(
            f"{at}.file_id",
            "Claude deployments cannot read OpenAI file ids: send the file as `file_data` "
            "(a base64 data URL) or `file_url`.",
        )
    file_data = part.get("file_data")
    file_url = part.get("file_url")
    if isinstance(file_data, str):
        data = _data_url(file_data, f"{at}.file_data")
        if data is None:
            raise _invalid(
                f"{at}.file_data", f"`{at}.file_data` must be a data URL (data:<type>;base64,...)."
            )
        media, payload = data
        if media == "application/pdf":
            source = {"type": "base64", "media_type": media, "data": payload}
        elif media == "text/plain":
            try:
                text = base64.b64decode(payload, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise _invalid(
                    f"{at}.file_data", f"`{at}.file_data` is not base64 of UTF-8 text."
                ) from None
            source = {"type": "text", "media_type": media, "data": text}
        else:
            raise _unsupported(
                f"{at}.file_data",
                f"Claude reads PDF and plain-text files; got {media or 'no type'!r}.",
            )
    elif isinstance(file_url, str) and file_url.startswith(("https://", "http://")):
        source = {"type": "url", "url": file_url}  # Claude fetches PDFs by URL
    else:
        raise _invalid(
            at, f"`{at}` needs `file_data` (a base64 data URL) or an http(s) `file_url`."
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    filename = part.get("filename")
    if isinstance(filename, str) and filename:
        block["title"] = filename
    return block


# --- tools, tool_choice and the answer format


def _format_tool(text: Any) -> dict[str, Any] | None:
    """The forced tool that stands for ``text.format`` (JSON answers), or None."""
    if text is None:
        return None
    if not isinstance(text, Mapping):
        raise _invalid("text", "`text` must be an object.")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping):
        raise _invalid("text.format", "`text.format` must be an object.")
    kind = fmt.get("type")
    if kind == "text":
        return None
    description = fmt.get("description")
    if not isinstance(description, str) or not description:
        description = _FORMAT_DESCRIPTION
    if kind == "json_object":
        return {
            "name": _JSON_OBJECT_TOOL,
            "description": description,
            "input_schema": _empty_schema(),
        }
    if kind != "json_schema":
        raise _unsupported("text.format.type", f"Claude cannot answer in format {kind!r}.")
    name = fmt.get("name")
    if not isinstance(name, str) or not name:
        raise _invalid("text.format.name", "`text.format.name` must be a non-empty string.")
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise _invalid("text.format.schema", "`text.format.schema` must be a JSON schema object.")
    if schema.get("type", "object") != "object":
        raise _unsupported(
            "text.format.schema",
            "Claude answers JSON through a tool whose input is an object: make the schema's "
            "root an object (wrap the value in a property).",
        )
    return {"name": name, "description": description, "input_schema": dict(schema)}


def _format_tool_name(request: Mapping[str, Any]) -> str | None:
    """The forced tool's name for a request already translated (never raises)."""
    try:
        tool = _format_tool(request.get("text"))
    except GatewayError:
        return None
    return None if tool is None else str(tool["name"])


def _function_tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _invalid("tools", "`tools` must be a list of tools.")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise _invalid(f"tools[{i}]", f"`tools[{i}]` must be a tool object.")
        kind = tool.get("type")
        if kind != "function":
            raise _unsupported(
                f"tools[{i}].type",
                f"Claude deployments take function tools only; {kind!r} is an OpenAI-hosted "
                "tool. Remove it, or offer it as a function tool that your code runs.",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid(f"tools[{i}].name", f"`tools[{i}].name` must be a non-empty string.")
        params = tool.get("parameters")
        if params is None:
            schema = _empty_schema()
        elif isinstance(params, Mapping) and params.get("type", "object") == "object":
            schema = {"type": "object", **params}
        else:
            raise _invalid(
                f"tools[{i}].parameters",
                f"`tools[{i}].parameters` must be the JSON schema of an object (input_schema).",
            )
        entry: dict[str, Any] = {"name": name}
        description = tool.get("description")
        if isinstance(description, str) and description:
            entry["description"] = description
        entry["input_schema"] = schema
        out.append(entry)
    return out


def _choice(choice: Any, names: set[str]) -> tuple[dict[str, Any] | None, set[str] | None]:
    """Claude's tool_choice for the caller's, and the names ``allowed_tools`` keeps."""
    if choice is None or choice == "auto":
        return None, None
    if choice == "required":
        return {"type": "any"}, None
    if choice == "none":
        return {"type": "none"}, None
    if not isinstance(choice, Mapping):
        raise _invalid("tool_choice", "`tool_choice` must be auto, required, none or an object.")
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if name not in names:
            raise _invalid("tool_choice.name", f"`tool_choice` names {name!r}, not in `tools`.")
        return {"type": "tool", "name": name}, None
    if kind == "allowed_tools":
        mode = choice.get("mode")
        listed = choice.get("tools")
        if mode not in ("auto", "required") or not isinstance(listed, list):
            raise _invalid("tool_choice", "`allowed_tools` needs a mode and a list of tools.")
        allowed = {t.get("name") for t in listed if isinstance(t, Mapping)}
        return ({"type": "any"} if mode == "required" else None), {
            n for n in allowed if isinstance(n, str)
        }
    raise _unsupported(
        "tool_choice.type", f"Claude deployments cannot force a {kind!r} tool: name a function."
    )


def _tools_and_choice(
    body: Mapping[str, Any], *, thinking: bool
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    tools = _function_tools(body.get("tools"))
    choice, allowed = _choice(body.get("tool_choice"), {t["name"] for t in tools})
    if allowed is not None:
        tools = [t for t in tools if t["name"] in allowed]
    if thinking and choice is not None and choice["type"] in ("any", "tool"):
        raise _unsupported(
            "tool_choice",
            "Claude cannot force a tool call while extended thinking is on: use tool_choice "
            "auto or drop `reasoning`.",
        )
    answer = _format_tool(body.get("text"))
    if answer is not None:
        if thinking:
            raise _unsupported(
                "text.format",
                "Claude answers in a JSON format through a forced tool, which extended thinking "
                "does not allow: drop `reasoning` or `text.format`.",
            )
        if any(t["name"] == answer["name"] for t in tools):
            raise _invalid(
                "text.format.name", "`text.format.name` is also a function tool's name: rename one."
            )
        if choice is not None and choice["type"] == "tool":
            pass  # the caller forces one of its functions this turn
        elif tools and (choice is None or choice["type"] == "any"):
            # The caller's tools stay callable; calling the answer tool ends the turn instead
            # of text.
            choice = {"type": "any"}
        else:  # no function tools, or tool_choice none: the answer tool is the only way out
            choice = {"type": "tool", "name": answer["name"]}
        tools.append(answer)
    if not tools:
        return [], None
    if body.get("parallel_tool_calls") is False:
        choice = dict(choice or {"type": "auto"})
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    return tools, choice


# --- the answer --------------------------------------------------------------------------


def _base_id(message_id: Any) -> str:
    text = message_id if isinstance(message_id, str) and message_id else "unknown"
    return text[4:] if text.startswith("msg_") else text


def _item_id(base: str, kind: str, index: int) -> str:
    return f"{kind}_{base}_{index}"


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [] if status == "in_progress" else [_text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def _reasoning_item(
    item_id: str, text: str, encrypted: str | None, status: str = "completed"
) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if text else []
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": summary}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    item["status"] = status
    return item


def _status(stop_reason: Any) -> tuple[str, dict[str, Any] | None]:
    if stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return "incomplete", {"reason": "max_output_tokens"}
    if stop_reason == "refusal":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if _is_int(value) else 0


def _usage(usage: Any) -> dict[str, Any] | None:
    """Anthropic usage -> Responses usage: cache reads and writes count as input tokens."""
    if not isinstance(usage, Mapping):
        return None
    read = _count(usage, "cache_read_input_tokens")
    written = _count(usage, "cache_creation_input_tokens")
    prompt = _count(usage, "input_tokens") + read + written
    output = _count(usage, "output_tokens")
    details = usage.get("output_tokens_details")
    thinking = _count(details, "thinking_tokens") if isinstance(details, Mapping) else 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": thinking},
        "total_tokens": prompt + output,
    }


def _response(
    response_id: str,
    *,
    model: str,
    created: int,
    request: Mapping[str, Any],
    stop_reason: Any = None,
    output: list[dict[str, Any]] | None = None,
    usage: Any = None,
) -> dict[str, Any]:
    """The ``response`` object, echoing the caller's settings as the Responses API does.

    ``output`` None means in progress (the stream's first events).
    """
    status, incomplete = ("in_progress", None) if output is None else _status(stop_reason)
    reasoning = request.get("reasoning")
    text = request.get("text")
    parallel = request.get("parallel_tool_calls")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output or [],
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else True,
        "previous_response_id": None,
        "reasoning": {
            "effort": reasoning.get("effort") if isinstance(reasoning, Mapping) else None,
            "summary": reasoning.get("summary") if isinstance(reasoning, Mapping) else None,
        },
        "store": False,  # Claude responses are not stored (docs/claude.md)
        "temperature": request.get("temperature", 1.0),
        "text": text if isinstance(text, Mapping) else {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None if output is None else _usage(usage),
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def messages_to_response(
    message: Mapping[str, Any], *, model: str, created: int, request: Mapping[str, Any]
) -> dict[str, Any]:
    """A Messages API answer -> a Responses ``response`` object.

    ``model`` is the alias the caller used, ``created`` the Unix time to report and
    ``request`` the caller's Responses body (its settings are echoed, and its ``text.format``
    tells which tool_use is the JSON answer).
    """
    base = _base_id(message.get("id"))
    answer_tool = _format_tool_name(request)
    output: list[dict[str, Any]] = []
    joinable = False  # whether the last item is a message that the next text block extends
    content = message.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        index = len(output)
        if kind == "text" or (kind == "tool_use" and block.get("name") == answer_tool):
            if kind == "text":
                text = str(block.get("text") or "")
            else:
                text = _json.dumps(block.get("input") or {}).decode()
            if joinable:
                output[-1]["content"][0]["text"] += text
            else:
                output.append(_message_item(_item_id(base, "msg", index), text))
            joinable = kind == "text"
            continue
        joinable = False
        if kind == "tool_use":
            arguments = _json.dumps(block.get("input") or {}).decode()
            item_id = _item_id(base, "fc", index)
            output.append(
                _call_item(item_id, str(block.get("id")), str(block.get("name")), arguments)
            )
        elif kind == "thinking":
            signature = _THINKING + str(block.get("signature") or "")
            item_id = _item_id(base, "rs", index)
            output.append(_reasoning_item(item_id, str(block.get("thinking") or ""), signature))
        elif kind == "redacted_thinking":
            encrypted = _REDACTED + str(block.get("data") or "")
            output.append(_reasoning_item(_item_id(base, "rs", index), "", encrypted))
    return _response(
        f"resp_{base}",
        model=model,
        created=created,
        request=request,
        stop_reason=message.get("stop_reason"),
        output=output,
        usage=message.get("usage"),
    )


# --- the stream --------------------------------------------------------------------------


class _Message:
    """An open ``message`` output item: text blocks in a row extend it."""

    __slots__ = ("closed", "index", "item_id", "joinable", "parts")

    def __init__(self, index: int, item_id: str, *, joinable: bool) -> None:
        self.index = index
        self.item_id = item_id
        self.parts: list[str] = []
        self.joinable = joinable  # False for the JSON answer: nothing joins it
        self.closed = False


class _Block:
    """One upstream content block being streamed, and the output item it feeds."""

    __slots__ = ("call_id", "index", "initial", "item_id", "kind", "message", "name", "parts")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # text / answer / call / thinking / redacted / other
        self.index = -1
        self.item_id = ""
        self.message: _Message | None = None
        self.parts: list[str] = []  # arguments, thinking text or the signature's pieces
        self.call_id = ""
        self.name = ""
        self.initial: Any = None  # a tool_use block's input as it started, or redacted data


class ResponsesStream:
    """Messages SSE -> Responses SSE, one upstream event at a time (a ``StreamTranslator``).

    Every emitted event carries ``type`` and ``sequence_number`` (from 0); the stream ends with
    ``response.completed`` or ``response.incomplete`` holding the whole response. Text blocks
    in a row make one ``message`` item; tool_use blocks ``function_call`` items; thinking
    blocks ``reasoning`` items with their text as a summary (docs/claude.md).
    """

    complete: bool
    failure: tuple[int, dict[str, Any]] | None
    usage: dict[str, Any] | None

    def __init__(self, *, model: str, created: int, request: Mapping[str, Any]) -> None:
        self.complete = False
        self.failure = None
        self.usage = None
        self._model = model
        self._created = created
        self._request = request
        self._answer_tool = _format_tool_name(request)
        self._seq = 0
        self._base: str | None = None
        self._items: list[dict[str, Any] | None] = []  # done items by output_index
        self._blocks: dict[int, _Block] = {}
        self._open: _Message | None = None  # the message item text may still extend
        self._stop_reason: Any = None

    # -- the StreamTranslator interface

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The caller's encoded events for one upstream event (often one, maybe none)."""
        if self.complete or self.failure is not None or not event.has_data:
            return []
        try:
            data = _json.loads(event.data)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        index = data.get("index")
        out: list[bytes] = []
        if kind == "message_start":
            message = data.get("message")
            self._start(out, message if isinstance(message, Mapping) else {})
        elif kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, Mapping):
                self._start(out, {})
                self._block_start(out, index, block)
        elif kind == "content_block_delta":
            delta = data.get("delta")
            block_state = self._blocks.get(index) if _is_int(index) else None
            if isinstance(delta, Mapping) and block_state is not None:
                self._block_delta(out, block_state, delta)
        elif kind == "content_block_stop":
            block_state = self._blocks.pop(index, None) if _is_int(index) else None
            if block_state is not None:
                self._block_stop(out, block_state)
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, Mapping) and delta.get("stop_reason") is not None:
                self._stop_reason = delta["stop_reason"]
            self._merge_usage(data.get("usage"))
            self._close_message(out)
        elif kind == "message_stop":
            self._start(out, {})
            self._finish(out)
        elif kind == "error":
            self._fail(data.get("error"))
        return out

    def end(self) -> list[bytes]:
        """Nothing: the terminal event (or the relay's error event) is already the last."""
        return []

    # -- events

    def _emit(self, out: list[bytes], kind: str, payload: dict[str, Any]) -> None:
        data = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        out.append(encode_event(_json.dumps(data), event=kind))

    def _response(self, output: list[dict[str, Any]] | None) -> dict[str, Any]:
        return _response(
            f"resp_{self._base}",
            model=self._model,
            created=self._created,
            request=self._request,
            stop_reason=self._stop_reason,
            output=output,
            usage=self.usage,
        )

    def _start(self, out: list[bytes], message: Mapping[str, Any]) -> None:
        if self._base is not None:
            return
        self._base = _base_id(message.get("id"))
        self._merge_usage(message.get("usage"))
        response = self._response(None)
        self._emit(out, "response.created", {"response": response})
        self._emit(out, "response.in_progress", {"response": response})

    def _merge_usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        merged = dict(self.usage or {})
        merged.update({k: v for k, v in usage.items() if v is not None})
        self.usage = merged

    def _new_index(self) -> int:
        self._items.append(None)
        return len(self._items) - 1

    def _block_start(self, out: list[bytes], index: Any, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        if kind == "tool_use" and block.get("name") == self._answer_tool:
            state = _Block("answer")
            state.initial = block.get("input")
            state.message = self._message(out, joinable=False)
        elif kind == "text":
            state = _Block("text")
            state.message = self._message(out, joinable=True)
            if block.get("text"):
                self._text_delta(out, state, str(block["text"]))
        elif kind == "tool_use":
            self._close_message(out)
            state = _Block("call")
            state.index = self._new_index()
            state.item_id = _item_id(str(self._base), "fc", state.index)
            state.call_id = str(block.get("id"))
            state.name = str(block.get("name"))
            state.initial = block.get("input")
            item = _call_item(state.item_id, state.call_id, state.name, "", "in_progress")
            self._emit(
                out, "response.output_item.added", {"output_index": state.index, "item": item}
            )
        elif kind in ("thinking", "redacted_thinking"):
            self._close_message(out)
            state = _Block("thinking" if kind == "thinking" else "redacted")
            state.index = self._new_index()
            state.item_id = _item_id(str(self._base), "rs", state.index)
            if kind == "thinking":
                if block.get("thinking"):
                    state.parts.append(str(block["thinking"]))
                state.initial = block.get("signature") or ""
            else:
                state.initial = block.get("data") or ""
            item = _reasoning_item(state.item_id, "", None, "in_progress")
            self._emit(
                out, "response.output_item.added", {"output_index": state.index, "item": item}
            )
            if state.parts:
                self._summary_delta(out, state, state.parts[0], first=True)
        else:
            state = _Block("other")  # server tools' blocks: not offered, nothing to show
        if _is_int(index):
            self._blocks[index] = state

    def _block_delta(self, out: list[bytes], state: _Block, delta: Mapping[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta" and state.kind == "text":
            self._text_delta(out, state, str(delta.get("text") or ""))
        elif kind == "input_json_delta" and state.kind == "answer":
            piece = str(delta.get("partial_json") or "")
            state.parts.append(piece)
            self._text_delta(out, state, piece)
        elif kind == "input_json_delta" and state.kind == "call":
            piece = str(delta.get("partial_json") or "")
            if piece:
                state.parts.append(piece)
                payload = {"item_id": state.item_id, "output_index": state.index, "delta": piece}
                self._emit(out, "response.function_call_arguments.delta", payload)
        elif kind == "thinking_delta" and state.kind == "thinking":
            piece = str(delta.get("thinking") or "")
            if piece:
                state.parts.append(piece)
                self._summary_delta(out, state, piece, first=len(state.parts) == 1)
        elif kind == "signature_delta" and state.kind == "thinking":
            state.initial = str(state.initial or "") + str(delta.get("signature") or "")

    def _block_stop(self, out: list[bytes], state: _Block) -> None:
        if state.kind == "answer":
            if not "".join(state.parts):
                # No input streamed: the input the block started with is the answer.
                self._text_delta(out, state, _json.dumps(state.initial or {}).decode())
            self._close_message(out)
        elif state.kind == "call":
            arguments = "".join(state.parts)
            if not arguments:
                arguments = _json.dumps(state.initial or {}).decode()
                if arguments != "{}":
                    payload = {"item_id": state.item_id, "output_index": state.index}
                    self._emit(
                        out,
                        "response.function_call_arguments.delta",
                        {**payload, "delta": arguments},
                    )
            payload = {"item_id": state.item_id, "output_index": state.index}
            self._emit(
                out, "response.function_call_arguments.done", {**payload, "arguments": arguments}
            )
            item = _call_item(state.item_id, state.call_id, state.name, arguments)
            self._done(out, state.index, item)
        elif state.kind == "thinking":
            text = "".join(state.parts)
            if text:
                payload = {
                    "item_id": state.item_id,
                    "output_index": state.index,
                    "summary_index": 0,
                }
                self._emit(out, "response.reasoning_summary_text.done", {**payload, "text": text})
                part = {"type": "summary_text", "text": text}
                self._emit(out, "response.reasoning_summary_part.done", {**payload, "part": part})
            encrypted = _THINKING + str(state.initial or "")
            self._done(out, state.index, _reasoning_item(state.item_id, text, encrypted))
        elif state.kind == "redacted":
            encrypted = _REDACTED + str(state.initial or "")
            self._done(out, state.index, _reasoning_item(state.item_id, "", encrypted))

    def _done(self, out: list[bytes], index: int, item: dict[str, Any]) -> None:
        self._items[index] = item
        self._emit(out, "response.output_item.done", {"output_index": index, "item": item})

    # -- message items

    def _message(self, out: list[bytes], *, joinable: bool) -> _Message:
        """The message item a text block writes to: the open one if it may be extended."""
        current = self._open
        if current is not None and current.joinable and joinable:
            return current
        self._close_message(out)
        index = self._new_index()
        message = _Message(index, _item_id(str(self._base), "msg", index), joinable=joinable)
        item = _message_item(message.item_id, "", "in_progress")
        self._emit(out, "response.output_item.added", {"output_index": index, "item": item})
        payload = {"item_id": message.item_id, "output_index": index, "content_index": 0}
        self._emit(out, "response.content_part.added", {**payload, "part": _text_part("")})
        self._open = message
        return message

    def _text_delta(self, out: list[bytes], state: _Block, text: str) -> None:
        if not text:
            return
        message = state.message
        if message is None or message.closed:
            # A block's deltas after another block began (Claude streams blocks one at a
            # time, so only a misbehaving upstream gets here): a fresh item keeps order.
            message = state.message = self._message(out, joinable=False)
        message.parts.append(text)
        payload = {"item_id": message.item_id, "output_index": message.index, "content_index": 0}
        self._emit(out, "response.output_text.delta", {**payload, "delta": text, "logprobs": []})

    def _close_message(self, out: list[bytes]) -> None:
        message = self._open
        if message is None:
            return
        self._open = None
        message.closed = True
        text = "".join(message.parts)
        payload = {"item_id": message.item_id, "output_index": message.index, "content_index": 0}
        self._emit(out, "response.output_text.done", {**payload, "text": text, "logprobs": []})
        self._emit(out, "response.content_part.done", {**payload, "part": _text_part(text)})
        self._done(out, message.index, _message_item(message.item_id, text))

    def _summary_delta(self, out: list[bytes], state: _Block, text: str, *, first: bool) -> None:
        payload = {"item_id": state.item_id, "output_index": state.index, "summary_index": 0}
        if first:
            part = {"type": "summary_text", "text": ""}
            self._emit(out, "response.reasoning_summary_part.added", {**payload, "part": part})
        self._emit(out, "response.reasoning_summary_text.delta", {**payload, "delta": text})

    # -- the end

    def _finish(self, out: list[bytes]) -> None:
        self._close_message(out)
        for index in sorted(self._blocks):  # blocks never stopped: closed as they stand
            self._block_stop(out, self._blocks.pop(index))
        self._close_message(out)
        output = [item for item in self._items if item is not None]
        response = self._response(output)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        self._emit(out, kind, {"response": response})
        self.complete = True

    def _fail(self, error: Any) -> None:
        error = error if isinstance(error, Mapping) else {}
        kind = error.get("type")
        kind = kind if isinstance(kind, str) and kind else "api_error"
        message = error.get("message")
        if not isinstance(message, str) or not message:
            message = f"Claude's stream failed ({kind})."
        status = error_status(kind)
        self.failure = (status, {"message": message, "type": kind, "code": kind, "param": None})
