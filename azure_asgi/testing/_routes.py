"""The emulator's route table: which operation a method and raw path are for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "BODY_FORM",
    "BODY_JSON",
    "BODY_NONE",
    "STYLE_CLASSIC",
    "STYLE_DEPLOYMENT",
    "STYLE_MESSAGES",
    "STYLE_V1",
    "Op",
    "Route",
    "route_of",
]

BODY_JSON, BODY_FORM, BODY_NONE = "json", "form", "none"
# deployment: /openai/deployments/{d}/...?api-version=  (api-key only, api-version required)
# v1:         /openai/v1/...                           (bearer keys too, api-version optional)
# classic:    /openai/{files,batches,...}?api-version= (api-key only, api-version required)
STYLE_DEPLOYMENT, STYLE_V1, STYLE_CLASSIC, STYLE_MESSAGES = (
    "deployment",
    "v1",
    "classic",
    "messages",
)


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: its handler name, its body kind, and whether it names a deployment."""

    name: str
    body: str = BODY_NONE
    model: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """A matched path: its style, the operations by HTTP method, and the path's names."""

    style: str
    ops: Mapping[str, Op]
    deployment: str | None = None
    object_id: str | None = None

    @property
    def allow(self) -> str:
        return ", ".join(sorted(self.ops))


def _post(name: str, body: str = BODY_JSON, model: bool = True) -> dict[str, Op]:
    return {"POST": Op(name, body, model)}


# Operations that run on a deployment: under /openai/deployments/{d}/ and /openai/v1/.
_INFERENCE: dict[str, dict[str, Op]] = {
    "chat/completions": _post("chat"),
    "completions": _post("completions"),
    "embeddings": _post("embeddings"),
    "images/generations": _post("images.generate"),
    "images/edits": _post("images.edit", BODY_FORM),
    "audio/speech": _post("audio.speech"),
    "audio/transcriptions": _post("audio.transcribe", BODY_FORM),
    "audio/translations": _post("audio.translate", BODY_FORM),
}

# Stateful resources: "" is the collection, "{id}" one object, other keys "{id}/<action>".
_RESOURCES: dict[str, dict[str, dict[str, Op]]] = {
    "files": {
        "": {"GET": Op("files.list"), "POST": Op("files.create", BODY_FORM)},
        "{id}": {"GET": Op("files.retrieve"), "DELETE": Op("files.delete")},
        "content": {"GET": Op("files.content")},
    },
    "batches": {
        "": {"GET": Op("batches.list"), "POST": Op("batches.create", BODY_JSON)},
        "{id}": {"GET": Op("batches.retrieve")},
        "cancel": {"POST": Op("batches.cancel")},
    },
    "models": {
        "": {"GET": Op("models.list")},
        "{id}": {"GET": Op("models.retrieve")},
    },
    "responses": {
        "": _post("responses.create"),
        "{id}": {"GET": Op("responses.retrieve"), "DELETE": Op("responses.delete")},
        "input_items": {"GET": Op("responses.input_items")},
        "cancel": {"POST": Op("responses.cancel")},
    },
    "videos": {
        "": {"GET": Op("videos.list"), "POST": Op("videos.create", BODY_FORM, True)},
        "{id}": {"GET": Op("videos.retrieve"), "DELETE": Op("videos.delete")},
        "content": {"GET": Op("videos.content")},
    },
    "fine_tuning/jobs": {
        "": {"GET": Op("fine_tuning.list"), "POST": Op("fine_tuning.create", BODY_JSON)},
        "{id}": {"GET": Op("fine_tuning.retrieve")},
        "cancel": {"POST": Op("fine_tuning.cancel")},
        "events": {"GET": Op("fine_tuning.events")},
        "checkpoints": {"GET": Op("fine_tuning.checkpoints")},
    },
}
# The resources Azure also serves as /openai/{resource}?api-version= (videos are v1 only).
_CLASSIC = frozenset({"files", "batches", "models", "responses", "fine_tuning/jobs"})
_MESSAGES = Route(STYLE_MESSAGES, _post("messages", model=False))
_COUNT_TOKENS = Route(STYLE_MESSAGES, _post("messages.count_tokens", model=False))


def _resource(style: str, parts: list[str]) -> Route | None:
    for size in (2, 1):
        name = "/".join(parts[:size])
        table = _RESOURCES.get(name)
        if table is None or (style == STYLE_CLASSIC and name not in _CLASSIC):
            continue
        rest = parts[size:]
        if not rest:
            return Route(style, table[""])
        if not rest[0] or len(rest) > 2:
            return None
        if len(rest) == 1:
            ops: dict[str, Op] | None = table["{id}"]
        else:
            ops = table.get(rest[1]) if rest[1] not in ("", "{id}") else None
        return None if ops is None else Route(style, ops, object_id=unquote(rest[0]))
    return None


def route_of(raw_path: str) -> Route | None:
    """The route of a raw path, or None; path names are percent-decoded.

    The deployment is taken from the raw path, so an encoded ``/`` stays inside the name.
    """
    path = raw_path.rstrip("/")
    if path == "/anthropic/v1/messages":
        return _MESSAGES
    if path == "/anthropic/v1/messages/count_tokens":
        return _COUNT_TOKENS
    parts = path.split("/")
    if len(parts) < 3 or parts[:2] != ["", "openai"]:
        return None
    if parts[2] == "deployments":
        if len(parts) < 5 or not parts[3]:
            return None
        ops = _INFERENCE.get("/".join(parts[4:]))
        return None if ops is None else Route(STYLE_DEPLOYMENT, ops, deployment=unquote(parts[3]))
    if parts[2] == "v1":
        ops = _INFERENCE.get("/".join(parts[3:]))
        return Route(STYLE_V1, ops) if ops is not None else _resource(STYLE_V1, parts[3:])
    return _resource(STYLE_CLASSIC, parts[2:])
