"""Stateful objects across two resources: created where asked, found again by id alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from azure_asgi.testing import AzureEmulator, Fault

from .conftest import CLIENT_KEY, EMULATOR_KEY, caller, emulator_gateway, sse_json


@pytest.fixture
def east() -> AzureEmulator:
    return AzureEmulator(api_keys=(EMULATOR_KEY,))


@pytest.fixture
def west() -> AzureEmulator:
    return AzureEmulator(api_keys=(EMULATOR_KEY,))


def config(**overrides: Any) -> dict[str, Any]:
    def resource(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "endpoint": f"http://{name}.example",
            "auth": {"api_key": EMULATOR_KEY},
            "deployments": {"gpt-4o": f"{name}-gpt4o"},
        }

    return {
        "resources": [resource("eastus"), resource("westus")],
        "clients": {"api_keys": [CLIENT_KEY]},
        "retries": {"max_attempts": 1},
        **overrides,
    }


@pytest.fixture
async def client(east: AzureEmulator, west: AzureEmulator) -> AsyncIterator[httpx.AsyncClient]:
    gateway = emulator_gateway({"eastus.example": east, "westus.example": west}, config())
    async with gateway, caller(gateway) as c:
        yield c


async def upload(client: httpx.AsyncClient, resource: str | None, data: bytes = b"{}\n") -> str:
    headers = {"x-azure-resource": resource} if resource else {}
    resp = await client.post(
        "/v1/files",
        data={"purpose": "batch"},
        files={"file": ("input.jsonl", data)},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


async def test_file_lives_where_created_and_is_found_by_id_alone(
    client: httpx.AsyncClient, east: AzureEmulator, west: AzureEmulator
) -> None:
    payload = bytes(range(256)) * 64
    file_id = await upload(client, "westus", payload)
    assert file_id.endswith("~westus")
    plain = file_id.removesuffix("~westus")

    retrieved = await client.get(f"/v1/files/{file_id}")
    content = await client.get(f"/v1/files/{file_id}/content")
    deleted = await client.delete(f"/v1/files/{file_id}")
    assert retrieved.json()["id"] == file_id
    assert retrieved.json()["extra_fields"]["resource"] == "westus"
    assert content.content == payload
    assert deleted.json()["deleted"] is True
    assert [r.path for r in west.requests] == [
        "/openai/v1/files",
        f"/openai/v1/files/{plain}",
        f"/openai/v1/files/{plain}/content",
        f"/openai/v1/files/{plain}",
    ]
    assert east.requests == []


async def test_default_resource_when_nothing_says(east: AzureEmulator, west: AzureEmulator) -> None:
    upstreams = {"eastus.example": east, "westus.example": west}
    gateway = emulator_gateway(upstreams, config(default_resource="westus"))
    async with gateway, caller(gateway) as c:
        file_id = await upload(c, None)
        listing = await c.get("/v1/files")
    assert file_id.endswith("~westus")
    assert listing.json()["extra_fields"]["resource"] == "westus"
    assert [f["id"] for f in listing.json()["data"]] == [file_id]
    assert east.requests == []


async def test_batch_follows_its_input_file(
    client: httpx.AsyncClient, east: AzureEmulator, west: AzureEmulator
) -> None:
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    line = {"custom_id": "1", "method": "POST", "url": "/chat/completions", "body": chat}
    file_id = await upload(client, "westus", json.dumps(line).encode() + b"\n")
    batch = await client.post(
        "/v1/batches",
        json={
            "input_file_id": file_id,
            "endpoint": "/chat/completions",
            "completion_window": "24h",
        },
    )
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert body["id"].endswith("~westus")
    assert body["input_file_id"] == file_id
    assert west.last_request.json["input_file_id"] == file_id.removesuffix("~westus")
    assert west.last_request.path == "/openai/batches"
    # A batch's own `endpoint` field is Azure's, not the direct-key one: it passes through.
    assert west.last_request.json["endpoint"] == "/chat/completions"
    retrieved = await client.get(f"/v1/batches/{body['id']}")
    assert retrieved.json()["id"] == body["id"]
    assert east.requests == []


async def test_responses_chain_stays_on_one_resource(
    client: httpx.AsyncClient, east: AzureEmulator, west: AzureEmulator
) -> None:
    first = await client.post("/v1/responses", json={"model": "gpt-4o", "input": "one"})
    assert first.status_code == 200, first.text
    response_id = first.json()["id"]
    resource = response_id.rsplit("~", 1)[1]
    home = west if resource == "westus" else east
    other = east if home is west else west
    for word in ("two", "three", "four", "five"):
        nxt = await client.post(
            "/v1/responses",
            json={"model": "gpt-4o", "input": word, "previous_response_id": response_id},
        )
        assert nxt.status_code == 200, nxt.text
        assert home.last_request.json["previous_response_id"] == response_id.rsplit("~", 1)[0]
        assert nxt.json()["previous_response_id"] == response_id
        response_id = nxt.json()["id"]
    assert len(home.requests) == 5
    assert other.requests == []
    got = await client.get(f"/v1/responses/{response_id}")
    assert got.json()["id"] == response_id


async def test_streamed_response_ids_carry_their_resource(
    client: httpx.AsyncClient, east: AzureEmulator, west: AzureEmulator
) -> None:
    resp = await client.post(
        "/v1/responses",
        json={"model": "gpt-4o", "input": "stream me", "stream": True},
        headers={"x-azure-resource": "eastus"},
    )
    events = sse_json(resp.content)
    created = next(e for e in events if e["type"] == "response.created")
    completed = events[-1]
    assert completed["type"] == "response.completed"
    assert created["response"]["id"].endswith("~eastus")
    assert completed["response"]["id"] == created["response"]["id"]
    assert "event: response.created" in resp.text
    assert west.requests == []


async def test_objects_from_two_resources_cannot_be_combined(
    client: httpx.AsyncClient, east: AzureEmulator, west: AzureEmulator
) -> None:
    training = await upload(client, "eastus")
    validation = await upload(client, "westus")
    before = len(east.requests) + len(west.requests)
    resp = await client.post(
        "/v1/fine_tuning/jobs",
        json={"model": "gpt-4o-mini", "training_file": training, "validation_file": validation},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "resource_conflict"
    assert len(east.requests) + len(west.requests) == before


async def test_unknown_resource_header(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/files", headers={"x-azure-resource": "northpole"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unknown_resource"
    assert "eastus" in resp.json()["error"]["message"]


async def test_model_list_merges_aliases_and_survives_a_failing_resource(
    client: httpx.AsyncClient, east: AzureEmulator, west: AzureEmulator
) -> None:
    west.inject(Fault.status(500), times=5)
    resp = await client.get("/v1/models")
    assert resp.status_code == 200
    body = resp.json()
    alias = next(m for m in body["data"] if m["id"] == "azure/gpt-4o")
    assert alias["deployment"] == "eastus-gpt4o"
    assert alias["resources"] == ["eastus", "westus"]
    assert alias["capabilities"]["chat_completion"] is True
    assert body["extra_fields"]["resources_failed"] == ["westus"]
    assert len(body["data"]) > 1  # the upstream's own models are listed too
    assert east.last_request.path == "/openai/v1/models"
    one = await client.get("/v1/models/azure/gpt-4o")
    assert one.status_code == 404  # a slash makes two segments: the id must be encoded
    one = await client.get("/v1/models/azure%2Fgpt-4o")
    assert one.json()["id"] == "azure/gpt-4o"
