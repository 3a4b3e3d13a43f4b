"""Schema-true replies: JSON-schema instances, and when the emulated model calls a tool.

Pure functions, shared by chat completions, the Responses API and Claude Messages.

:func:`instance_for` builds a deterministic instance of a JSON schema, in the subset that
OpenAI strict mode and pydantic emit: ``type`` (one or a list such as ``["string", "null"]``),
``properties`` (every one filled, as strict mode requires), ``required``,
``additionalProperties``, ``enum``, ``const``, ``default``, ``anyOf`` / ``oneOf`` (the first
branch that is not ``null``), ``allOf``, ``$ref`` into ``$defs`` / ``definitions``, ``items``,
``prefixItems``, ``minItems`` / ``maxItems``, ``minimum`` / ``maximum`` (exclusive too),
``minLength`` / ``maxLength`` and ``format`` date, date-time, time, email, uri, uuid.
Values come from the seed text (the prompt), so they change with it but never at random:

- a string is the seed text (``"emulated"`` when it is empty), cut or repeated to fit its
  length bounds; formats get a value derived from the seed;
- an integer is the number of words of the seed, moved inside its bounds; a number is that
  plus 0.5; a boolean is true;
- an object without ``properties`` that allows more is ``{"text": <seed>}``;
- an array has ``minItems`` items, at least one unless ``maxItems`` is 0.

The tool rule (:func:`choose_tool`), the same on every API; docs/testing.md has it too:

1. ``tool_choice`` none, or no tools offered: no call.
2. A named tool choice: that tool.
3. ``required`` (chat, Responses) or ``any`` (Messages): a tool is called even after a tool
   result; it is the first tool (in the order below) not yet called since the last user
   message, else the first tool.
4. ``auto`` or no ``tool_choice``: after a tool result (the last message is a ``tool``
   message, a ``function_call_output`` item or a user turn of ``tool_result`` blocks) the
   model answers in text, so an agent loop ends; otherwise, when the last message is a
   user message, it calls a tool.

Which tool: the one whose name (or its name with ``_`` as spaces) the last user message
mentions first, else the first tool offered. Its arguments are
``instance_for(parameters, seed=<last user text>)``. The text after a tool result is the
tool result itself; a ``json_schema`` response format turns the reply text into
``json.dumps(instance_for(schema, seed=<that text>))``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "Conversation",
    "ToolSpec",
    "choose_tool",
    "instance_for",
    "json_pieces",
    "structured_text",
    "tool_for",
]

# Past this depth a recursive schema gets the smallest instance it allows (no optional
# array items, the null branch of a union), so that a tree model still terminates.
_DEEP = 6
# Caps that keep a hostile schema from costing more than a real one: an array or a string
# asking for more is answered with less (an invalid instance rather than a hung emulator).
_MOST = 1000
_LONGEST = 100_000
_WORD = re.compile(r"[A-Za-z0-9]+")
_EPOCH = datetime.date(2024, 1, 1)


def instance_for(schema: Mapping[str, Any], seed: str) -> Any:
    """A deterministic instance of ``schema`` whose strings come from ``seed``::

    instance_for({"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"], "additionalProperties": False}, "Paris")
    # {"city": "Paris"}
    """
    return _Builder(schema, seed).build(schema, 0)


class _Builder:
    def __init__(self, root: Mapping[str, Any], seed: str) -> None:
        self.root = root
        self.text = " ".join(seed.split()) or "emulated"
        self.words = _WORD.findall(seed) or ["emulated"]
        self.count = max(1, len(seed.split()))
        self.left = _MOST * 100  # values built, at most
        self.digest = hashlib.sha256(seed.encode("utf-8", "replace")).digest()

    def resolve(self, schema: Any) -> Any:
        """Follow ``$ref`` (to the root, ``$defs`` or ``definitions``), a few times at most."""
        for _ in range(32):
            if not isinstance(schema, Mapping) or not isinstance(schema.get("$ref"), str):
                return schema
            target: Any = self.root
            ref = schema["$ref"]
            for part in ref.lstrip("#").split("/"):
                if part:
                    part = part.replace("~1", "/").replace("~0", "~")
                    target = target.get(part) if isinstance(target, Mapping) else None
            if target is None:
                return {}
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **extra} if extra else target
        return {}

    def build(self, schema: Any, depth: int) -> Any:
        self.left -= 1
        # A schema that cannot end (a required cycle) or multiplies arrays: stop, invalid.
        if depth > 64 or self.left < 0:
            return None
        schema = self.resolve(schema)
        if schema is True or not isinstance(schema, Mapping):
            return self.text
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.build(self._branch(branches, depth), depth + 1)
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part)
                if isinstance(part, Mapping):
                    props = {**merged.get("properties", {}), **part.get("properties", {})}
                    required = [*merged.get("required", []), *part.get("required", [])]
                    merged.update(part)
                    merged.update(properties=props, required=required)
            return self.build(merged, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind == "string":
            return self._string(schema)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.text

    def _branch(self, branches: Sequence[Any], depth: int) -> Any:
        resolved = [self.resolve(b) for b in branches]
        others = [b for b in resolved if not _is_null(b)]
        if depth >= _DEEP and len(others) < len(resolved):
            return {"type": "null"}
        return others[0] if others else resolved[0]

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        out = {name: self.build(sub, depth + 1) for name, sub in props.items()}
        extra = schema.get("additionalProperties", True)
        required = schema.get("required")
        for name in required if isinstance(required, list) else []:
            if isinstance(name, str) and name not in out:
                out[name] = self.build(extra if isinstance(extra, Mapping) else {}, depth + 1)
        if not out and extra is not False:
            out["text"] = self.build(extra if isinstance(extra, Mapping) else {}, depth + 1)
        return out

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        low = _int(schema.get("minItems"), 0) or 0
        high = _int(schema.get("maxItems"), None)
        wanted = min(max(low, len(prefix), 0 if depth >= _DEEP else 1), _MOST)
        if high is not None:
            wanted = min(wanted, high)
        items = schema.get("items", {})
        out = []
        for index in range(wanted):
            sub = prefix[index] if index < len(prefix) else items
            out.append(self.build(sub, depth + 1))
        return out

    def _string(self, schema: Mapping[str, Any]) -> str:
        text = _formatted(schema.get("format"), self) or self.text
        low = min(_int(schema.get("minLength"), 0) or 0, _LONGEST)
        high = _int(schema.get("maxLength"), None)
        while len(text) < low:
            text = f"{text} {self.text}"
        return text if high is None else text[:high]

    def _integer(self, schema: Mapping[str, Any]) -> int:
        (low, low_open), (high, high_open) = _bounds(schema)
        value = self.count
        if low is not None:
            value = max(value, math.floor(low) + 1 if low_open else math.ceil(low))
        if high is not None:
            value = min(value, math.ceil(high) - 1 if high_open else math.floor(high))
        return value

    def _number(self, schema: Mapping[str, Any]) -> float:
        (low, low_open), (high, high_open) = _bounds(schema)
        value = self.count + 0.5
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if not (below or above):
            return value
        if low is not None and high is not None:
            return (low + high) / 2  # strictly inside, whichever bounds are exclusive
        if low is not None:
            return low + 1 if low_open else low
        assert high is not None
        return high - 1 if high_open else high

    def day(self) -> datetime.date:
        return _EPOCH + datetime.timedelta(days=self.digest[0] + 256 * (self.digest[1] % 4))


def _formatted(fmt: Any, builder: _Builder) -> str | None:
    slug = "-".join(word.lower() for word in builder.words[:4])
    if fmt == "date":
        return builder.day().isoformat()
    if fmt == "date-time":
        return f"{builder.day().isoformat()}T12:00:00Z"
    if fmt == "time":
        return "12:00:00Z"
    if fmt == "email":
        return f"{slug}@example.com"
    if fmt in ("uri", "url"):
        return f"https://example.com/{slug}"
    if fmt == "uuid":
        return str(uuid.UUID(bytes=builder.digest[:16], version=4))
    if fmt == "byte":
        return base64.b64encode(builder.text.encode()).decode()
    return None


def _kind(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        names = [k for k in kind if isinstance(k, str)]
        kind = next((k for k in names if k != "null"), names[0] if names else None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _int(value: Any, default: int | None) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


_Bound = tuple[float | None, bool]


def _bounds(schema: Mapping[str, Any]) -> tuple[_Bound, _Bound]:
    """``((low, exclusive), (high, exclusive))``: the tighter of each pair of keywords."""

    def number(key: str) -> float | None:
        value = schema.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value if math.isfinite(value) else None  # parse_json lets Infinity in
        return None

    low: _Bound = (number("minimum"), False)
    high: _Bound = (number("maximum"), False)
    open_low, open_high = number("exclusiveMinimum"), number("exclusiveMaximum")
    if open_low is not None and (low[0] is None or open_low >= low[0]):
        low = (open_low, True)
    if open_high is not None and (high[0] is None or open_high <= high[0]):
        high = (open_high, True)
    return low, high


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function tool as every API offers it: its name and its parameters schema."""

    name: str
    parameters: Mapping[str, Any]


