"""One descriptor per operation: everything the route table, the upstream and the relay need.

Adding an operation means adding one :class:`Operation` to :data:`OPERATIONS`; the app, the
middleware and the upstream code read these descriptors and never name an operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["OPERATIONS", "Operation"]

BodyKind = Literal["json", "multipart", "none"]


@dataclass(frozen=True, slots=True)
class Operation:
    """How one OpenAI-shaped operation is routed, validated and sent upstream."""

    #: ``request_type`` in ``extra_fields`` and errors (contract section 7).
    request_type: str
    #: Unified route, relative to the mount: ``/v1/...``. Also served under ``/openai/v1/...``.
    unified_path: str
    #: The path after ``/openai/deployments/{deployment}/`` on Azure routes and upstream.
    deployment_op: str
    method: str = "POST"
    body: BodyKind = "json"
    streamable: bool = False
    #: Fields a JSON body must carry, with the type they must have, checked before any upstream
    #: call so a malformed request never costs an upstream round trip.
    required: tuple[tuple[str, type], ...] = ()
    #: The last SSE event of a complete stream; a stream that ends without it was cut.
    stream_terminal: bytes | None = None


CHAT_COMPLETIONS = Operation(
    request_type="chat_completion",
    unified_path="/v1/chat/completions",
    deployment_op="chat/completions",
    streamable=True,
    required=(("messages", list),),
    stream_terminal=b"data: [DONE]",
)

OPERATIONS: tuple[Operation, ...] = (CHAT_COMPLETIONS,)
