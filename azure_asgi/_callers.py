"""Who may call the gateway: the ``authorize`` hook, client keys, and the safe default.

The hook sees the path exactly as the gateway routes it (dot segments resolved, percent-escapes
decoded), so a rule on ``scope["path"]`` cannot be sidestepped by spelling a path another way,
and the route it matched as ``scope["azure_asgi.route"]`` (docs/security.md).
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from asgiref.sync import sync_to_async

from ._config import ClientsConfig
from ._errors import GatewayError
from ._types import Scope

if TYPE_CHECKING:
    from ._routing import RouteMatch

__all__ = ["AuthorizeHook", "Callers", "Principal", "presented_keys"]

logger = logging.getLogger("azure_asgi")


@dataclass(frozen=True)
class Principal:
    """Who is calling, as decided by ``authorize`` or by a client key.

    ::

        def authorize(scope):
            user = scope.get("user")
            return Principal(subject=user.id, scopes=frozenset({"llm"})) if user else None
    """

    subject: str
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)


# Shared: a Principal is immutable, so key and anonymous callers need no object per request.
_CLIENT_KEY = Principal(subject="client-key")
_ANONYMOUS = Principal(subject="anonymous")

AuthorizeHook = Callable[[Scope], "Principal | Awaitable[Principal | None] | None"]

_NO_ACCESS = (
    "No caller is allowed: this gateway has no client keys and no authorize hook. "
    "Set clients.api_keys (callers send `api-key: <key>`, `Authorization: Bearer <key>` or "
    "`x-gateway-key: <key>`), pass authorize= to AzureGateway, or set clients.anonymous: true "
    "for local development."
)
_BAD_KEY = (
    "Missing or invalid gateway key: send it as `api-key: <key>`, `Authorization: Bearer <key>` "
    "or `x-gateway-key: <key>`."
)
_BAD_ANTHROPIC_KEY = _BAD_KEY[:-1] + " (or `x-api-key: <key>`, as the Anthropic SDKs do)."


_KEY_HEADERS = (b"x-gateway-key", b"api-key")
#: The Anthropic SDKs send their key as ``x-api-key``: taken on the ``/anthropic`` routes.
_ANTHROPIC_KEY_HEADERS = (*_KEY_HEADERS, b"x-api-key")


def presented_keys(headers: Mapping[bytes, bytes], *, anthropic: bool = False) -> list[bytes]:
    """Every credential the caller presented, in the places a client key may travel."""
    found = []
    for name in _ANTHROPIC_KEY_HEADERS if anthropic else _KEY_HEADERS:
        value = headers.get(name)
        if value:
            found.append(value.strip())
    auth = headers.get(b"authorization")
    if auth and auth[:7].lower() == b"bearer ":
        found.append(auth[7:].strip())
    return found


class Callers:
    """Decides, before any routing, whether a request may use the gateway."""

    def __init__(self, clients: ClientsConfig, authorize: AuthorizeHook | None) -> None:
        self._authorize: Callable[[Scope], Any] | None = None
        if authorize is not None:
            is_async = inspect.iscoroutinefunction(authorize) or inspect.iscoroutinefunction(
                getattr(authorize, "__call__", None)  # noqa: B004 - an async __call__ object
            )
            # A sync hook runs in a thread, never on the event loop: it may block (a database
            # look-up, the Django ORM: thread_sensitive keeps Django's one-thread rule).
            self._authorize = (
                authorize if is_async else sync_to_async(authorize, thread_sensitive=True)
            )
        #: Whether an ``authorize`` hook decides (awaited); else :meth:`by_key` does.
        self.hooked = self._authorize is not None
        self._anonymous = clients.anonymous
        self._keys = tuple(k.get_secret_value().encode() for k in clients.api_keys)

    def is_client_key(self, value: bytes) -> bool:
        # Compare against every key, without stopping early, so timing says nothing about
        # which key (or how much of one) matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(value, key)
        return matched

    async def authenticate(
        self,
        scope: Scope,
        headers: Mapping[bytes, bytes],
        segments: tuple[str, ...],
        route: RouteMatch | None,
    ) -> Principal:
        """The caller's :class:`Principal`, or a 401/403 :class:`GatewayError`."""
        if self._authorize is not None:
            return await self._call_hook(_hook_scope(scope, segments, route))
        return self.by_key(headers, segments)

    def by_key(self, headers: Mapping[bytes, bytes], segments: tuple[str, ...]) -> Principal:
        """Without a hook: the client key presented, or anonymous access, decides; no await
        (the usual case needs no coroutine of its own)."""
        if self._keys:
            anthropic = segments[:1] == ("anthropic",)
            for value in presented_keys(headers, anthropic=anthropic):
                if self.is_client_key(value):
                    return _CLIENT_KEY
            if self._anonymous:
                return _ANONYMOUS
            message = _BAD_ANTHROPIC_KEY if anthropic else _BAD_KEY
            raise GatewayError(401, message, code="invalid_api_key")
        if self._anonymous:
            return _ANONYMOUS
        raise GatewayError(401, _NO_ACCESS, code="no_client_access_configured")

    async def _call_hook(self, scope: Scope) -> Principal:
        assert self._authorize is not None
        try:
            result = await self._authorize(scope)
            if inspect.isawaitable(result):
                result = await result
        except PermissionError as exc:
            message = str(exc) or "The authorize hook refused this request."
            raise GatewayError(403, message, code="permission_denied") from None
        except GatewayError:
            raise
        except Exception:
            # A bug in the host's hook: log it for the host, tell the caller nothing internal.
            logger.exception("azure-asgi: the authorize hook raised")
            raise GatewayError(500, "The authorize hook failed.", code="authorize_failed") from None
        if result is None:
            raise GatewayError(
                401, "The authorize hook did not accept this caller.", code="unauthorized"
            )
        if not isinstance(result, Principal):
            logger.error(
                "azure-asgi: authorize returned %r, expected Principal or None", type(result)
            )
            raise GatewayError(500, "The authorize hook failed.", code="authorize_failed")
        return result


def _hook_scope(scope: Scope, segments: tuple[str, ...], route: RouteMatch | None) -> Scope:
    """The scope the hook sees: the host's, with the path as routed and the matched route."""
    path = scope.get("root_path", "") + "/" + "/".join(segments)
    raw = "/" + "/".join(quote(s, safe="") for s in segments)
    return {
        **scope,
        "path": path,
        "raw_path": (scope.get("root_path", "") + raw).encode("utf-8", "replace"),
        "azure_asgi.route": route,
    }
