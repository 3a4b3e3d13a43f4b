"""The emulator ASGI app: routing, api-key checking, recording, faults and streaming."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._asgi import (
    Headers,
    Receive,
    Scope,
    Send,
    StreamCut,
    lifespan,
    read_body,
    respond,
    send_stream,
)
from ._faults import Effects, Fault, FaultQueue
from ._messages import (
    anthropic_error,
    messages_events,
    messages_json,
    plan_messages,
    validate_messages,
)
from ._replies import DEFAULT_MODEL, azure_error, chat_events, chat_json, plan_chat, validate_chat
from ._requests import ROUTE_DEPLOYMENT, ROUTE_MESSAGES, ROUTE_V1, RecordedRequest, parse_request

__all__ = ["AzureEmulator", "RecordedRequest"]

_NOT_FOUND = azure_error("404", "Resource not found")
_UNAUTHORIZED = azure_error(
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource.",
)
_DEPLOYMENT_NOT_FOUND = azure_error(
    "DeploymentNotFound",
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again.",
)
_BAD_JSON = "We could not parse the JSON body of your request. Expected a JSON object."
# Rate-limit headers as Azure sends them, so gateways can be tested passing them through.
_RATE = [
    (b"x-ratelimit-remaining-requests", b"999"),
    (b"x-ratelimit-remaining-tokens", b"999999"),
    (b"x-ms-region", b"emulator"),
]
_MISSING_MODEL = azure_error(
    "missing_required_parameter",
    "Missing required parameter: 'model'.",
    type="invalid_request_error",
    param="model",
)
# Used in the default 429 message when the request named no api-version.
_DEFAULT_API_VERSION = "2024-10-21"


@dataclass(slots=True)
class _Request:
    """One request on its way through a route handler."""

    send: Send
    receive: Receive
    record: RecordedRequest
    payload: Any
    ids: Headers
    effects: Effects | None
    seq: int


class AzureEmulator:
    """An in-memory Azure OpenAI data plane (plus Claude-on-Foundry Messages) as an ASGI app.

    Replies echo the last user message, deterministically. Serve it with uvicorn, or call it
    with no sockets at all::

        emulator = AzureEmulator(api_keys=("emulator-key",))
        client = openai.AsyncAzureOpenAI(
            azure_endpoint="http://emulator",
            api_key="emulator-key",
            api_version="2024-10-21",
            http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator)),
        )
        reply = await client.chat.completions.create(model="gpt-4o", messages=[...])
        emulator.inject(Fault.status(429, retry_after_ms=100))
        assert emulator.last_request.deployment == "gpt-4o"

    Callers present one of ``api_keys`` as ``api-key`` or ``x-api-key`` (the v1 and Anthropic
    routes also take it as ``Authorization: Bearer``), or one of ``tokens`` as a bearer token;
    ``api_keys=None`` with no ``tokens`` turns checking off. With ``deployments`` given, only
    those deployment names are served (others get 404 ``DeploymentNotFound``) and each reply
    names the mapped model. ``chunk_delay_s`` paces every stream.

    What tests observe:

    - ``requests``: every :class:`RecordedRequest`, in arrival order, rejected ones included;
      ``last_request`` is the newest.
    - ``open_streams``: SSE responses being produced right now.
    - ``streams_completed`` / ``streams_cancelled``: streams that ended normally / because the
      client went away (``http.disconnect``, a failed ``send``, or a cancelled task). A
      ``Fault.cut_stream`` counts as neither.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = ("emulator-key",),
        tokens: Iterable[str] = (),
        deployments: Mapping[str, str] | None = None,
        chunk_delay_s: float = 0.0,
    ) -> None:
        self._keys = frozenset(api_keys or ())
        self._tokens = frozenset(tokens)
        self._check_auth = api_keys is not None or bool(self._tokens)
        self._deployments = dict(deployments) if deployments is not None else None
        self.chunk_delay_s = chunk_delay_s
        self.requests: list[RecordedRequest] = []
        self.open_streams = 0
        self.streams_completed = 0
        self.streams_cancelled = 0
        self._faults = FaultQueue()
        self._seq = 0

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request; raises :class:`LookupError` when there was none."""
        if not self.requests:
            raise LookupError("the emulator has not received any request")
        return self.requests[-1]

    def reset(self) -> None:
        """Forget the recorded requests and every armed fault."""
        self.requests.clear()
        self._faults.clear()

    def inject(self, fault: Fault, times: int = 1, path_contains: str | None = None) -> None:
        """Apply ``fault`` to the next ``times`` requests whose path contains ``path_contains``.

        Faults wait in injection order; a request takes at most one of each kind (an error
        status, a ``slow`` delay, a stream fault), so ``inject(Fault.slow(0.1))`` then
        ``inject(Fault.status(500))`` slow down and fail the same request::

            emulator.inject(Fault.status(500), times=2, path_contains="/deployments/gpt-4o/")
        """
        self._faults.add(fault, times, path_contains)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await lifespan(receive, send)
        else:  # websocket: the data plane has none
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if body is None:  # the client left before it finished sending
            return
        self._seq += 1
        seq = self._seq
        record, route, payload = parse_request(scope, body)
        # Recorded first, so tests also see the requests that auth or a fault rejected.
        self.requests.append(record)
        effects = self._faults.take(record.path) if self._faults else None
        if effects is not None and effects.delay_s > 0:
            await asyncio.sleep(effects.delay_s)
        ids = [(b"x-request-id", b"emu-%d" % seq), (b"apim-request-id", b"emu-%d" % seq)]
        if effects is not None and effects.error is not None:
            api_version = record.query.get("api-version") or _DEFAULT_API_VERSION
            status, extra, error = effects.error._render(
                anthropic=route == ROUTE_MESSAGES, api_version=api_version
            )
            return await respond(send, status, error, ids + extra)
        if route is None:
            return await respond(send, 404, _NOT_FOUND, ids)
        if record.method != "POST":
            allow = [*ids, (b"allow", b"POST")]
            return await respond(send, 405, azure_error("405", "Method Not Allowed"), allow)
        request = _Request(send, receive, record, payload, ids, effects, seq)
        if route == ROUTE_MESSAGES:
            return await self._messages(request)
        await self._chat(request, route)

    async def _chat(self, request: _Request, route: str) -> None:
        """The Azure chat completions routes (deployment path, or the v1 API's body model)."""
        send, record, payload, ids = request.send, request.record, request.payload, request.ids
        if route == ROUTE_DEPLOYMENT and "api-version" not in record.query:
            return await respond(send, 404, _NOT_FOUND, ids)
        if not self._authorized(record.headers, bearer_keys=route == ROUTE_V1):
            return await respond(send, 401, _UNAUTHORIZED, ids)
        if not isinstance(payload, dict):
            return await respond(send, 400, azure_error("BadRequest", _BAD_JSON), ids)
        deployment = record.deployment
        if route == ROUTE_V1 and deployment is None:
            return await respond(send, 400, _MISSING_MODEL, ids)
        if self._deployments is not None and deployment not in self._deployments:
            return await respond(send, 404, _DEPLOYMENT_NOT_FOUND, ids)
        problem = validate_chat(payload)
        if problem is not None:
            message, param, code = problem
            error = azure_error(code, message, type="invalid_request_error", param=param)
            return await respond(send, 400, error, ids)
        model = self._deployments[deployment] if self._deployments and deployment else DEFAULT_MODEL
        reply = plan_chat(payload, seq=request.seq, model=model, created=int(time.time()))
        if payload.get("stream") is True:
            options = payload.get("stream_options")
            usage = isinstance(options, dict) and options.get("include_usage") is True
            return await self._stream(request, chat_events(reply, include_usage=usage))
        await respond(send, 200, chat_json(reply), ids + _RATE)

    async def _messages(self, request: _Request) -> None:
        """``POST /anthropic/v1/messages``: errors in Anthropic's shape."""
        send, record, payload, ids = request.send, request.record, request.payload, request.ids
        headers = record.headers
        if not self._authorized(headers, bearer_keys=True):
            message = "invalid x-api-key"
            return await respond(send, 401, anthropic_error("authentication_error", message), ids)
        if "anthropic-version" not in headers:
            message = "anthropic-version: header is required"
            return await respond(send, 400, anthropic_error("invalid_request_error", message), ids)
        if not isinstance(payload, dict):
            message = "There was an error parsing the body of your request: expected a JSON object"
            return await respond(send, 400, anthropic_error("invalid_request_error", message), ids)
        problem = validate_messages(payload)
        if problem is not None:
            return await respond(send, 400, anthropic_error("invalid_request_error", problem), ids)
        if self._deployments is not None and record.deployment not in self._deployments:
            message = f"model: {record.deployment}"
            return await respond(send, 404, anthropic_error("not_found_error", message), ids)
        reply = plan_messages(payload, seq=request.seq)
        if payload.get("stream") is True:
            return await self._stream(request, messages_events(reply))
        await respond(send, 200, messages_json(reply), ids)

    def _authorized(self, headers: Mapping[str, str], *, bearer_keys: bool) -> bool:
        """Whether a key or token is accepted.

        The v1 and Anthropic routes also take a key as a bearer token (the openai and
        anthropic SDKs send ``api_key`` that way); deployment routes want ``api-key``.
        """
        if not self._check_auth:
            return True
        if headers.get("api-key") in self._keys or headers.get("x-api-key") in self._keys:
            return True
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        token = token.strip()
        return token in self._tokens or (bearer_keys and token in self._keys)

    async def _stream(self, request: _Request, events: list[bytes]) -> None:
        """Send a stream, keeping ``open_streams`` and the completed/cancelled counts."""
        delay, cut_after, hold = self.chunk_delay_s, None, None
        effects = request.effects
        if effects is not None:
            if effects.chunk_delay_s is not None:
                delay = effects.chunk_delay_s
            cut_after, hold = effects.cut_after, effects.hold
        self.open_streams += 1
        outcome = "cancelled"  # also when this task is cancelled mid-stream
        try:
            completed = await send_stream(
                request.send,
                request.receive,
                events,
                [*request.ids, *_RATE],
                delay_s=delay,
                cut_after=cut_after,
                hold=hold,
            )
            outcome = "completed" if completed else "cancelled"
        except StreamCut:
            outcome = "cut"  # broken on purpose: neither completed nor the client's doing
            raise
        finally:
            self.open_streams -= 1
            if outcome == "completed":
                self.streams_completed += 1
            elif outcome == "cancelled":
                self.streams_cancelled += 1
