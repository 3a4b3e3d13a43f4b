"""What the Messages API (Claude on Foundry) refuses, with messages like the real API's.

Pure: :func:`check_messages` returns the message of the first problem, or None. The checks
are the ones a gateway translating OpenAI requests into Messages requests can get wrong:
fields Anthropic does not take, ``system`` inside ``messages``, unknown content blocks,
``tool_use`` / ``tool_result`` pairs that do not match turn by turn, thinking budgets, signed
thinking blocks sent back modified, and (strict mode, the emulator's default) consecutive
turns of one role, which the real API silently merges.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["check_messages", "sign_thinking", "thinking_on", "turns"]

# MessageCreateParams in the anthropic SDK, plus ``stream`` and the sampling parameters the
# Claude models deployed on Foundry still take (the SDK's typed params no longer list them).
CREATE_FIELDS = frozenset(
    {
        "max_tokens",
        "messages",
        "model",
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "system",
        "thinking",
        "tool_choice",
        "tools",
        "user_profile_id",
        "workspace_id",
        "temperature",
        "top_k",
        "top_p",
    }
)
# MessageCountTokensParams: no max_tokens, no sampling, no stream.
COUNT_FIELDS = frozenset(
    {
        "messages",
        "model",
        "cache_control",
        "output_config",
        "speed",
        "system",
        "thinking",
        "tool_choice",
        "tools",
        "user_profile_id",
        "workspace_id",
    }
)
BLOCK_TYPES = (
    "text",
    "image",
    "document",
    "search_result",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "container_upload",
)
_THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
_CHOICE_TYPES = ("auto", "any", "tool", "none")
_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
# Signatures are an HMAC of the thinking text followed by the text itself, so that a block
# sent back with its thinking omitted (display "omitted") still verifies.
_KEY = b"azure-asgi emulator thinking signature"
_MAC = 16

Turn = tuple[str, list[tuple[int, int, Mapping[str, Any]]]]


def sign_thinking(thinking: str) -> str:
    """The deterministic signature of a thinking block's text."""
    data = thinking.encode("utf-8")
    return base64.b64encode(hmac.digest(_KEY, data, hashlib.sha256)[:_MAC] + data).decode()


def _verified(block: Mapping[str, Any]) -> bool:
    signature, thinking = block.get("signature"), block.get("thinking")
    if not isinstance(signature, str) or not isinstance(thinking, str):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        return False
    mac, data = raw[:_MAC], raw[_MAC:]
    if not hmac.compare_digest(mac, hmac.digest(_KEY, data, hashlib.sha256)[:_MAC]):
        return False
    return thinking in ("", data.decode("utf-8", "replace"))


def thinking_on(body: Mapping[str, Any]) -> bool:
    """Whether the request turns thinking on (``enabled`` or ``adaptive``)."""
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def _blocks(content: Any) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content if isinstance(block, Mapping)]


def turns(messages: Sequence[Mapping[str, Any]]) -> list[Turn]:
    """Consecutive same-role messages merged into turns, as the real API merges them;
    each block keeps its ``(message index, block index)``."""
    merged: list[Turn] = []
    for i, message in enumerate(messages):
        located = [(i, j, block) for j, block in enumerate(_blocks(message["content"]))]
        if merged and merged[-1][0] == message["role"]:
            merged[-1][1].extend(located)
        else:
            merged.append((message["role"], located))
    return merged


def check_messages(body: Mapping[str, Any], *, strict: bool, count_tokens: bool) -> str | None:
    """The first problem with a Messages (or count_tokens) request body, or None."""
    allowed = COUNT_FIELDS if count_tokens else CREATE_FIELDS
    for key in body:
        if key not in allowed:
            return f"{key}: Extra inputs are not permitted"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not count_tokens:
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            return "max_tokens: Field required"
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
            return "max_tokens: Input should be a valid integer greater than or equal to 0"
    return (
        _check_system(body.get("system"))
        or _check_messages(body.get("messages"), strict=strict)
        or _check_options(body, count_tokens=count_tokens)
        or _check_tools(body)
        or _check_pairs(body)
    )


def _check_system(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list):
        return "system: Input should be a valid string or a list of text blocks"
    for k, block in enumerate(system):
        if not isinstance(block, Mapping) or block.get("type") != "text":
            return f"system.{k}.type: Input should be 'text'"
        if not isinstance(block.get("text"), str):
            return f"system.{k}.text: Field required"
    return None


