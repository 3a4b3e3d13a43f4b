"""Upstream credentials: API-key headers per family, token caching and refresh."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from azure.core.credentials import AccessToken

from azure_asgi import AzureGateway
from azure_asgi._config import ResourceConfig
from azure_asgi._identity import (
    ANTHROPIC_SCOPE,
    COGNITIVE_SCOPE,
    ApiKeyAuth,
    BearerTokenAuth,
    TokenCredentialAuth,
    build_auth,
)
from azure_asgi.testing import AzureEmulator

from .conftest import CHAT, caller, emulator_gateway, make_config


class FakeCredential:
    """An azure-identity-shaped async credential that counts its token requests."""

    def __init__(self, lifetime_s: float = 3600) -> None:
        self.calls: list[str] = []
        self.lifetime_s = lifetime_s
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append(scopes[0])
        await asyncio.sleep(0)
        return AccessToken(f"token-{len(self.calls)}", int(time.time() + self.lifetime_s))

    async def close(self) -> None:
        self.closed = True


async def test_api_key_headers_per_family() -> None:
    auth = ApiKeyAuth("k")
    assert await auth.header("openai") == ("api-key", "k")
    assert await auth.header("anthropic") == ("x-api-key", "k")
    assert await ApiKeyAuth("k", bearer=True).header("openai") == ("authorization", "Bearer k")
    assert "k" not in repr(auth)


async def test_static_token() -> None:
    assert await BearerTokenAuth("t").header("openai") == ("authorization", "Bearer t")


async def test_tokens_cached_per_scope_and_single_flight() -> None:
    cred = FakeCredential()
    auth = TokenCredentialAuth(cred)  # type: ignore[arg-type]
    headers = await asyncio.gather(*(auth.header("openai") for _ in range(10)))
    assert set(headers) == {("authorization", "Bearer token-1")}
    assert await auth.header("anthropic") == ("authorization", "Bearer token-2")
    assert cred.calls == [COGNITIVE_SCOPE, ANTHROPIC_SCOPE]


async def test_token_refreshed_before_expiry() -> None:
    cred = FakeCredential(lifetime_s=60)  # inside the refresh margin: always refreshed
    auth = TokenCredentialAuth(cred, scope="api://custom/.default")  # type: ignore[arg-type]
    assert await auth.header("openai") == ("authorization", "Bearer token-1")
    assert await auth.header("openai") == ("authorization", "Bearer token-2")
    assert cred.calls == ["api://custom/.default"] * 2


def test_build_auth_precedence() -> None:
    res = ResourceConfig(name="r", endpoint="https://r.openai.azure.com", auth={"api_key": "k"})
    assert isinstance(build_auth(res), ApiKeyAuth)
    res = ResourceConfig(name="r", endpoint="https://r", auth={"azure_ad_token": "t"})
    assert isinstance(build_auth(res), BearerTokenAuth)
    sp = ResourceConfig(
        name="r",
        endpoint="https://r",
        auth={"api_key": "k", "tenant_id": "t", "client_id": "c", "client_secret": "s"},
    )
    built = build_auth(sp)
    assert isinstance(built, TokenCredentialAuth)
    assert "ClientSecretCredential" in repr(built)
    assert (
        repr(build_auth(ResourceConfig(name="r", endpoint="https://r")))
        == "TokenCredentialAuth(DefaultAzureCredential)"
    )


async def test_injected_credential_used_for_upstream_bearer() -> None:
    emulator = AzureEmulator(api_keys=(), tokens=("token-1",))
    cred = FakeCredential()
    config = make_config()
    del config["resources"][0]["auth"]
    gateway = emulator_gateway(emulator, config, credentials={"eastus": cred})
    async with gateway, caller(gateway) as client:
        first = await client.post("/v1/chat/completions", json=CHAT)
        second = await client.post("/v1/chat/completions", json=CHAT)
    assert first.status_code == second.status_code == 200
    assert [r.headers["authorization"] for r in emulator.requests] == ["Bearer token-1"] * 2
    assert "api-key" not in emulator.requests[0].headers
    assert cred.calls == [COGNITIVE_SCOPE]
    assert not cred.closed  # injected: the host owns it


def test_unknown_credential_resource_is_an_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown resources"):
        AzureGateway(make_config(), credentials={"westus": FakeCredential()})  # type: ignore[dict-item]
