"""Config problems as one-line errors, and the text-level steps before validation.

Every problem surfaces as one :class:`ConfigError` whose message is a single line
``<dotted.field.path>: <what is wrong and how to fix it>``, built from the location and message of
each validation error only, so a secret in the input can never leak into it: a key the schema
does not know is shown by its position (a secret pasted as a key must not land in logs), a
secret field's problem by its type alone, and any input a message would quote is cut out.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

__all__ = [
    "ConfigError",
    "FieldErrors",
    "Loc",
    "config_error",
    "config_path",
    "expand",
    "parse_text",
    "unknown_key",
]

Loc = tuple[str | int, ...]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# A quoted piece of a PyYAML problem: kept when it is one (escaped) character or a token name
# such as '<stream end>', cut otherwise (an alias or tag name may be a pasted secret).
_YAML_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# Pieces of input shorter than this are not looked for in messages: too short to be a credential.
_MIN_SCRUBBED = 4
_NOT_SHOWN = "<value not shown>"
# What is wrong with a secret field, by error type; its value is never looked at.
_SECRET_PROBLEMS = {
    "string_type": "must be a string",
    "tuple_type": "must be a list of strings",
    "list_type": "must be a list of strings",
}


class ConfigError(ValueError):
    """An invalid gateway configuration; ``str(exc)`` is one line naming the field at fault.

    ``exc.field`` is the first dotted path (a file or variable when no field is to blame) and
    ``exc.errors`` every ``(field, message)`` pair, first one first::

        try:
            GatewayConfig.load("gateway.yaml")
        except ConfigError as exc:
            sys.exit(f"azure-asgi: {exc}")
    """

    def __init__(self, field: str, message: str, *more: tuple[str, str]) -> None:
        # Everything goes to args so the exception pickles (``cls(*args)``) across processes.
        super().__init__(field, message, *more)
        self.field = field
        self.errors: tuple[tuple[str, str], ...] = ((field, message), *more)

    def __str__(self) -> str:
        return "; ".join(f"{field}: {message}" for field, message in self.errors)


class FieldErrors(ValueError):
    """Raised by cross-field validators to blame precise fields relative to the model."""

    def __init__(self, errors: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


def parse_text(where: str, text: str, suffix: str) -> Any:
    """JSON for ``.json``, YAML for ``.yaml``/``.yml``, else JSON then YAML."""
    # Errors are raised outside the except blocks, so no parser exception rides along as
    # __context__: JSONDecodeError holds the whole document and str(YAMLError) quotes a line.
    if suffix not in (".yaml", ".yml"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        if suffix == ".json":
            raise ConfigError(where, problem)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        said = getattr(exc, "problem", None) or "syntax error"
        problem = f"invalid YAML{at}: {_YAML_QUOTED.sub(_short_quote, said)}"
    raise ConfigError(where, problem)


def _short_quote(match: re.Match[str]) -> str:
    quoted = match.group(0)
    inner = quoted[1:-1]
    keep = len(inner) <= 2 or (inner.startswith("<") and inner.endswith(">"))
    return quoted if keep else f"{quoted[0]}...{quoted[-1]}"


def expand(value: Any, env: Mapping[str, str], loc: Loc, unset: list[tuple[Loc, str]]) -> Any:
    """``${VAR}`` / ``${VAR:-default}`` in every string value, recursively; keys stay as is.

    Each unset variable is reported in ``unset`` at its location, to be shown with
    :func:`config_path` (which never shows a key the schema does not know).
    """
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = env.get(name)
            if default is not None:
                return found or default  # shell semantics: unset or empty takes the default
            if found is None:
                hint = f"use ${{{name}:-default}} for a default"
                unset.append((loc, f"environment variable {name} is not set ({hint})"))
                return ""
            return found

        return _VAR.sub(substitute, value)
    if isinstance(value, Mapping):
        return {
            k: expand(v, env, (*loc, k if isinstance(k, str | int) else str(k)), unset)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [expand(v, env, (*loc, i), unset) for i, v in enumerate(value)]
    return value


def unknown_key(parent: str, index: int | None, allowed: Iterable[str], what: str = "") -> str:
    """The message for a key that may not be there, naming its position, never its text."""
    where = f"the {_ordinal(index + 1)} key of {parent}" if index is not None else parent
    names = ", ".join(allowed) or "see docs/configuration.md"
    return f"{what or 'an unknown key'} ({where}; allowed: {names})"


def config_error(exc: ValidationError, root: type[BaseModel], data: Any = None) -> ConfigError:
    """One ConfigError from pydantic's errors, reading only ``loc``, ``type`` and ``msg``.

    ``data`` is what was validated; it is only used to tell an unknown key's position.
    """
    found: list[tuple[str, str]] = []
    for error in exc.errors():
        loc: Loc = tuple(error["loc"])
        kind = error["type"]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldErrors):
            found += [(config_path(root, loc + sub, data), msg) for sub, msg in cause.errors]
            continue
        if kind in ("extra_forbidden", "invalid_key"):
            found.append(_unknown_key_error(root, loc, data, kind))
            continue
        place = _walk(root, loc, data)
        if kind == "missing":
            msg = "required field is missing"
        elif place.secret:
            problem = _SECRET_PROBLEMS.get(kind, "is not a valid value for this secret")
            msg = f"{problem} (the value is not shown)"
        else:
            msg = _scrub(error["msg"].removeprefix("Value error, "), error.get("input"))
        found.append((place.path, msg))
    return ConfigError(*found[0], *found[1:])


def config_path(root: type[BaseModel], loc: Loc, data: Any = None) -> str:
    """The dotted path of ``loc``, a key unknown to the schema shown as ``<3rd key>``."""
    return _walk(root, loc, data).path


def _unknown_key_error(root: type[BaseModel], loc: Loc, data: Any, kind: str) -> tuple[str, str]:
    parent = _walk(root, loc[:-1], data)
    node = parent.node
    index = list(node).index(loc[-1]) if isinstance(node, Mapping) and loc[-1] in node else None
    models = [m for m in _members(parent.tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    allowed = list(models[0].model_fields) if models else []
    what = "a key that is not a string" if kind == "invalid_key" else ""
    return parent.path, unknown_key(parent.path, index, allowed, what)


def _scrub(message: str, value: Any) -> str:
    """``message`` with any string of ``value`` it quotes cut out.

    pydantic's own messages never quote the input; this keeps a validator that does from
    leaking a secret. Only quoted occurrences are cut, so that a message's own example text
    ("such as https://...") stays whole when the input happens to be part of it.
    """
    for text in sorted(set(_strings(value)), key=len, reverse=True):
        for quote in ("'", '"'):
            message = message.replace(f"{quote}{text}{quote}", f"{quote}{_NOT_SHOWN}{quote}")
    return message


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        if len(value) >= _MIN_SCRUBBED:
            yield value
    elif depth < 8 and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key, depth + 1)
            yield from _strings(item, depth + 1)
    elif depth < 8 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item, depth + 1)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _members(tp: Any) -> list[Any]:
    """The members of a union (Annotated stripped), or ``[tp]``."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        return [_members(m)[0] for m in get_args(tp) if m is not type(None)]
    return [tp]


