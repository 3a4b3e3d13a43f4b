"""The emulator answers hostile JSON (deep nesting, lone surrogates, non-UTF-8) with a 400."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from azure_asgi.testing import AzureEmulator

KEY = "emulator-key"
V = "?api-version=2024-10-21"
DEPLOYMENT = "/openai/deployments/gpt-4o"
LONE = "\\ud800"  # a JSON escape of a lone UTF-16 surrogate: valid JSON, not Unicode text
USER = [{"role": "user", "content": "hello"}]

# route -> a valid body for it, which each case below breaks in one place.
ROUTES: dict[str, dict[str, Any]] = {
    f"{DEPLOYMENT}/chat/completions{V}": {"messages": USER},
    "/openai/v1/chat/completions": {"model": "gpt-4o", "messages": USER},
    f"{DEPLOYMENT}/completions{V}": {"prompt": "hello"},
    f"{DEPLOYMENT}/embeddings{V}": {"input": "hello"},
    "/openai/v1/embeddings": {"model": "emb", "input": ["hello"]},
    f"{DEPLOYMENT}/images/generations{V}": {"prompt": "a cat"},
    f"{DEPLOYMENT}/audio/speech{V}": {"input": "hello", "voice": "alloy"},
    "/openai/v1/responses": {"model": "gpt-4o", "input": "hello"},
    "/openai/v1/batches": {
        "input_file_id": "file-x",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    },
    "/openai/v1/fine_tuning/jobs": {"model": "gpt-4o", "training_file": "file-x"},
    "/anthropic/v1/messages": {"model": "claude", "max_tokens": 8, "messages": USER},
}


def raw(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://emulator",
        headers={"api-key": KEY, "anthropic-version": "2023-06-01"},
    )


def with_lone_surrogate(body: dict[str, Any], where: str) -> bytes:
    """``body`` serialised with a lone surrogate put in its ``where`` field (or a key)."""
    marker = "@@SURROGATE@@"
    broken = json.loads(json.dumps(body))
    if where == "key":
        broken[f"x{marker}"] = 1
    elif where == "content" and "messages" in broken:
        broken["messages"][0]["content"] = f"hi {marker} there"
    elif where == "content":
        fields = [field for field in ("input", "prompt") if field in broken] or ["user"]
        for field in fields:
            broken[field] = [marker] if isinstance(broken.get(field), list) else f"hi {marker}"
    else:
        broken[where] = marker
    return json.dumps(broken).replace(marker, LONE).encode()


def assert_400_in_route_shape(resp: httpx.Response, path: str, *words: str) -> str:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    message = body["error"]["message"]
    if path.startswith("/anthropic/"):
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["code"] == "BadRequest"
    for word in words:
        assert word in message
    resp.content.decode("ascii")  # the answer itself is plain, encodable text
    return str(message)


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 5000 + b"]" * 5000, id="list-5000"),
        pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, id="object-5000"),
        pytest.param(b'{"a":' * 1000 + b"1" + b"}" * 1000, id="object-1000"),
    ],
)
async def test_deeply_nested_body_is_400(path: str, body: bytes) -> None:
    async with raw(AzureEmulator(api_keys=(KEY,))) as client:
        resp = await client.post(path, content=body)
    assert_400_in_route_shape(resp, path, "nests deeper than")


@pytest.mark.parametrize("path", list(ROUTES))
async def test_deep_value_inside_a_valid_request_is_400(path: str) -> None:
    deep = "[" * 1200 + "]" * 1200
    body = json.dumps({**ROUTES[path], "metadata": "@@"}).replace('"@@"', deep).encode()
    emulator = AzureEmulator(api_keys=(KEY,))
    async with raw(emulator) as client:
        resp = await client.post(path, content=body)
    assert_400_in_route_shape(resp, path, "nests deeper than")
    assert emulator.last_request.json is None  # the record does not crash on it either


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize("where", ["model", "content", "key"])
@pytest.mark.parametrize("stream", [False, True])
async def test_lone_surrogate_is_400(path: str, where: str, stream: bool) -> None:
    body = {**ROUTES[path], **({"stream": True} if stream else {})}
    async with raw(AzureEmulator(api_keys=(KEY,))) as client:
        resp = await client.post(path, content=with_lone_surrogate(body, where))
    message = assert_400_in_route_shape(resp, path, "surrogate")
    assert "\ud800" not in message


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/openai/v1/batches", "input_file_id"),  # named in the emulator's 'not found' error
        ("/openai/v1/fine_tuning/jobs", "training_file"),
        (f"{DEPLOYMENT}/embeddings{V}", "encoding_format"),
        (f"{DEPLOYMENT}/audio/speech{V}", "voice"),
        (f"{DEPLOYMENT}/images/generations{V}", "size"),
    ],
)
async def test_lone_surrogate_in_a_field_an_error_would_quote_is_400(path: str, field: str) -> None:
    async with raw(AzureEmulator(api_keys=(KEY,))) as client:
        resp = await client.post(path, content=with_lone_surrogate(ROUTES[path], field))
    assert_400_in_route_shape(resp, path, "surrogate")


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize(
    ("raw_text", "words"),
    [
        (b'"\xed\xa0\x80"', ("UTF-8",)),  # a surrogate encoded as bytes: not UTF-8 either
        (b'"caf\xe9"', ("UTF-8",)),  # latin-1
        (b"{not json", ("pars", "not valid JSON")),
    ],
)
async def test_body_that_is_not_utf8_json_is_400(
    path: str, raw_text: bytes, words: tuple[str, ...]
) -> None:
    body = json.dumps({**ROUTES[path], "user": "@@"}).encode().replace(b'"@@"', raw_text)
    async with raw(AzureEmulator(api_keys=(KEY,))) as client:
        resp = await client.post(path, content=body)
    assert_400_in_route_shape(resp, path, *words)


@pytest.mark.parametrize("path", list(ROUTES))
async def test_surrogate_pairs_and_moderate_nesting_are_still_served(path: str) -> None:
    # An escaped astral character (a valid pair) is ordinary text; 100 levels is a deep but
    # plausible JSON schema.
    nested = "[" * 100 + "]" * 100
    extra: dict[str, Any] = {"user": "@U@", "metadata": "@@"}
    if path.startswith("/anthropic/"):  # the Messages API refuses unknown fields: use its own
        tool = {"name": "t", "input_schema": {"type": "object", "examples": "@@"}}
        extra = {"metadata": {"user_id": "@U@"}, "tools": [tool], "tool_choice": {"type": "none"}}
    body = json.dumps({**ROUTES[path], **extra})
    body = body.replace('"@@"', nested).replace('"@U@"', '"hello \\ud83d\\ude00"')
    emulator = AzureEmulator(api_keys=(KEY,))
    async with raw(emulator) as client:
        resp = await client.post(path, content=body.encode())
    if "batches" in path or "fine_tuning" in path:
        assert resp.status_code == 400  # no such file: an ordinary 400, not a parse error
        assert "parse" not in resp.json()["error"]["message"]
    else:
        assert resp.status_code == 200, resp.text
    assert "\U0001f600" in json.dumps(emulator.last_request.json, ensure_ascii=False)


async def test_batch_lines_that_are_too_deep_or_hold_surrogates_fail_alone() -> None:
    good = {"custom_id": "ok", "method": "POST", "url": "/chat/completions"}
    lines = [
        json.dumps({**good, "body": {"model": "gpt-4o", "messages": USER}}).encode(),
        b'{"custom_id": "deep", "body": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        json.dumps(
            {**good, "custom_id": "lone", "body": {"messages": [{**USER[0], "content": "@@"}]}}
        )
        .replace('"@@"', f'"{LONE}"')
        .encode(),
    ]
    emulator = AzureEmulator(api_keys=(KEY,))
    async with raw(emulator) as client:
        upload = await client.post(
            "/openai/v1/files",
            files={"file": ("in.jsonl", b"\n".join(lines))},
            data={"purpose": "batch"},
        )
        assert upload.status_code == 200, upload.text
        batch = await client.post(
            "/openai/v1/batches",
            json={**ROUTES["/openai/v1/batches"], "input_file_id": upload.json()["id"]},
        )
        assert batch.status_code == 200, batch.text
        for _ in range(3):  # one status forward per retrieval
            done = (await client.get(f"/openai/v1/batches/{batch.json()['id']}")).json()
        assert done["status"] == "completed", done
        assert done["request_counts"] == {"completed": 1, "failed": 2, "total": 3}
        errors = await client.get(f"/openai/v1/files/{done['error_file_id']}/content")
    records = [json.loads(line) for line in errors.content.splitlines()]
    assert [r["custom_id"] for r in records] == [None, None]
    assert all(r["error"]["message"] == "Invalid JSON line." for r in records)