class Conversation(NamedTuple):
    """Where a conversation stands, read the same way from every API's request."""

    #: Whether the last message is the user's.
    last_is_user: bool
    #: The trailing tool results' text; None when the last message is no tool result.
    result: str | None
    #: The tools called since the last user message.
    called: list[str]


def tool_for(
    tools: Sequence[ToolSpec], choice: tuple[str, str | None], prompt: str, where: Conversation
) -> ToolSpec | None:
    """:func:`choose_tool` for one request: its tools, its ``(mode, name)`` tool choice, the
    last user text and where the conversation stands."""
    mode, named = choice
    return choose_tool(
        tools,
        mode=mode,
        named=named,
        last_user_text=prompt,
        last_is_user=where.last_is_user,
        after_tool_result=where.result is not None,
        called=where.called,
    )


def choose_tool(
    tools: Sequence[ToolSpec],
    *,
    mode: str,
    named: str | None,
    last_user_text: str,
    last_is_user: bool,
    after_tool_result: bool,
    called: Sequence[str] = (),
) -> ToolSpec | None:
    """The tool the emulated model calls, or None for a text reply (the module's rule).

    ``mode`` is ``auto``, ``none``, ``required`` or ``named`` (then ``named`` is the name);
    ``called`` holds the tools already called since the last user message.
    """
    if not tools or mode == "none":
        return None
    if mode == "named":
        found = next((tool for tool in tools if tool.name == named), None)
        return found or ToolSpec(named or tools[0].name, {"type": "object"})
    ranked = _ranked(tools, last_user_text)
    if mode == "required":
        return next((tool for tool in ranked if tool.name not in called), ranked[0])
    if after_tool_result or not last_is_user:
        return None
    return ranked[0]


