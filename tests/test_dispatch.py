"""The dispatcher on its own: attempts, backoff, cooldown, failover, fallbacks and the deadline,
against a scripted transport; every outcome is an Answer or a GatewayError value."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from azure_asgi import GatewayConfig, GatewayError
from azure_asgi._catalog import Catalog, Target
from azure_asgi._deadlines import Deadlines
from azure_asgi._dispatch import Answer, Dispatcher
from azure_asgi._exchange import Exchange
from azure_asgi._identity import build_auth
from azure_asgi._inbound import read_inbound
from azure_asgi._routing import RouteTable
from azure_asgi._transport import UpstreamError, UpstreamRequest
from azure_asgi.families import ApiVersions, adapters

from .conftest import http_scope


class Reply:
    """A canned upstream response."""

    def __init__(
        self, status: int = 200, body: bytes = b'{"ok":true}', headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self._body = body
        self.headers = [
            (k.encode(), v.encode())
            for k, v in {"content-type": "application/json", **(headers or {})}.items()
        ]
        self.closed = False

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    async def read(self) -> bytes:
        return self._body

    def at_eof(self) -> bool:
        return True

    async def aclose(self) -> None:
        self.closed = True


Script = Callable[[UpstreamRequest], Reply]


class Upstream:
    """A Transport answering each request by host: ``{"a": script, ...}``."""

    def __init__(self, **by_host: Script | list[Script]) -> None:
        self.by_host = by_host
        self.sent: list[UpstreamRequest] = []

    async def send(self, request: UpstreamRequest) -> Reply:
        self.sent.append(request)
        host = request.url.split("//", 1)[1].split(".", 1)[0].split("/", 1)[0]
        script = self.by_host[host]
        if isinstance(script, list):
            script = script.pop(0) if len(script) > 1 else script[0]
        return script(request)

    async def aclose(self) -> None:
        return None


def unreachable(request: UpstreamRequest) -> Reply:
    raise UpstreamError("could not reach the upstream: ClientConnectorError")


def status(code: int, **headers: str) -> Script:
    return lambda request: Reply(code, b'{"error":{"code":"x","message":"m"}}', headers)


def ok(request: UpstreamRequest) -> Reply:
    return Reply()


def config(**overrides: Any) -> GatewayConfig:
    data: dict[str, Any] = {
        "retries": {"max_attempts": 3, "initial_backoff_ms": 1, "max_backoff_ms": 2},
        "resources": [
            {
                "name": name,
                "endpoint": f"https://{name}.openai.azure.com",
                "auth": {"api_key": f"key-{name}"},
                "deployments": {"gpt-4o": f"dep-{name}", "gpt-4o-mini": f"mini-{name}"},
            }
            for name in ("a", "b")
        ],
        "clients": {"anonymous": True},
    }
    data.update(overrides)
    return GatewayConfig.coerce(data)


async def exchange_for(catalog: Catalog, body: dict[str, Any], timeout_s: float = 5) -> Exchange:
    """An exchange for a chat request, read and resolved as the app does before dispatch."""
    ex = Exchange(http_scope("/v1/chat/completions"), Deadlines(timeout_s).new())
    ex.route = RouteTable().match("POST", ("v1", "chat", "completions"))
    messages = [{"type": "http.request", "body": json.dumps(body).encode()}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    ex.inbound = await read_inbound(
        ex.route, receive, {}, b"", catalog.by_name, max_body=1 << 20, max_upload=1 << 20
    )
    ex.targets = catalog.targets_for(ex.inbound)
    return ex


def dispatcher_for(upstream: Upstream, cfg: GatewayConfig, catalog: Catalog) -> Dispatcher:
    fams = adapters(ApiVersions(cfg.api_version, {}))
    return Dispatcher(upstream, cfg.retries, fams, lambda ex, alias: catalog.resolve(alias))


async def dispatch(
    upstream: Upstream, cfg: GatewayConfig, body: dict[str, Any], timeout_s: float = 5
) -> tuple[Any, Exchange, Catalog]:
    catalog = Catalog(cfg, {r.name: build_auth(r) for r in cfg.resources})
    ex = await exchange_for(catalog, body, timeout_s)
    with ex.deadline:
        outcome = await dispatcher_for(upstream, cfg, catalog).send(ex)
    return outcome, ex, catalog


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def hosts(upstream: Upstream) -> list[str]:
    return [r.url.split("//", 1)[1].split(".", 1)[0] for r in upstream.sent]


async def test_unreachable_everywhere_is_a_gateway_error_value_with_every_attempt_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream = Upstream(a=unreachable, b=unreachable)
    with caplog.at_level("WARNING", logger="azure_asgi"):
        outcome, ex, _ = await dispatch(upstream, config(), CHAT)
    assert isinstance(outcome, GatewayError)
    assert outcome.status == 502 and outcome.code == "upstream_unreachable"
    assert [a.retry_reason for a in ex.attempts] == ["unreachable"] * 3
    assert len(upstream.sent) == 3
    # One warning per attempt, each naming its resource and its number.
    names = hosts(upstream)
    assert [r.getMessage() for r in caplog.records] == [
        f"azure-asgi: could not reach the upstream: ClientConnectorError on resource {name} "
        f"(attempt {n})"
        for n, name in enumerate(names, 1)
    ]


async def test_failover_prefers_the_other_resource_and_cools_the_failed_one_down() -> None:
    upstream = Upstream(a=status(503), b=ok)
    # A cooldown long enough that a slow machine cannot see it expire before the check; no
    # attempt waits it out, because the other resource is healthy.
    cfg = config(
        retries={"max_attempts": 3, "initial_backoff_ms": 60_000, "max_backoff_ms": 60_000}
    )
    for _ in range(5):
        outcome, ex, catalog = await dispatch(upstream, cfg, CHAT)
        assert isinstance(outcome, Answer) and outcome.status == 200
        assert outcome.target.resource.name == "b"
        if len(ex.attempts) == 2:
            assert ex.attempts[0].retry_reason == "status_503"
            assert not catalog.by_name["a"].healthy


async def test_retry_after_is_honoured_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    one = config(resources=[config().model_dump()["resources"][0]])
    upstream = Upstream(a=[status(429, **{"retry-after-ms": "20"}), ok])
    outcome, _, _ = await dispatch(upstream, one, CHAT)
    assert isinstance(outcome, Answer) and outcome.status == 200
    assert 0.02 in slept  # (the deadline sweep sleeps too: its tick is not ours to count)

    # `inf` from the upstream: the resource leaves balancing for max_cooldown_s, no longer.
    capped = config(
        retries={"max_attempts": 2, "initial_backoff_ms": 1, "max_cooldown_s": 7},
    )
    upstream = Upstream(a=status(429, **{"retry-after": "inf"}), b=ok)
    before = time.monotonic()
    outcome, _, catalog = await dispatch(upstream, capped, CHAT)
    assert isinstance(outcome, Answer)
    for resource in catalog.resources:
        assert resource.cooldown_until <= before + 7.5


async def test_fallback_alias_after_the_primary_fails_and_primary_error_when_all_fail() -> None:
    upstream = Upstream(a=lambda r: Reply(200) if "mini" in r.url else status(500)(r))
    one = config(
        resources=[config().model_dump()["resources"][0]],
        retries={"max_attempts": 2, "initial_backoff_ms": 1, "max_backoff_ms": 1},
    )
    outcome, ex, _ = await dispatch(upstream, one, {**CHAT, "fallbacks": ["gpt-4o-mini"]})
    assert isinstance(outcome, Answer) and outcome.status == 200
    assert outcome.target.alias == "gpt-4o-mini"
    assert [a.target.alias for a in ex.attempts] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    # The fallbacks field is the gateway's: it never reaches the upstream.
    assert all(b"fallbacks" not in (r.body or b"") for r in upstream.sent if r.body)

    upstream = Upstream(a=status(500))
    outcome, ex, _ = await dispatch(upstream, one, {**CHAT, "fallbacks": ["gpt-4o-mini"]})
    assert isinstance(outcome, Answer) and outcome.status == 500
    assert outcome.target.alias == "gpt-4o"  # the primary's error wins


async def test_non_retryable_status_is_answered_at_once() -> None:
    upstream = Upstream(a=status(400), b=ok)
    outcome, ex, _ = await dispatch(upstream, config(), CHAT)
    assert isinstance(outcome, Answer) and outcome.status in (400, 200)
    assert len(ex.attempts) == 1


async def test_the_deadline_ends_the_waits() -> None:
    one = config(
        resources=[config().model_dump()["resources"][0]],
        retries={"max_attempts": 5, "initial_backoff_ms": 1},
    )
    upstream = Upstream(a=status(429, **{"retry-after": "30"}))
    started = time.monotonic()
    outcome, ex, _ = await dispatch(upstream, one, CHAT, timeout_s=1)
    assert time.monotonic() - started < 1
    assert isinstance(outcome, Answer) and outcome.status == 429
    assert len(ex.attempts) == 1  # a 30 s wait cannot fit in what is left: no second try


class _FailingCredential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError("AADSTS7000215: Invalid client secret sk-hidden")

    async def close(self) -> None:
        return None


async def test_a_failing_credential_fails_over_and_names_the_resource_never_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = config()
    auths = {r.name: build_auth(r) for r in cfg.resources}
    from azure_asgi._identity import TokenCredentialAuth

    auths["a"] = TokenCredentialAuth(_FailingCredential())  # type: ignore[arg-type]
    catalog = Catalog(cfg, auths)
    upstream = Upstream(b=ok)
    dispatcher = dispatcher_for(upstream, cfg, catalog)
    served: list[str] = []
    for _ in range(6):
        ex = await exchange_for(catalog, CHAT)
        with ex.deadline:
            outcome = await dispatcher.send(ex)
        assert isinstance(outcome, Answer) and outcome.status == 200
        served.append(outcome.target.resource.name)
        assert {a.retry_reason for a in ex.attempts if a.retry_reason} <= {"auth_failed"}
    assert served == ["b"] * 6
    assert not any(r.exc_info for r in caplog.records)  # a warning, not a traceback
    assert "sk-hidden" not in caplog.text

    # Only the failing resource left: a 502 that names it and its auth method.
    ex = await exchange_for(catalog, CHAT)
    ex.targets = [Target(catalog.by_name["a"], "gpt-4o", "dep-a", "openai")]
    with ex.deadline:
        outcome = await dispatcher.send(ex)
    assert isinstance(outcome, GatewayError)
    assert outcome.status == 502 and outcome.code == "upstream_auth_failed"
    assert "'a'" in outcome.message
    assert "ClientAuthenticationError" in outcome.message
    assert "sk-hidden" not in outcome.message