def _check_messages(messages: Any, *, strict: bool) -> str | None:
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            return f"messages.{i}: Input should be a valid dictionary"
        role = message.get("role")
        if role == "system":
            return (
                f'messages.{i}.role: Unexpected role "system". The Messages API accepts a '
                'top-level `system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if strict and i and messages[i - 1].get("role") == role:
            return (
                f"messages.{i}: consecutive `{role}` turns (messages {i - 1} and {i}): merge "
                "them into one turn. The real API merges them; AzureEmulator(strict_messages="
                "False) does too, strict mode refuses them so translation bugs show."
            )
        problem = _check_content(i, message, last=i == len(messages) - 1)
        if problem is not None:
            return problem
    return None


def _check_content(i: int, message: Mapping[str, Any], *, last: bool) -> str | None:
    content = message.get("content")
    if content is None:
        return f"messages.{i}.content: Field required"
    if not isinstance(content, str | list):
        return f"messages.{i}.content: Input should be a valid string or list"
    final_assistant = last and message["role"] == "assistant"
    if not content and not final_assistant:
        return (
            f"messages.{i}: all messages must have non-empty content except for the optional "
            "final assistant message"
        )
    for j, block in enumerate(content if isinstance(content, list) else []):
        where = f"messages.{i}.content.{j}"
        if not isinstance(block, Mapping):
            return f"{where}: Input should be a valid dictionary"
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            expected = ", ".join(f"'{name}'" for name in BLOCK_TYPES)
            return (
                f"{where}: Input tag '{kind}' found using 'type' does not match any of the "
                f"expected tags: {expected}"
            )
        for field in {"text": ("text",), "tool_use": ("id", "name"), "thinking": ("thinking",)}.get(
            kind, ()
        ):
            if not isinstance(block.get(field), str):
                return f"{where}.{kind}.{field}: Field required"
        if kind == "text" and not block["text"]:
            return "messages: text content blocks must be non-empty"
        if kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
            return f"{where}.tool_result.tool_use_id: Field required"
        if kind == "thinking" and message["role"] == "assistant" and not _verified(block):
            return f"{where}: Invalid `signature` in `thinking` block"
    text = content if isinstance(content, str) else ""
    if isinstance(content, list) and content and content[-1].get("type") == "text":
        text = content[-1]["text"]
    if final_assistant and text != text.rstrip():
        return "messages: final assistant content cannot end with trailing whitespace"
    return None


def _check_options(body: Mapping[str, Any], *, count_tokens: bool) -> str | None:
    thinking = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, Mapping) else None
        if kind not in _THINKING_TYPES:
            expected = ", ".join(f"'{name}'" for name in _THINKING_TYPES)
            return (
                f"thinking: Input tag '{kind}' found using 'type' does not match any of the "
                f"expected tags: {expected}"
            )
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or isinstance(budget, bool):
                return "thinking.enabled.budget_tokens: Field required"
            if budget < 1024:
                return (
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                )
            if not count_tokens and budget >= body["max_tokens"]:
                return (
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult "
                    f"our documentation at {_DOCS}#max-tokens-and-context-window-size"
                )
    if thinking_on(body):
        if body.get("temperature", 1) != 1:
            return (
                "`temperature` may only be set to 1 when thinking is enabled. Please consult "
                f"our documentation at {_DOCS}#feature-compatibility"
            )
        if body.get("top_k") is not None:
            return (
                "`top_k` must be unset when thinking is enabled. Please consult our "
                f"documentation at {_DOCS}#feature-compatibility"
            )
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        return "stop_sequences: Input should be a valid list of strings"
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if fmt is not None and (
        not isinstance(fmt, Mapping)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), Mapping)
    ):
        return "output_config.format: Input should be {'type': 'json_schema', 'schema': {...}}"
    return None


def _check_tools(body: Mapping[str, Any]) -> str | None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            return "tools: Input should be a valid list"
        for k, tool in enumerate(tools):
            if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
                return f"tools.{k}.name: Field required"
            custom = tool.get("type") in (None, "custom")
            if custom and not isinstance(tool.get("input_schema"), Mapping):
                return f"tools.{k}.custom.input_schema: Field required"
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, Mapping) else None
        if kind not in _CHOICE_TYPES:
            expected = ", ".join(f"'{name}'" for name in _CHOICE_TYPES)
            return (
                f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the "
                f"expected tags: {expected}"
            )
        if kind == "tool" and not isinstance(choice.get("name"), str):
            return "tool_choice.tool.name: Field required"
    return None


def _check_pairs(body: Mapping[str, Any]) -> str | None:
    """Each ``tool_result`` answers a ``tool_use`` of the turn just before, and each
    ``tool_use`` is answered in the next turn; with thinking on, the assistant turn whose
    tools are being answered starts with its (signed) thinking block."""
    merged = turns(body["messages"])
    for t, (role, located) in enumerate(merged):
        if role != "user":
            continue
        previous = merged[t - 1][1] if t else []
        asked = {b["id"] for _, _, b in previous if b.get("type") == "tool_use"}
        for i, j, block in located:
            if block.get("type") == "tool_result" and block["tool_use_id"] not in asked:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                    f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` "
                    "block must have a corresponding `tool_use` block in the previous message."
                )
    for t, (role, located) in enumerate(merged):
        if role != "assistant":
            continue
        uses = [b["id"] for _, _, b in located if b.get("type") == "tool_use"]
        if not uses or t + 1 == len(merged):
            continue
        answered = {b.get("tool_use_id") for _, _, b in merged[t + 1][1]}
        missing = [use for use in uses if use not in answered]
        if missing:
            return (
                f"messages.{located[0][0]}: `tool_use` ids were found without `tool_result` "
                f"blocks immediately after: {', '.join(missing)}. Each `tool_use` block must "
                "have a corresponding `tool_result` block in the next message."
            )
        if thinking_on(body) and t + 2 == len(merged):
            first = located[0][2].get("type")
            if first not in ("thinking", "redacted_thinking"):
                return (
                    f"messages.{located[0][0]}.content.0.type: Expected `thinking` or "
                    f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a "
                    "final `assistant` message must start with a thinking block (preceeding the "
                    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
                    "include thinking blocks from previous turns. To avoid this requirement, "
                    f"disable `thinking`. Please consult our documentation at {_DOCS}"
                )
    return None