def _holds_secret(tp: Any) -> bool:
    for member in _members(tp):
        if member is SecretStr:
            return True
        if get_origin(member) in (tuple, list) and SecretStr in get_args(member):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Place:
    path: str  # what is shown: "config" for the root
    tp: Any  # the schema's type there, None when unknown
    node: Any  # the input there, None when unknown
    secret: bool  # at or inside a secret field


def _walk(root: type[BaseModel], loc: Loc, data: Any = None) -> _Place:
    """Where ``loc`` points: its displayable path (union tags dropped, the first key unknown to
    the schema shown by position and nothing under it), the type and the input found there."""
    tp: Any = root
    node = data
    secret = False
    shown: list[str] = []
    for part in loc:
        members = _members(tp)
        tagged = [m for m in members if getattr(m, "__name__", None) == part]
        if len(members) > 1 and tagged:
            tp = tagged[0]  # a union member's tag, not a field: pydantic's, not the user's
            continue
        tp = members[0] if len(members) == 1 else None
        if part == "[key]":
            shown.append(part)  # pydantic's marker for a mapping key that failed validation
            tp = node = None
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                shown.append(_position(node, part))
                return _Place(".".join(shown), None, None, secret)
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[-1]  # a free-form mapping (deployment aliases): keys are names
        elif get_origin(tp) in (tuple, list) and isinstance(part, int):
            tp = get_args(tp)[0]
        else:
            shown.append(_position(node, part))  # nothing the schema knows: not shown
            return _Place(".".join(shown), None, None, secret)
        shown.append(str(part))
        node = _child(node, part)
        secret = secret or _holds_secret(tp)
    return _Place(".".join(shown) or "config", tp, node, secret)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _position(node: Any, part: str | int) -> str:
    if isinstance(node, Mapping) and part in node:
        return f"<{_ordinal(list(node).index(part) + 1)} key>"
    if isinstance(part, int):
        return str(part)
    return "<a key>"
