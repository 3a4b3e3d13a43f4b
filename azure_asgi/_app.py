"""``AzureGateway``: the ASGI entry point, its lifespan, and one request from start to finish."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ._callers import AuthorizeHook, Callers
from ._calls import Call, read_call
from ._config import GatewayConfig
from ._deadlines import Deadlines
from ._direct import DirectKeys
from ._dispatch import Dispatcher
from ._errors import ClientGone, GatewayError
from ._identity import UpstreamAuth, build_auth
from ._models import list_models
from ._relay import StreamState, send_error, send_json
from ._resources import ApiVersions, Catalog, Target
from ._respond import end_stream, relay
from ._routing import RouteTable, route_segments
from ._transport import UpstreamError, UpstreamResponse, make_transport
from ._types import Receive, Scope, Send

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = ["AzureGateway"]

logger = logging.getLogger("azure_asgi")


# Request headers the upstream may see: an allow-list, so a caller's credentials and cookies can
# never travel upstream whatever they are called.
_FORWARD = (b"x-ms-client-request-id",)


class AzureGateway:
    """An OpenAI- and Azure-OpenAI-compatible gateway to your Azure deployments, as an ASGI app.

    ::

        gateway = AzureGateway("gateway.yaml")
        app = FastAPI(lifespan=gateway.lifespan)
        app.mount("/llm", gateway)      # OpenAI(base_url="http://host/llm/v1") now works

    ``config`` is a :class:`GatewayConfig`, a dict, or a YAML/JSON path. ``authorize(scope)``
    returns a :class:`Principal` to allow a call, ``None`` to refuse it (401), or raises
    ``PermissionError`` (403). ``http_client`` is the upstream client: an ``aiohttp``
    session, an ``httpx.AsyncClient``, or ``None`` for a session the gateway owns.
    ``credentials`` maps resource names to azure-identity async credentials.
    """

    def __init__(
        self,
        config: GatewayConfig | Mapping[str, Any] | str | os.PathLike[str],
        *,
        authorize: AuthorizeHook | None = None,
        http_client: Any = None,
        credentials: Mapping[str, AsyncTokenCredential] | None = None,
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
        self._transport = make_transport(http_client)
        versions = ApiVersions(self.config.api_version, self.config.api_versions)
        self._dispatcher = Dispatcher(self._transport, self.config.retries, versions)
        self._direct = DirectKeys(self.config.direct_keys, self._callers)
        self._max_body = self.config.limits.max_body_bytes
        self._max_upload = self.config.limits.max_upload_bytes
        self._timeout = self.config.timeout_s
        self._deadlines = Deadlines(self._timeout)

    # -- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the upstream connection pool and the credentials the gateway created."""
        self._deadlines.close()
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
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        extra: dict[str, Any] = {"provider": "azure"}
        call: Call | None = None
        try:
            # Authenticate before routing: an unauthenticated caller learns nothing, not even
            # which paths exist.
            await self._callers.authenticate(scope, headers)
            match = self._routes.match(scope["method"], route_segments(scope))
            op = match.operation
            extra["request_type"] = op.request_type
            if match.deployment is not None:
                extra["model_requested"] = match.deployment
            if not op.supported:
                raise GatewayError(
                    400,
                    f"Azure OpenAI does not offer {scope['method']} /v1/{op.path}: this "
                    "operation has no Azure equivalent, so nothing was sent upstream.",
                    code="unsupported_operation",
                )
            call = await read_call(
                match,
                receive,
                headers,
                scope.get("query_string", b""),
                self.catalog.by_name,
                max_body=self._max_body,
                max_upload=self._max_upload,
            )
            if call.model is not None:
                extra["model_requested"] = call.model
            if op.request_type == "list_models" and await self._models(call, send, extra, started):
                return
            await self._serve(call, headers, receive, send, extra, started)
        except GatewayError as exc:
            await send_error(send, exc, extra)
        except ClientGone:
            return
        except Exception:
            # A bug of ours must not become a traceback page or a bare 500 from the server:
            # log it with the request's shape (never its headers) and answer in the one shape.
            logger.exception(
                "azure-asgi: unexpected error on %s %s", scope["method"], scope["path"]
            )
            error = GatewayError(500, "The gateway failed unexpectedly.", code="internal_error")
            # If the response had already started, the server closes the connection instead.
            with contextlib.suppress(Exception):
                await send_error(send, error, extra)
        finally:
            if call is not None:
                call.close()

    def _targets(self, call: Call, headers: dict[bytes, bytes]) -> list[Target]:
        direct = self._direct.targets(call, headers)
        if direct is not None:
            targets = direct
        else:
            header = headers.get(b"x-azure-resource")
            pinned = header.decode("latin-1").strip() if header else None
            targets = self.catalog.targets_for(call, pinned)
        if targets[0].family == "anthropic":
            raise GatewayError(
                400,
                f"'{call.model}' is a Claude deployment; this version of the gateway serves "
                "OpenAI-family deployments only for this operation.",
                code="unsupported_operation",
                param="model",
            )
        return targets

    async def _serve(
        self,
        call: Call,
        headers: dict[bytes, bytes],
        receive: Receive,
        send: Send,
        extra: dict[str, Any],
        started: float,
    ) -> None:
        targets = self._targets(call, headers)
        forward = [
            (k.decode("latin-1"), headers[k].decode("latin-1")) for k in _FORWARD if k in headers
        ]
        state = StreamState()
        resp: UpstreamResponse | None = None
        deadline = time.monotonic() + self._timeout
        try:
            with self._deadlines.start():
                outcome = await self._dispatcher.send(
                    call, targets, deadline, self._resolve_fallback, forward
                )
                resp = outcome.response
                _describe(extra, outcome.target)
                await relay(resp, call, outcome.target, receive, send, state, extra, started)
        except TimeoutError:
            error = self._timeout_error()
            if not state.started:
                raise error from None
            if state.kind == "sse":
                await end_stream(send, error.error_object(), 504, extra)
        except UpstreamError as exc:
            if not state.started:
                raise GatewayError(
                    502, f"The upstream answer broke off: {exc}.", code="stream_interrupted"
                ) from None
            # A binary body broke off mid-way: leaving the response unfinished makes the
            # server drop the connection, so the caller never takes it for complete.
            logger.warning("azure-asgi: answer from %s broke off: %s", extra.get("resource"), exc)
        finally:
            if resp is not None:
                await resp.aclose()

    async def _models(self, call: Call, send: Send, extra: dict[str, Any], started: float) -> bool:
        """Answer ``GET /models`` and ``GET /models/<alias>`` from config plus every resource's
        list; False when the call is for an upstream model id (forwarded as usual)."""
        alias = None
        if call.object_id is not None:
            targets = self.catalog.lookup(call.object_id)
            if targets is None:
                return False
            alias = targets[0].alias
        try:
            with self._deadlines.start():
                listing = await list_models(self.catalog, self._transport, alias)
        except TimeoutError:
            raise self._timeout_error() from None
        extra["resources_failed"] = listing.pop("resources_failed")
        extra["latency_ms"] = _ms(started)
        body = listing["data"][0] if alias is not None else listing
        await send_json(send, 200, _dumps({**body, "extra_fields": extra}))
        return True

    def _resolve_fallback(self, alias: str) -> list[Target]:
        return self.catalog.resolve(alias)

    def _timeout_error(self) -> GatewayError:
        return GatewayError(
            504,
            f"The request ran out of its {self._timeout:g} s deadline (timeout_s in the "
            "gateway config), retries included.",
            code="timeout",
        )


def _describe(extra: dict[str, Any], target: Target) -> None:
    extra["model_deployment"] = target.deployment
    extra["resource"] = target.resource.name


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
