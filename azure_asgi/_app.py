"""``AzureGateway``: the ASGI shell, its lifespan, and one request's stages in order.

The shell names no operation and no family: the route's descriptor says which handler answers
(docs/architecture.md), the catalog resolves targets, the dispatcher sends and the relay
answers. Everything a request learns on the way is kept on its :class:`Exchange`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._access import CURRENT, install_request_ids
from ._callers import AuthorizeHook, Callers
from ._catalog import Catalog, Target, unsupported_family
from ._config import GatewayConfig, family_of
from ._deadlines import Deadlines
from ._direct import DirectKeys
from ._disconnects import Disconnects
from ._dispatch import Dispatcher
from ._drains import Drains
from ._errors import ClientGone, GatewayError, timeout_error
from ._exchange import Exchange
from ._identity import UpstreamAuth, build_auth
from ._inbound import read_inbound
from ._model_list import answer_model_list
from ._observe import Observers
from ._relay import relay, send_error
from ._routing import RouteTable, route_segments
from ._transport import HttpClient, make_transport
from ._types import Receive, Scope, Send
from ._usage import UsageHook
from .families import ApiVersions, adapters

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["AzureGateway"]

logger = logging.getLogger("azure_asgi")

_Handler = Callable[[Exchange, Receive, Send], Awaitable[None]]


class AzureGateway:
    """An OpenAI- and Azure-OpenAI-compatible gateway to your Azure deployments, as an ASGI app.

    ::

        gateway = AzureGateway("gateway.yaml")
        app = FastAPI(lifespan=gateway.lifespan)
        app.mount("/llm", gateway)      # OpenAI(base_url="http://host/llm/v1") now works

    ``config`` is a :class:`GatewayConfig`, a dict, or a YAML/JSON path. ``authorize(scope)``
    returns a :class:`Principal` to allow a call, ``None`` to refuse it (401), or raises
    ``PermissionError`` (403). ``http_client`` is the upstream client: an ``aiohttp``
    session (made with ``cookie_jar=aiohttp.DummyCookieJar()``: it serves every caller), an
    ``httpx.AsyncClient``, or ``None`` for a session the gateway owns.
    ``credentials`` maps resource names to azure-identity async credentials.
    ``on_usage(record)`` (sync or async) gets one :class:`UsageRecord` per routed request once
    its answer ended; ``tracer_provider`` / ``meter_provider`` are OpenTelemetry's (default:
    the global ones) (docs/observability.md).
    """

    def __init__(
        self,
        config: GatewayConfig | Mapping[str, Any] | str | os.PathLike[str],
        *,
        authorize: AuthorizeHook | None = None,
        http_client: HttpClient = None,
        credentials: Mapping[str, AsyncTokenCredential] | None = None,
        on_usage: UsageHook | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.config = GatewayConfig.coerce(config)
        credentials = dict(credentials or {})
        names = {r.name for r in self.config.resources}
        unknown = sorted(set(credentials) - names)
        if unknown:
            raise ValueError(
                f"credentials name unknown resources {unknown}; configured: {sorted(names)}"
            )
        self._auths: dict[str, UpstreamAuth] = {
            r.name: build_auth(r, credentials.get(r.name)) for r in self.config.resources
        }
        self.catalog = Catalog(self.config, self._auths)
        self._callers = Callers(self.config.clients, authorize)
        self._routes = RouteTable()
        self._transport = make_transport(
            http_client, per_host=self.config.limits.upstream_connections_per_host
        )
        self._adapters = adapters(ApiVersions(self.config.api_version, self.config.api_versions))
        self._dispatcher = Dispatcher(
            self._transport, self.config.retries, self._adapters, self._fallback_targets
        )
        self._direct = DirectKeys(self.config.direct_keys, self._callers)
        limits = self.config.limits
        self._max_body = limits.max_body_bytes
        self._max_upload = limits.max_upload_bytes
        self._max_in_flight = limits.max_concurrency
        self._in_flight = 0
        self._deadlines = Deadlines(self.config.timeout_s)
        self._disconnects = Disconnects()
        self._drains = Drains()
        self._observers = Observers(
            self.config.telemetry, on_usage, tracer_provider, meter_provider
        )
        install_request_ids()
        self._handlers: dict[str, _Handler] = {
            "upstream": self._proxy,
            "model_list": self._model_list,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the upstream connection pool and the credentials the gateway created."""
        self._deadlines.close()
        self._disconnects.close()
        await self._drains.aclose()
        await self._observers.aclose()
        await self._transport.aclose()
        for auth in self._auths.values():
            await auth.aclose()

    async def __aenter__(self) -> AzureGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """``FastAPI(lifespan=gateway.lifespan)``: close the gateway when the host shuts down."""
        try:
            yield
        finally:
            await self.aclose()

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "no websocket routes"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        ex = Exchange(scope, self._deadlines.new())
        watch = self._observers.begin(ex)
        current = CURRENT.set(ex)
        self._in_flight += 1
        try:
            await self._handle(ex, receive, send)
        except GatewayError as exc:
            if ex.status == 0:
                await _answer_error(send, ex, exc)
        except ClientGone:
            return
        except Exception:
            # A bug of ours must not become a traceback page or a bare 500 from the server:
            # log it with the request's shape (never its headers) and answer in the one shape.
            logger.exception(
                "azure-asgi: unexpected error on %s %s", scope["method"], scope["path"]
            )
            if ex.status == 0:
                error = GatewayError(500, "The gateway failed unexpectedly.", code="internal_error")
                await _answer_error(send, ex, error)
        finally:
            self._in_flight -= 1
            ex.deadline.close()
            ex.ended = time.perf_counter()
            if ex.inbound is not None:
                ex.inbound.close()
            if watch is not None:
                watch.finish(ex)
            CURRENT.reset(current)

    async def _handle(self, ex: Exchange, receive: Receive, send: Send) -> None:
        scope = ex.scope
        if self._max_in_flight is not None and self._in_flight > self._max_in_flight:
            raise GatewayError(
                503,
                f"The gateway is at its limit of {self._max_in_flight} requests in flight "
                "(limits.max_concurrency); retry shortly.",
                code="overloaded",
                headers={"retry-after": "1"},
            )
        segments = route_segments(scope)
        if segments[:1] == ("anthropic",):
            ex.api = "anthropic"
        unrouted: GatewayError | None = None
        try:
            ex.route = self._routes.match(scope["method"], segments)
        except GatewayError as exc:
            unrouted = exc
        # Authenticate first all the same: an unknown caller learns nothing, not even which
        # paths exist.
        await self._authenticate(ex, segments)
        if unrouted is not None:
            raise unrouted
        route = ex.route
        assert route is not None
        op = route.operation
        ex.extra["request_type"] = op.request_type
        if route.deployment is not None:
            ex.extra["model_requested"] = route.deployment
        if not op.supported:
            raise GatewayError(
                400,
                f"Azure OpenAI does not offer {scope['method']} /v1/{op.path}: this "
                "operation has no Azure equivalent, so nothing was sent upstream.",
                code="unsupported_operation",
            )
        try:
            with ex.deadline:
                ex.inbound = await read_inbound(
                    route,
                    receive,
                    ex.headers,
                    scope.get("query_string", b""),
                    self.catalog.by_name,
                    max_body=self._max_body,
                    max_upload=self._max_upload,
                )
        except TimeoutError:
            raise GatewayError(
                408,
                "The request body did not arrive within the request's deadline "
                f"({self.config.timeout_s:g} s, timeout_s in the gateway config).",
                code="request_timeout",
            ) from None
        if ex.inbound.model is not None:
            ex.extra["model_requested"] = ex.inbound.model
        await self._handlers[op.handler](ex, receive, send)

    async def _authenticate(self, ex: Exchange, segments: tuple[str, ...]) -> None:
        callers = self._callers
        if callers.hooked:
            principal = await callers.authenticate(ex.scope, ex.headers, segments, ex.route)
        else:
            principal = callers.by_key(ex.headers, segments)
        ex.principal = principal
        # For the host: who called, once the gateway has decided.
        ex.scope["azure_asgi.principal"] = principal

    # -- handlers -------------------------------------------------------------------------------

    async def _proxy(self, ex: Exchange, receive: Receive, send: Send) -> None:
        """Send the request upstream and relay the answer."""
        ex.targets = self._targets(ex)
        if ex.watch is not None:
            ex.watch.dispatching(ex)
        with self._disconnects.watch(receive, ex.deadline.request_task):
            try:
                with ex.deadline:
                    outcome = await self._dispatcher.send(ex)
            except TimeoutError:
                outcome = timeout_error(self.config.timeout_s)
            await relay(ex, outcome, send, self._drains)

    async def _model_list(self, ex: Exchange, receive: Receive, send: Send) -> None:
        """``GET /models``: the merged list, or one alias; an upstream model id is proxied."""
        try:
            with ex.deadline:
                answered = await answer_model_list(ex, self.catalog, self._transport, send)
        except TimeoutError:
            raise timeout_error(self.config.timeout_s) from None
        if not answered:
            await self._proxy(ex, receive, send)

    def _targets(self, ex: Exchange) -> list[Target]:
        call = ex.inbound
        assert call is not None
        direct = self._direct.targets(call, ex.headers)
        targets = direct if direct is not None else self.catalog.targets_for(call)
        family = targets[0].family
        if family not in ex.operation.families:
            raise unsupported_family(call.model or "", family, ex.operation.request_type)
        return targets

    def _fallback_targets(self, ex: Exchange, alias: str) -> list[Target]:
        """A fallback alias's targets, or none when its family cannot serve the operation.

        A direct-key request never reaches a configured resource or credential: its fallbacks
        are other deployments on the caller's own endpoint, with the caller's own key.
        """
        first = ex.targets[0]
        if first.resource.direct:
            name = alias.removeprefix("azure/")
            targets = [Target(first.resource, name, name, family_of(name))]
        else:
            targets = self.catalog.resolve(alias)
        if targets[0].family not in ex.operation.families:
            logger.info("azure-asgi: fallback %s cannot serve this operation; skipped", alias)
            return []
        return targets


async def _answer_error(send: Send, ex: Exchange, error: GatewayError) -> None:
    # If the response had already started, the server closes the connection instead.
    with contextlib.suppress(Exception):
        await send_error(send, ex, error)
