"""``AzureGatewayMiddleware``: claim one path prefix of any ASGI app for the gateway."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._app import AzureGateway
from ._callers import AuthorizeHook
from ._config import GatewayConfig
from ._types import Message, Receive, Scope, Send

__all__ = ["AzureGatewayMiddleware"]


class AzureGatewayMiddleware:
    """Pure ASGI middleware: HTTP under ``prefix`` goes to the gateway, everything else to ``app``.

    ::

        # Django asgi.py
        application = AzureGatewayMiddleware(get_asgi_application(), config="gateway.yaml")
        # Quart
        app.asgi_app = AzureGatewayMiddleware(app.asgi_app, config="gateway.yaml", prefix="/llm")

    Websockets, lifespan and every other path reach ``app`` untouched. The gateway is started
    and closed with the host's lifespan, which this middleware answers itself when ``app`` does
    not support lifespan (Django).
    """

    def __init__(
        self,
        app: Callable[[Any, Any, Any], Awaitable[None]],
        *,
        gateway: AzureGateway | None = None,
        config: GatewayConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        prefix: str = "/llm",
        authorize: AuthorizeHook | None = None,
    ) -> None:
        if gateway is None and config is None:
            raise TypeError(
                "AzureGatewayMiddleware needs gateway=AzureGateway(...) or config=<GatewayConfig, "
                "dict or path to a YAML/JSON file>."
            )
        if gateway is not None and (config is not None or authorize is not None):
            raise TypeError(
                "Pass config= and authorize= to the AzureGateway you give as gateway=, not to "
                "the middleware as well."
            )
        prefix = "/" + prefix.strip("/")
        if prefix == "/":
            raise ValueError("prefix must name a path below the root, such as '/llm'.")
        self.app = app
        self.gateway = gateway if gateway is not None else AzureGateway(config, authorize=authorize)  # type: ignore[arg-type]
        self.prefix = prefix
        self._prefix_slash = prefix + "/"

    # Typed loosely on purpose: every framework declares its own ASGI types (Quart's are
    # TypedDicts), and `app.asgi_app = AzureGatewayMiddleware(app.asgi_app, ...)` must type-check.
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            root_path: str = scope.get("root_path", "")
            path: str = scope["path"]
            route = path[len(root_path) :] if root_path and path.startswith(root_path) else path
            if route == self.prefix or route.startswith(self._prefix_slash):
                # No state on self: the per-request view is a new scope dict.
                child = dict(scope)
                child["root_path"] = root_path + self.prefix
                await self.gateway(child, receive, send)
                return
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = False

        async def app_receive() -> Message:
            nonlocal received
            received = True
            return await receive()

        async def app_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.gateway.aclose()
            await send(message)

        try:
            await self.app(scope, app_receive, app_send)
        except Exception:
            if received:
                raise  # the host supports lifespan and failed: not ours to hide
        if not received:
            # The host does not speak lifespan (Django raises at once, others just return):
            # answer it ourselves so the gateway still starts and closes with the server.
            await self.gateway(scope, receive, send)
