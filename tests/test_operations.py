"""Every operation through every route family, against every upstream style.

The upstream is an ``httpx.MockTransport`` that records exactly what the gateway sent, so these
tests pin the URL, method, api-version, auth and body rules of contract section 6 for each
operation descriptor; the emulator-driven SDK tests (test_sdk_operations.py) prove the wire shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from azure_asgi import AzureGateway
from azure_asgi._operations import OPERATIONS, Operation, markdown_table

from .conftest import CLIENT_KEY, caller, mock_gateway

ENDPOINT = "https://eastus.example.azure.com"
DEFAULT_VERSION = "2024-10-21"


class Upstream:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(200, json={"object": "list", "data": []})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def gateway(upstream: Upstream, **resource: Any) -> AzureGateway:
    config = {
        "resources": [
            {
                "name": "eastus",
                "endpoint": ENDPOINT,
                "auth": {"api_key": "upstream-key"},
                "deployments": {"gpt-4o": "dep-4o"},
                **resource,
            }
        ],
        "clients": {"api_keys": [CLIENT_KEY]},
    }
    return mock_gateway(upstream, config)


def request_for(op: Operation, model: str = "gpt-4o") -> dict[str, Any]:
    """httpx request kwargs that satisfy ``op``'s validation."""
    if op.body in ("multipart", "json_or_multipart"):
        return {"data": {"model": model, "prompt": "p"}, "files": {"file": ("a.bin", b"\x00\x01")}}
    if op.body == "none" or op.method in ("GET", "DELETE"):
        return {}
    body: dict[str, Any] = {}
    if op.routed_by == "model":
        body["model"] = model
    for name, kind in op.required:
        body[name] = [{"role": "user", "content": "x"}] if kind is list else "file-1"
    if op.request_type == "fine_tuning":
        body["model"] = "gpt-4o-mini-2024-07-18"
    return {"json": body}


SUPPORTED = [op for op in OPERATIONS if op.supported and op.api == "openai"]
DEPLOYMENT_OPS = [op for op in SUPPORTED if op.deployment_op is not None]


def path_of(op: Operation) -> str:
    return op.path.replace("{id}", "obj-1")


def expected_upstream(op: Operation, version: str) -> str:
    """The URL in the default (deployments) style."""
    path = path_of(op)
    if op.upstream == "deployment":
        return f"/openai/deployments/dep-4o/{op.deployment_op}?api-version={version}"
    if op.upstream == "batches":
        return f"/openai/{path}?api-version={version}"
    return f"/openai/v1/{path}"


def upstream_url(request: httpx.Request) -> str:
    query = request.url.query.decode()
    return request.url.path + (f"?{query}" if query else "")


@pytest.mark.parametrize("op", SUPPORTED, ids=lambda op: f"{op.method} {op.path}")
@pytest.mark.parametrize("prefix", ["/v1", "/openai/v1"])
async def test_unified_and_v1_routes(op: Operation, prefix: str) -> None:
    upstream = Upstream()
    async with gateway(upstream) as gw, caller(gw) as client:
        resp = await client.request(op.method, f"{prefix}/{path_of(op)}", **request_for(op))
    assert resp.status_code == 200, resp.text
    sent = upstream.last
    assert sent.method == op.method
    version = op.api_version or DEFAULT_VERSION
    assert upstream_url(sent) == expected_upstream(op, version)
    assert sent.headers["api-key"] == "upstream-key"
    assert CLIENT_KEY not in str(sent.headers)
    _assert_model(op, sent, expect_deployment=op.upstream != "deployment")


