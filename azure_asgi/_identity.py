"""Upstream credentials: API keys, static tokens, and azure-identity token providers.

Each resource gets one :class:`UpstreamAuth`; it turns a model family into the header that
authenticates the gateway (never the caller) to Azure. Tokens are cached per scope and refreshed
before they expire, with one refresh in flight at a time.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Protocol

from ._config import AuthConfig, ResourceConfig

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = [
    "ANTHROPIC_SCOPE",
    "COGNITIVE_SCOPE",
    "ApiKeyAuth",
    "BearerTokenAuth",
    "TokenCredentialAuth",
    "UpstreamAuth",
    "build_auth",
]

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
ANTHROPIC_SCOPE = "https://ai.azure.com/.default"
# Refresh this long before expiry so no request goes out with a token about to lapse.
_REFRESH_MARGIN_S = 300.0

Header = tuple[str, str]


class UpstreamAuth(Protocol):
    async def header(self, family: str) -> Header: ...

    async def aclose(self) -> None: ...


class ApiKeyAuth:
    """``api-key: K`` for the OpenAI family, ``x-api-key: K`` for Claude on Foundry."""

    def __init__(self, key: str, *, bearer: bool = False) -> None:
        # Built once: the hot path only picks one of two prebuilt tuples.
        if bearer:  # kind: openai resources (api.openai.com and compatible servers)
            self._openai = self._anthropic = ("authorization", f"Bearer {key}")
        else:
            self._openai = ("api-key", key)
            self._anthropic = ("x-api-key", key)

    async def header(self, family: str) -> Header:
        return self._anthropic if family == "anthropic" else self._openai

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "ApiKeyAuth(<redacted>)"


class BearerTokenAuth:
    """A static bearer token from config (``azure_ad_token``)."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    async def header(self, family: str) -> Header:
        return self._header

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "BearerTokenAuth(<redacted>)"


class TokenCredentialAuth:
    """Entra ID tokens from an azure-identity async credential, cached per scope."""

    def __init__(
        self, credential: AsyncTokenCredential, *, scope: str | None = None, owned: bool = True
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._owned = owned
        self._cache: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _scope_for(self, family: str) -> str:
        if self._scope:
            return self._scope
        return ANTHROPIC_SCOPE if family == "anthropic" else COGNITIVE_SCOPE

    async def header(self, family: str) -> Header:
        scope = self._scope_for(family)
        cached = self._cache.get(scope)
        if cached is not None and cached[1] - _REFRESH_MARGIN_S > time.time():
            return ("authorization", f"Bearer {cached[0]}")
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            cached = self._cache.get(scope)
            if cached is None or cached[1] - _REFRESH_MARGIN_S <= time.time():
                token = await self._credential.get_token(scope)
                cached = (token.token, float(token.expires_on))
                self._cache[scope] = cached
        return ("authorization", f"Bearer {cached[0]}")

    async def aclose(self) -> None:
        if self._owned:
            await self._credential.close()

    def __repr__(self) -> str:
        return f"TokenCredentialAuth({type(self._credential).__name__})"


def _credential_for(auth: AuthConfig) -> AsyncTokenCredential:
    # Imported here: azure.identity.aio is only needed when a resource uses Entra ID.
    from azure.identity import aio as identity

    method = auth.method
    if method == "service_principal":
        # The config model guarantees all three are set for this method.
        assert auth.tenant_id is not None
        assert auth.client_id is not None
        assert auth.client_secret is not None
        return identity.ClientSecretCredential(
            auth.tenant_id, auth.client_id, auth.client_secret.get_secret_value()
        )
    if method == "managed_identity":
        mi = auth.managed_identity
        client_id = None if isinstance(mi, bool) else mi.client_id
        return identity.ManagedIdentityCredential(client_id=client_id)
    if method == "workload_identity":
        if auth.client_id:
            return identity.WorkloadIdentityCredential(client_id=auth.client_id)
        return identity.WorkloadIdentityCredential()
    return identity.DefaultAzureCredential()


def build_auth(
    resource: ResourceConfig, credential: AsyncTokenCredential | None = None
) -> UpstreamAuth:
    """The upstream auth for one resource: an injected credential wins over config."""
    auth = resource.auth
    if credential is not None:
        return TokenCredentialAuth(credential, scope=auth.scope, owned=False)
    method = auth.method
    if method == "api_key":
        assert auth.api_key is not None
        return ApiKeyAuth(auth.api_key.get_secret_value(), bearer=resource.kind == "openai")
    if method == "token":
        assert auth.azure_ad_token is not None
        return BearerTokenAuth(auth.azure_ad_token.get_secret_value())
    return TokenCredentialAuth(_credential_for(auth), scope=auth.scope)
