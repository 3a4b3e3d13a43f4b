"""A gateway whose upstream calls reach in-process emulators: the kit's one gateway factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from .._app import AzureGateway

__all__ = ["EMULATOR_KEY", "emulator_gateway", "gateway_config"]

#: The api-key the kit's emulators accept and its gateway config sends upstream.
EMULATOR_KEY = "emulator-key"


def gateway_config(endpoint: str = "http://emulator", **overrides: Any) -> dict[str, Any]:
    """A one-resource gateway config in front of an emulator at ``endpoint``.

    Aliases ``gpt-4o``, ``gpt-4o-mini``, ``text-embedding-3-small`` (deployments of the same
    names) and ``claude-sonnet`` (anthropic family); callers need no key (anonymous), and
    retries are quick. ``overrides`` replace top-level keys.
    """
    config: dict[str, Any] = {
        "retries": {"max_attempts": 2, "initial_backoff_ms": 1, "max_backoff_ms": 5},
        "resources": [
            {
                "name": "emulator",
                "endpoint": endpoint,
                "auth": {"api_key": EMULATOR_KEY},
                "deployments": {
                    "gpt-4o": "gpt-4o",
                    "gpt-4o-mini": "gpt-4o-mini",
                    "text-embedding-3-small": "text-embedding-3-small",
                    "claude-sonnet": {"deployment": "claude-sonnet", "family": "anthropic"},
                },
            }
        ],
        "clients": {"anonymous": True},
    }
    config.update(overrides)
    return config


def _router(apps: Mapping[str, Any]) -> httpx.AsyncBaseTransport:
    import httpx

    transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    class HostRouter(httpx.AsyncBaseTransport):
        """Each upstream call goes to the app named by its URL's host."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            transport = transports.get(request.url.host)
            if transport is None:
                known = ", ".join(sorted(transports))
                raise httpx.ConnectError(f"no emulator for host {request.url.host!r} ({known})")
            return await transport.handle_async_request(request)

    return HostRouter()


def emulator_gateway(upstream: Any, config: Any = None, **gateway_kwargs: Any) -> AzureGateway:
    """An :class:`~azure_asgi.AzureGateway` in front of in-process ASGI upstreams, no sockets.

    ``upstream`` is one app (an :class:`AzureEmulator`: every endpoint reaches it), or a
    mapping of host name to app for several resources, for failover tests::

        east, west = AzureEmulator(), AzureEmulator()
        gateway = emulator_gateway({"east": east, "west": west}, config)  # endpoints
        # http://east and http://west

    ``config`` defaults to :func:`gateway_config`; ``gateway_kwargs`` go to ``AzureGateway``.
    Use it as ``async with emulator_gateway(...) as gateway:`` so its client is closed.
    """
    import httpx

    from .._app import AzureGateway

    if isinstance(upstream, Mapping):
        transport: httpx.AsyncBaseTransport = _router(upstream)
    else:
        transport = httpx.ASGITransport(app=upstream)
    client = httpx.AsyncClient(transport=transport)
    return AzureGateway(
        gateway_config() if config is None else config, http_client=client, **gateway_kwargs
    )
