"""The emulator ASGI app: routing, api-key checking, recording, faults and streaming."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any

from ._asgi import (
    Receive,
    Scope,
    Send,
    StreamCut,
    drop_connection,
    lifespan,
    read_body,
    respond,
    send_stream,
    truncating,
)
from ._exchange import RATE, Exchange, Handler
from ._fault_queue import FaultQueue, Match, Predicate
from ._faults import DropConnectionFault, Fault, MalformedJsonFault, StatusFault
from ._inference import INFERENCE
from ._jobs import JOBS
from ._json import BadJson
from ._messages import anthropic_error, input_usage, messages_events, messages_json, plan_messages
from ._messages_strict import check_messages
from ._objects import OBJECTS
from ._replies import azure_error
from ._requests import RecordedRequest, parse_request
from ._responses import RESPONSES
from ._routes import BODY_FORM, BODY_JSON, STYLE_DEPLOYMENT, STYLE_MESSAGES, STYLE_V1, Op
from ._script import SCRIPTABLE, Reply, ToolCall, answer_scripted
from ._store import Store

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
_BAD_JSON = "We could not parse the JSON body of your request"
_BAD_FORM = azure_error(
    "BadRequest", "We could not parse the body of your request. Expected multipart/form-data."
)
_MISSING_MODEL = azure_error(
    "missing_required_parameter",
    "Missing required parameter: 'model'.",
    type="invalid_request_error",
    param="model",
)
# Used in the default 429 message when the request named no api-version.
_DEFAULT_API_VERSION = "2024-10-21"
_HANDLERS: dict[str, Handler] = {**INFERENCE, **OBJECTS, **JOBS, **RESPONSES}


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

    ``/anthropic/v1/messages`` (and ``.../count_tokens``) validate like Foundry's Messages
    API: unknown fields, a ``system`` role in ``messages``, unmatched ``tool_use`` /
    ``tool_result`` ids and modified thinking blocks get Anthropic's 400. With
    ``strict_messages`` (the default) consecutive turns of one role are refused too, where
    the real API merges them, so that a gateway's translation bugs show.

    Operations, under ``/openai/deployments/{d}/...?api-version=`` and ``/openai/v1/...``:
    chat completions, completions, embeddings, image generations and edits, speech,
    transcriptions and translations. Stateful objects live in memory on the instance:
    files, batches, responses, models (``/openai/v1/...`` and ``/openai/...?api-version=``),
    videos and fine-tuning jobs (``/openai/v1/...``). Asynchronous objects move one status
    forward per retrieval (a batch: validating, in_progress, completed with an output file
    echoing each request), so polling tests are deterministic.

    What tests observe:

    - ``requests``: every :class:`RecordedRequest`, in arrival order, rejected ones included;
      ``last_request`` is the newest.
    - ``open_streams``: SSE responses being produced right now (binary downloads, sent in
      16 KiB body messages, take stream faults but are not counted).
    - ``streams_completed`` / ``streams_cancelled``: streams that ended normally / because the
      client went away (``http.disconnect``, a failed ``send``, or a cancelled task). A
      ``Fault.cut_stream`` or ``Fault.stream_error`` counts as neither.
    - ``faults_armed`` / ``scripted``: injected faults and scripted replies still waiting.
    - ``store``: the stored objects (``seed_file`` adds one as if uploaded).

    ``reset()`` forgets all of it; ``serve()`` / ``serve_in_thread()`` put the emulator on a
    loopback port (docs/testing.md).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = ("emulator-key",),
        tokens: Iterable[str] = (),
        deployments: Mapping[str, str] | None = None,
        chunk_delay_s: float = 0.0,
        strict_messages: bool = True,
    ) -> None:
        self._keys = frozenset(api_keys or ())
        self._tokens = frozenset(tokens)
        self._check_auth = api_keys is not None or bool(self._tokens)
        self._deployments = dict(deployments) if deployments is not None else None
        self.chunk_delay_s = chunk_delay_s
        self.strict_messages = strict_messages
        self.requests: list[RecordedRequest] = []
        self.open_streams = 0
        self.streams_completed = 0
        self.streams_cancelled = 0
        self._faults = FaultQueue()
        self._seq = 0
        self._store = Store()
        self._script: list[Reply] = []

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request; raises :class:`LookupError` when there was none."""
        if not self.requests:
            raise LookupError("the emulator has not received any request")
        return self.requests[-1]

    def reset(self) -> None:
        """Start afresh: forget the recorded requests, armed faults, scripted replies and
        stored objects (files, batches, responses, videos, jobs), and zero the counters
        (``streams_completed``, ``streams_cancelled``, the request sequence behind ids).

        ``open_streams`` is left alone: it counts streams still being sent.
        """
        self.requests.clear()
        self._faults.clear()
        self._script.clear()
        self._store.clear()
        self.streams_completed = 0
        self.streams_cancelled = 0
        self._seq = 0

    def inject(
        self,
        fault: Fault,
        times: int | None = 1,
        path_contains: str | None = None,
        *,
        match: Match | Predicate | None = None,
    ) -> None:
        """Apply ``fault`` to the next ``times`` matching requests (``None``: every one).

        ``match`` is a :class:`Match` (method, path substring or regex, deployment, ``nth``)
        or any ``(RecordedRequest) -> bool``; ``path_contains`` is the older spelling of
        ``match=Match(path=...)``. Faults wait in injection order; a request takes at most one
        of each group (an answer such as a status, a ``slow`` delay, a stream fault, a body
        fault), so ``inject(Fault.slow(0.1))`` then ``inject(Fault.status(500))`` slow down
        and fail the same request::

            emulator.inject(Fault.status(500), times=2, path_contains="/deployments/gpt-4o/")
            emulator.inject(Fault.status(503), match=Match(path="/chat/completions", nth=2))
        """
        self._faults.add(fault, times, match=match, path_contains=path_contains)

    @property
    def faults_armed(self) -> int:
        """How many injected faults still wait for a request."""
        return len(self._faults)

    def script(self, *replies: Reply | ToolCall | str) -> None:
        """Queue exact replies for the next chat completions and Responses requests.

        Each such request (JSON or streamed) takes the first queued reply instead of the
        emulator's own, in order; other operations are unaffected::

            emulator.script(
                ToolCall("get_weather", {"city": "Paris"}),
                Reply(text="It is sunny in Paris.", chunks=("It is ", "sunny ", "in Paris.")),
            )
        """
        self._script.extend(Reply.of(item) for item in replies)

    @property
    def scripted(self) -> int:
        """How many scripted replies are still queued."""
        return len(self._script)

    @property
    def store(self) -> Store:
        """The stored objects, by kind then id (``store.files[id].obj`` / ``.data``)."""
        return self._store

    def seed_file(
        self, filename: str, data: bytes, *, purpose: str = "assistants"
    ) -> dict[str, Any]:
        """Store a file as if it had been uploaded; returns its file object (``["id"]``)::

        file_id = emulator.seed_file("batch.jsonl", lines, purpose="batch")["id"]
        """
        return self._store.add_file(filename, purpose, data, created=int(time.time())).obj

    def serve(self, **options: Any) -> AbstractAsyncContextManager[str]:
        """Serve this emulator with uvicorn on a loopback port in the running loop::

        async with emulator.serve() as url:  # "http://127.0.0.1:<port>"
            ...

        ``options`` go to :func:`azure_asgi.testing.serve` (``host``, ``port``, uvicorn's).
        """
        from ._serve import serve

        return serve(self, **options)

    def serve_in_thread(self, **options: Any) -> AbstractContextManager[str]:
        """Serve this emulator from a background thread, for sync clients::

        with emulator.serve_in_thread() as url:
            ...
        """
        from ._serve import serve_in_thread

        return serve_in_thread(self, **options)

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
        effects = self._faults.take(record) if self._faults else None
        if effects is not None and effects.delay_s > 0:
            await asyncio.sleep(effects.delay_s)
        ids = [(b"x-request-id", b"emu-%d" % seq), (b"apim-request-id", b"emu-%d" % seq)]
        if effects is not None:
            answer = effects.answer
            if isinstance(answer, DropConnectionFault):
                return await drop_connection(send)
            if isinstance(answer, StatusFault | MalformedJsonFault):
                api_version = record.query.get("api-version") or _DEFAULT_API_VERSION
                anthropic = route is not None and route.style == STYLE_MESSAGES
                status, extra, body = answer._render(anthropic=anthropic, api_version=api_version)
                return await respond(send, status, body, ids + extra)
            if effects.truncate_at is not None:
                send = truncating(send, effects.truncate_at)
        if route is None:
            return await respond(send, 404, _NOT_FOUND, ids)
        op = route.ops.get(record.method)
        if op is None:
            allow = [*ids, (b"allow", route.allow.encode())]
            return await respond(send, 405, azure_error("405", "Method Not Allowed"), allow)
        exchange = Exchange(
            send, receive, record, route, payload, ids, effects, seq, self, self._store
        )
        if route.style == STYLE_MESSAGES:
            return await self._messages(exchange)
        await self._operation(exchange, op)

    async def _operation(self, exchange: Exchange, op: Op) -> None:
        """The Azure OpenAI routes: api-version, auth, body and deployment checks, then ``op``."""
        record, style = exchange.record, exchange.route.style
        if style != STYLE_V1 and "api-version" not in record.query:
            return await exchange.error(404, _NOT_FOUND)
        if not self._authorized(record.headers, bearer_keys=style == STYLE_V1):
            return await exchange.error(401, _UNAUTHORIZED)
        if op.body == BODY_JSON and not isinstance(exchange.payload, dict):
            return await exchange.error(400, azure_error("BadRequest", _bad_json(exchange.payload)))
        if op.body == BODY_FORM and exchange.payload is None:
            return await exchange.error(400, _BAD_FORM)
        if op.model:
            deployment = record.deployment
            if style != STYLE_DEPLOYMENT and deployment is None:
                return await exchange.error(400, _MISSING_MODEL)
            if self._deployments is not None and deployment not in self._deployments:
                return await exchange.error(404, _DEPLOYMENT_NOT_FOUND)
        if self._script and op.name in SCRIPTABLE:
            return await answer_scripted(exchange, op.name, self._script.pop(0))
        await _HANDLERS[op.name](exchange)

    def model_for(self, deployment: str | None, default: str) -> str:
        """The model a deployment maps to; ``default`` when there is no mapping for it."""
        if self._deployments and deployment in self._deployments:
            return self._deployments[deployment]
        return default

    def deployed_models(self) -> list[str]:
        """The models of the ``deployments`` mapping, without repeats."""
        return list(dict.fromkeys(self._deployments.values())) if self._deployments else []

    async def _messages(self, request: Exchange) -> None:
        """``POST /anthropic/v1/messages`` and ``.../count_tokens``: Anthropic's error shape."""
        send, record, payload, ids = request.send, request.record, request.payload, request.ids
        headers = record.headers
        if not self._authorized(headers, bearer_keys=True):
            message = "invalid x-api-key"
            return await respond(send, 401, anthropic_error("authentication_error", message), ids)
        if "anthropic-version" not in headers:
            message = "anthropic-version: header is required"
            return await respond(send, 400, anthropic_error("invalid_request_error", message), ids)
        if not isinstance(payload, dict):
            message = f"There was an error parsing the body of your request: {_why(payload)}"
            return await respond(send, 400, anthropic_error("invalid_request_error", message), ids)
        counting = request.route.ops["POST"].name == "messages.count_tokens"
        problem = check_messages(payload, strict=self.strict_messages, count_tokens=counting)
        if problem is not None:
            return await respond(send, 400, anthropic_error("invalid_request_error", problem), ids)
        if self._deployments is not None and record.deployment not in self._deployments:
            message = f"model: {record.deployment}"
            return await respond(send, 404, anthropic_error("not_found_error", message), ids)
        if counting:
            return await respond(send, 200, b'{"input_tokens":%d}' % sum(input_usage(payload)), ids)
        reply = plan_messages(payload, seq=request.seq)
        if payload.get("stream") is True:
            return await self._stream(request, messages_events(reply))
        await respond(send, 200, messages_json(reply), ids)

    def _authorized(self, headers: Mapping[str, str], *, bearer_keys: bool) -> bool:
        """Whether a key or token is accepted.

        The v1 and Anthropic routes also take a key as a bearer token (the openai and
        anthropic SDKs send ``api_key`` that way); other routes want ``api-key``.
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

    async def _stream(self, request: Exchange, events: list[bytes]) -> None:
        """Send a stream, keeping ``open_streams`` and the completed/cancelled counts."""
        delay, cut_after, hold = self.chunk_delay_s, None, None
        effects = request.effects
        broken = False  # by a fault on purpose: counted neither completed nor cancelled
        if effects is not None:
            if effects.chunk_delay_s is not None:
                delay = effects.chunk_delay_s
            cut_after, hold = effects.cut_after, effects.hold
            if effects.stream_error is not None:
                at = effects.stream_error.after_chunks
                anthropic = request.route.style == STYLE_MESSAGES
                events = [*events[:at], effects.stream_error._event(anthropic=anthropic)]
                broken = True
        self.open_streams += 1
        outcome = "cancelled"  # also when this task is cancelled mid-stream
        try:
            completed = await send_stream(
                request.send,
                request.receive,
                events,
                [*request.ids, *RATE],
                delay_s=delay,
                cut_after=cut_after,
                hold=hold,
            )
            outcome = ("cut" if broken else "completed") if completed else "cancelled"
        except StreamCut:
            outcome = "cut"  # broken on purpose: neither completed nor the client's doing
            raise
        finally:
            self.open_streams -= 1
            if outcome == "completed":
                self.streams_completed += 1
            elif outcome == "cancelled":
                self.streams_cancelled += 1


def _why(payload: Any) -> str:
    """Why a JSON operation's body is refused: what :func:`parse_json` said, or its type."""
    return payload.reason if isinstance(payload, BadJson) else "expected a JSON object"


def _bad_json(payload: Any) -> str:
    if isinstance(payload, BadJson):
        return f"{_BAD_JSON}: {payload.reason}."
    return f"{_BAD_JSON}. Expected a JSON object."
