"""Responses ``tools``, ``tool_choice``, ``parallel_tool_calls`` and ``text.format`` -> Messages
API tools and ``tool_choice``; a JSON ``text.format`` is the forced-tool technique (one extra
tool whose input is the answer, which the caller never sees). Pure, no I/O (docs/claude.md,
"Responses API").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._errors import GatewayError
from ._responses_input import invalid_param, unsupported_param

__all__ = ["format_tool_name", "tools_and_choice"]

_JSON_OBJECT_TOOL = "json_answer"
_FORMAT_DESCRIPTION = (
    "Give your final answer by calling this tool: its input is the answer, a JSON value "
    "matching the schema."
)


def _empty_schema() -> dict[str, Any]:
    """A tool's input schema when it takes nothing (fresh: bodies get mutated downstream)."""
    return {"type": "object", "properties": {}}


def _format_tool(text: Any) -> dict[str, Any] | None:
    """The forced tool that stands for ``text.format`` (JSON answers), or None."""
    if text is None:
        return None
    if not isinstance(text, Mapping):
        raise invalid_param("text", "`text` must be an object.")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping):
        raise invalid_param("text.format", "`text.format` must be an object.")
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
        raise unsupported_param("text.format.type", f"Claude cannot answer in format {kind!r}.")
    name = fmt.get("name")
    if not isinstance(name, str) or not name:
        raise invalid_param("text.format.name", "`text.format.name` must be a non-empty string.")
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise invalid_param(
            "text.format.schema", "`text.format.schema` must be a JSON schema object."
        )
    if schema.get("type", "object") != "object":
        raise unsupported_param(
            "text.format.schema",
            "Claude answers JSON through a tool whose input is an object: make the schema's "
            "root an object (wrap the value in a property).",
        )
    return {"name": name, "description": description, "input_schema": dict(schema)}


def format_tool_name(request: Mapping[str, Any]) -> str | None:
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
        raise invalid_param("tools", "`tools` must be a list of tools.")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise invalid_param(f"tools[{i}]", f"`tools[{i}]` must be a tool object.")
        kind = tool.get("type")
        if kind != "function":
            raise unsupported_param(
                f"tools[{i}].type",
                f"Claude deployments take function tools only; {kind!r} is an OpenAI-hosted "
                "tool. Remove it, or offer it as a function tool that your code runs.",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_param(
                f"tools[{i}].name", f"`tools[{i}].name` must be a non-empty string."
            )
        params = tool.get("parameters")
        if params is None:
            schema = _empty_schema()
        elif isinstance(params, Mapping) and params.get("type", "object") == "object":
            schema = {"type": "object", **params}
        else:
            raise invalid_param(
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
        raise invalid_param(
            "tool_choice", "`tool_choice` must be auto, required, none or an object."
        )
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if name not in names:
            raise invalid_param(
                "tool_choice.name", f"`tool_choice` names {name!r}, not in `tools`."
            )
        return {"type": "tool", "name": name}, None
    if kind == "allowed_tools":
        mode = choice.get("mode")
        listed = choice.get("tools")
        if mode not in ("auto", "required") or not isinstance(listed, list):
            raise invalid_param("tool_choice", "`allowed_tools` needs a mode and a list of tools.")
        allowed = {t.get("name") for t in listed if isinstance(t, Mapping)}
        return ({"type": "any"} if mode == "required" else None), {
            n for n in allowed if isinstance(n, str)
        }
    raise unsupported_param(
        "tool_choice.type", f"Claude deployments cannot force a {kind!r} tool: name a function."
    )


def tools_and_choice(
    body: Mapping[str, Any], *, thinking: bool
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The Messages ``tools`` and ``tool_choice`` (None: auto) for a Responses body."""
    tools = _function_tools(body.get("tools"))
    choice, allowed = _choice(body.get("tool_choice"), {t["name"] for t in tools})
    if allowed is not None:
        tools = [t for t in tools if t["name"] in allowed]
    if thinking and choice is not None and choice["type"] in ("any", "tool"):
        raise unsupported_param(
            "tool_choice",
            "Claude cannot force a tool call while extended thinking is on: use tool_choice "
            "auto or drop `reasoning`.",
        )
    answer = _format_tool(body.get("text"))
    if answer is not None:
        if thinking:
            raise unsupported_param(
                "text.format",
                "Claude answers in a JSON format through a forced tool, which extended thinking "
                "does not allow: drop `reasoning` or `text.format`.",
            )
        if any(t["name"] == answer["name"] for t in tools):
            raise invalid_param(
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