def _ranked(tools: Sequence[ToolSpec], text: str) -> list[ToolSpec]:
    """``tools`` with the ones the text mentions first, earliest mention first."""
    lowered = text.lower()

    def position(tool: ToolSpec) -> int:
        found = [
            match.start()
            for name in {tool.name.lower(), tool.name.lower().replace("_", " ")}
            if name
            for match in [re.search(rf"(?<!\w){re.escape(name)}(?!\w)", lowered)]
            if match is not None
        ]
        return min(found) if found else len(lowered) + 1

    def key(item: tuple[int, ToolSpec]) -> tuple[int, int, int]:
        index, tool = item
        at = position(tool)
        # A longer name found at the same place wins ("get_weather" over "get").
        return (at, -len(tool.name) if at <= len(lowered) else 0, index)

    return [tool for _, tool in sorted(enumerate(tools), key=key)]


def json_pieces(text: str, size: int = 12) -> list[str]:
    """``text`` (a JSON document) cut in pieces of ``size`` characters, as streamed JSON is."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def structured_text(schema: Mapping[str, Any] | None, seed: str) -> str:
    """The reply text under a JSON response format: an instance of ``schema`` as
    ``json.dumps`` writes it, or ``{"text": seed}`` for a ``json_object`` format (``None``)."""
    value = {"text": seed} if schema is None else instance_for(schema, seed)
    return json.dumps(value)
