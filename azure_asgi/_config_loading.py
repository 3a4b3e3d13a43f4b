"""Config problems as one-line errors, and the text-level steps before validation.

Every problem surfaces as one :class:`ConfigError` whose message is a single line
``<dotted.field.path>: <what is wrong and how to fix it>``, built from the location and message of
each validation error only, so a secret in the input can never leak into it.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "FieldErrors", "Loc", "config_error", "expand", "parse_text"]

Loc = tuple[str | int, ...]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
        problem = f"invalid YAML{at}: {getattr(exc, 'problem', None) or 'syntax error'}"
    raise ConfigError(where, problem)


def expand(value: Any, env: Mapping[str, str], loc: Loc, unset: list[tuple[str, str]]) -> Any:
    """``${VAR}`` / ``${VAR:-default}`` in every string value, recursively; keys stay as is."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = env.get(name)
            if default is not None:
                return found or default  # shell semantics: unset or empty takes the default
            if found is None:
                hint = f"use ${{{name}:-default}} for a default"
                path = ".".join(map(str, loc)) or "config"
                unset.append((path, f"environment variable {name} is not set ({hint})"))
                return ""
            return found

        return _VAR.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: expand(v, env, (*loc, str(k)), unset) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [expand(v, env, (*loc, i), unset) for i, v in enumerate(value)]
    return value


def config_error(exc: ValidationError, root: type[BaseModel]) -> ConfigError:
    """One ConfigError from pydantic's errors, reading only ``loc``, ``type`` and ``msg``."""
    found: list[tuple[str, str]] = []
    for error in exc.errors():
        loc: Loc = tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldErrors):
            found += [(_display(root, loc + sub), msg) for sub, msg in cause.errors]
            continue
        msg = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            msg = "required field is missing"
        elif error["type"] == "extra_forbidden":
            model = _model_at(root, loc[:-1])
            allowed = ", ".join(model.model_fields) if model is not None else "see the docs"
            msg = f"unknown field (allowed: {allowed})"
        found.append((_display(root, loc), msg))
    return ConfigError(*found[0], *found[1:])


def _members(tp: Any) -> list[Any]:
    """The members of a union (Annotated stripped), or ``[tp]``."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        return [_members(m)[0] for m in get_args(tp) if m is not type(None)]
    return [tp]


def _walk(root: type[BaseModel], loc: Loc) -> tuple[list[str], Any]:
    """The displayable path of ``loc`` (union tags dropped) and the type found there."""
    tp: Any = root
    shown: list[str] = []
    for part in loc:
        members = _members(tp)
        tagged = [m for m in members if getattr(m, "__name__", None) == part]
        if len(members) > 1 and tagged:
            tp = tagged[0]  # a union member's tag, not a field: pydantic's, not the user's
            continue
        shown.append(str(part))
        tp = members[0] if len(members) == 1 else None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            tp = field.annotation if field is not None else None
        elif get_origin(tp) in (tuple, dict):
            tp = get_args(tp)[-1] if get_origin(tp) is dict else get_args(tp)[0]
        else:
            tp = None
    return shown, tp


def _display(root: type[BaseModel], loc: Loc) -> str:
    return ".".join(_walk(root, loc)[0]) or "config"


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    found = _members(_walk(root, loc)[1])
    models = [m for m in found if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if models else None