@pytest.mark.parametrize("op", DEPLOYMENT_OPS, ids=lambda op: op.request_type)
@pytest.mark.parametrize("name", ["gpt-4o", "dep-4o"])
async def test_azure_deployment_routes_forward_the_callers_api_version(
    op: Operation, name: str
) -> None:
    upstream = Upstream()
    kwargs = request_for(op, model=name)
    async with gateway(upstream) as gw, caller(gw) as client:
        resp = await client.post(
            f"/openai/deployments/{name}/{op.deployment_op}?api-version=2099-01-01", **kwargs
        )
    assert resp.status_code == 200, resp.text
    assert upstream_url(upstream.last) == expected_upstream(op, "2099-01-01")


LEGACY = [op for op in SUPPORTED if op.deployment_op is None]


@pytest.mark.parametrize("op", LEGACY, ids=lambda op: f"{op.method} {op.path}")
async def test_azure_pre_v1_routes(op: Operation) -> None:
    # AzureOpenAI clients call /openai/<path>?api-version=... for non-deployment operations.
    upstream = Upstream()
    async with gateway(upstream) as gw, caller(gw) as client:
        resp = await client.request(
            op.method, f"/openai/{path_of(op)}?api-version=2099-01-01", **request_for(op)
        )
    assert resp.status_code == 200, resp.text
    expected = expected_upstream(op, "2099-01-01")
    assert upstream_url(upstream.last) == expected


@pytest.mark.parametrize("op", SUPPORTED, ids=lambda op: f"{op.method} {op.path}")
async def test_v1_style_resource(op: Operation) -> None:
    upstream = Upstream()
    async with gateway(upstream, api_style="v1") as gw, caller(gw) as client:
        resp = await client.request(op.method, f"/v1/{path_of(op)}", **request_for(op))
    assert resp.status_code == 200, resp.text
    assert upstream_url(upstream.last) == f"/openai/v1/{path_of(op)}"
    _assert_model(op, upstream.last, expect_deployment=True)


@pytest.mark.parametrize("op", SUPPORTED, ids=lambda op: f"{op.method} {op.path}")
async def test_openai_compatible_resource(op: Operation) -> None:
    upstream = Upstream()
    resource = {"kind": "openai", "endpoint": "https://api.example.com/v1"}
    async with gateway(upstream, **resource) as gw, caller(gw) as client:
        resp = await client.request(op.method, f"/v1/{path_of(op)}", **request_for(op))
    assert resp.status_code == 200, resp.text
    sent = upstream.last
    assert str(sent.url) == f"https://api.example.com/v1/{path_of(op)}"
    assert sent.headers["authorization"] == "Bearer upstream-key"
    _assert_model(op, sent, expect_deployment=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/images/variations"), ("POST", "/v1/videos/video_1/remix"),
     ("POST", "/openai/images/variations?api-version=2024-10-21")],
)  # fmt: skip
async def test_unsupported_operations_are_400_and_send_nothing(method: str, path: str) -> None:
    upstream = Upstream()
    async with gateway(upstream) as gw, caller(gw) as client:
        resp = await client.request(
            method, path, files={"image": ("a.png", b"png")}, data={"model": "gpt-4o"}
        )
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"]["code"] == "unsupported_operation"
    assert body["is_gateway_error"] is True
    assert upstream.requests == []


def test_operations_page_is_generated_from_the_table() -> None:
    page = Path(__file__).parent.parent / "docs" / "operations.md"
    assert page.read_text() == markdown_table(), (
        "docs/operations.md is out of date: python -m azure_asgi._operations > docs/operations.md"
    )


def _assert_model(op: Operation, sent: httpx.Request, *, expect_deployment: bool) -> None:
    if op.routed_by != "model":
        return
    # A body is forwarded untouched unless the URL does not name the deployment.
    json_body = op.body == "json"
    model = json.loads(sent.content)["model"] if json_body else _form_field(sent, "model")
    assert model == ("dep-4o" if expect_deployment else "gpt-4o")


def _form_field(sent: httpx.Request, name: str) -> str:
    marker = f'name="{name}"\r\n\r\n'.encode()
    start = sent.content.index(marker) + len(marker)
    return sent.content[start : sent.content.index(b"\r\n", start)].decode()
