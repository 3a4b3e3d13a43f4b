"""One descriptor per operation: everything the route table, the upstream and the relay need.

Adding an operation means adding one :class:`Operation` to :data:`OPERATIONS`; the app, the
middleware and the upstream code read these descriptors and never name an operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "OPERATIONS",
    "REQUEST_TYPES",
    "STATEFUL_OBJECTS",
    "STATEFUL_TYPES",
    "Operation",
    "markdown_table",
]

#: ``json_or_multipart``: JSON, or multipart when the caller attaches a file (video creation).
BodyKind = Literal["json", "multipart", "json_or_multipart", "none"]
#: How the upstream target is chosen: by the requested model, by the object id in the path, by
#: the ``x-azure-resource`` header (else ``default_resource``), or every resource at once.
RoutedBy = Literal["model", "object", "resource", "all"]
#: The upstream URL family in the default (deployments) style.
Upstream = Literal["deployment", "v1", "batches"]
#: Who answers: the upstream (through a family adapter), or the gateway's merged model list.
Handler = Literal["upstream", "model_list"]
#: Which API the route speaks: OpenAI-shaped (``/v1``, ``/openai/...``) or Anthropic's
#: Messages API (``/anthropic/v1/...``, errors in Anthropic's shape).
Api = Literal["openai", "anthropic"]

#: ``object`` values of things that live on one resource and are fetched again by id.
STATEFUL_OBJECTS = frozenset({"file", "batch", "response", "video", "fine_tuning.job"})

#: ``request_type`` of operations whose answers hold such objects.
STATEFUL_TYPES = frozenset({"responses", "file", "batch", "video", "fine_tuning"})

_DONE = (b"data: [DONE]",)


@dataclass(frozen=True, slots=True)
class Operation:
    """How one OpenAI-shaped operation is routed, validated and sent upstream."""

    #: ``request_type`` in ``extra_fields`` and errors (docs/routes.md).
    request_type: str
    method: str
    #: Path below ``/v1/`` with ``{id}`` for an object id: served at ``/v1/<path>``,
    #: ``/openai/v1/<path>`` and (Azure's pre-v1 routes) ``/openai/<path>``.
    path: str
    routed_by: RoutedBy = "model"
    upstream: Upstream = "v1"
    #: For deployment operations: also served at ``/openai/deployments/{d}/<this>``.
    deployment_op: str | None = None
    body: BodyKind = "json"
    streamable: bool = False
    #: Fields a JSON body must carry, with their type, checked before any upstream call.
    required: tuple[tuple[str, type | tuple[type, ...]], ...] = ()
    #: Events one of which ends a complete stream; a stream that ends otherwise was cut.
    stream_terminal: tuple[bytes, ...] = ()
    #: Default api-version where Azure's GA version lacks the operation.
    api_version: str | None = None
    #: False for operations Azure does not offer: 400 ``unsupported_operation``, nothing sent.
    supported: bool = True
    #: The model families (``families/``) that serve this operation; a deployment of another
    #: family gets 400 ``unsupported_operation`` with nothing sent.
    families: tuple[str, ...] = ("openai",)
    handler: Handler = "upstream"
    api: Api = "openai"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.split("/"))

    @property
    def stateful(self) -> bool:
        """Whether answers carry ids of objects that live on one resource (to be tagged)."""
        return self.request_type in STATEFUL_TYPES


def _deployment(
    request_type: str,
    op: str,
    *,
    body: BodyKind = "json",
    streamable: bool = False,
    required: tuple[tuple[str, type | tuple[type, ...]], ...] = (),
    stream_terminal: tuple[bytes, ...] = (),
    api_version: str | None = None,
    families: tuple[str, ...] = ("openai",),
) -> Operation:
    return Operation(
        request_type,
        "POST",
        op,
        upstream="deployment",
        deployment_op=op,
        body=body,
        streamable=streamable,
        required=required,
        stream_terminal=stream_terminal,
        api_version=api_version,
        families=families,
    )


def _crud(request_type: str, base: str, *extra: tuple[str, str]) -> tuple[Operation, ...]:
    """List/retrieve/delete-style routes of a stateful object family."""
    ops = [
        Operation(request_type, "GET", base, routed_by="resource", body="none"),
        Operation(request_type, "GET", f"{base}/{{id}}", routed_by="object", body="none"),
    ]
    ops += [
        Operation(request_type, method, f"{base}/{{id}}{suffix}", routed_by="object", body="none")
        for method, suffix in extra
    ]
    return tuple(ops)


_TEXT = (str, list)
_RESPONSE_END = (b"response.completed", b"response.failed", b"response.incomplete")
#: Chat Completions and Responses are served by Claude deployments too, translated.
_BOTH = ("openai", "anthropic")

OPERATIONS: tuple[Operation, ...] = (
    _deployment(
        "chat_completion",
        "chat/completions",
        streamable=True,
        required=(("messages", list),),
        stream_terminal=_DONE,
        families=_BOTH,
    ),
    _deployment(
        "text_completion",
        "completions",
        streamable=True,
        required=(("prompt", _TEXT),),
        stream_terminal=_DONE,
    ),
    _deployment("embedding", "embeddings", required=(("input", _TEXT),)),
    _deployment(
        "image_generation",
        "images/generations",
        streamable=True,
        required=(("prompt", str),),
        stream_terminal=(b"image_generation.completed",),
    ),
    _deployment(
        "image_edit",
        "images/edits",
        body="multipart",
        streamable=True,
        stream_terminal=(b"image_edit.completed",),
        api_version="2025-04-01-preview",
    ),
    Operation("image_variation", "POST", "images/variations", body="multipart", supported=False),
    _deployment(
        "speech",
        "audio/speech",
        required=(("input", str),),
        api_version="2025-03-01-preview",
    ),
    _deployment("transcription", "audio/transcriptions", body="multipart"),
    _deployment("translation", "audio/translations", body="multipart"),
    # Responses: created by model, then an object like any other.
    Operation(
        "responses",
        "POST",
        "responses",
        streamable=True,
        stream_terminal=_RESPONSE_END,
        families=_BOTH,
    ),
    Operation("responses", "DELETE", "responses/{id}", routed_by="object", body="none"),
    Operation("responses", "GET", "responses/{id}", routed_by="object", body="none"),
    Operation("responses", "GET", "responses/{id}/input_items", routed_by="object", body="none"),
    Operation("responses", "POST", "responses/{id}/cancel", routed_by="object", body="none"),
    # Files.
    Operation("file", "POST", "files", routed_by="resource", body="multipart"),
    *_crud("file", "files", ("DELETE", ""), ("GET", "/content")),
    # Batches: Azure's pre-v1 batch API in the deployments style.
    Operation(
        "batch",
        "POST",
        "batches",
        routed_by="resource",
        upstream="batches",
        required=(("input_file_id", str),),
    ),
    *(
        Operation(
            op.request_type,
            op.method,
            op.path,
            routed_by=op.routed_by,
            upstream="batches",
            body=op.body,
        )
        for op in _crud("batch", "batches", ("POST", "/cancel"))
    ),
    # Models: every resource's list, merged with the configured aliases.
    Operation("list_models", "GET", "models", routed_by="all", body="none", handler="model_list"),
    Operation(
        "list_models", "GET", "models/{id}", routed_by="object", body="none", handler="model_list"
    ),
    # Videos (Sora).
    Operation("video", "POST", "videos", body="json_or_multipart"),
    *_crud("video", "videos", ("DELETE", ""), ("GET", "/content")),
    Operation("video", "POST", "videos/{id}/remix", routed_by="object", supported=False),
    # Fine-tuning: the body's model is a base model and passes unchanged.
    Operation(
        "fine_tuning",
        "POST",
        "fine_tuning/jobs",
        routed_by="resource",
        required=(("model", str), ("training_file", str)),
    ),
    *_crud(
        "fine_tuning",
        "fine_tuning/jobs",
        ("POST", "/cancel"),
        ("GET", "/events"),
        ("GET", "/checkpoints"),
    ),
    # Claude's own Messages API (``/anthropic/v1/...``): bodies pass with ``model`` replaced.
    Operation(
        "messages",
        "POST",
        "messages",
        streamable=True,
        required=(("messages", list),),
        stream_terminal=(b"message_stop",),
        families=("anthropic",),
        api="anthropic",
    ),
    Operation(
        "messages",
        "POST",
        "messages/count_tokens",
        required=(("messages", list),),
        families=("anthropic",),
        api="anthropic",
    ),
)

#: Every ``request_type`` the gateway knows (config's ``api_versions`` keys must be among them).
REQUEST_TYPES = frozenset(op.request_type for op in OPERATIONS)


def _routes(op: Operation) -> str:
    if op.api == "anthropic":
        return f"`/anthropic/v1/{op.path}`"
    routes = [f"`/v1/{op.path}`", f"`/openai/v1/{op.path}`"]
    if op.deployment_op is not None:
        routes.append(f"`/openai/deployments/{{d}}/{op.deployment_op}`")
    else:
        routes.append(f"`/openai/{op.path}`")
    return "<br>".join(routes)


def _upstream(op: Operation) -> str:
    if not op.supported:
        return "none: 400 `unsupported_operation`"
    if op.api == "anthropic":
        return f"`/anthropic/v1/{op.path}` (Claude deployments)"
    if op.upstream == "deployment":
        version = f" (default `{op.api_version}`)" if op.api_version else ""
        return f"`/openai/deployments/{{d}}/{op.deployment_op}?api-version=`{version}"
    if op.upstream == "batches":
        return f"`/openai/{op.path}?api-version=`"
    return f"`/openai/v1/{op.path}`"


_ROUTED = {
    "model": "model",
    "object": "id's resource",
    "resource": "`x-azure-resource` / default",
    "all": "every resource",
}


def markdown_table() -> str:
    """``docs/operations.md``, generated from :data:`OPERATIONS` (a test keeps it current)."""
    lines = [
        "# Operations",
        "",
        "Generated from `azure_asgi/_operations.py` by "
        "`python -m azure_asgi._operations > docs/operations.md`; a test fails when it drifts.",
        "",
        "Upstream URLs are for the default `api_style: deployments`. With `api_style: v1` every",
        "call goes to `/openai/v1/<path>` with `model` = deployment; a `kind: openai` resource is",
        "called at `<endpoint>/<path>`. Routes are relative to the gateway's mount point; "
        "`/openai/<path>` routes take `?api-version=` as Azure's own do.",
        "",
        "| request_type | method | routes | routed by | body | stream | upstream |",
        "|---|---|---|---|---|---|---|",
    ]
    for op in OPERATIONS:
        stream = "SSE" if op.streamable else ""
        lines.append(
            f"| `{op.request_type}` | {op.method} | {_routes(op)} | {_ROUTED[op.routed_by]} "
            f"| {op.body} | {stream} | {_upstream(op)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
