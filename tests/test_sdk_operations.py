"""Every non-chat operation through the gateway with the real openai SDK, in three families.

The same SDK call goes through the unified routes (``OpenAI(base_url=MOUNT + "/v1")``), the
Azure v1 routes (``OpenAI(base_url=MOUNT + "/openai/v1/")``) and Azure's classic routes
(``AzureOpenAI(azure_endpoint=MOUNT, api_version=...)``), with the emulator as the upstream
(in-process httpx and aiohttp over loopback, via ``upstream_endpoint``). Each test asserts what
the SDK parsed and what the emulator received: method, path, query, auth and body.

Stateful objects (files, batches, videos, fine-tuning) are in test_sdk_operations_objects.py.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, RecordedRequest

from .conftest import (
    API_VERSION,
    CLIENT_KEY,
    EMULATOR_KEY,
    async_openai,
    eventually,
    make_config,
    sdk_transport,
    sse_data,
    sse_events,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's Sora warning

#: The api-version AzureOpenAI clients send: unlike the config's, so "the caller's" is visible.
CALLER_VERSION = "2024-12-01-preview"
RESOURCE = "eastus"
DEPLOYMENTS = {
    "gpt-4o": "my-gpt4o",
    "gpt-4o-mini": "my-mini",
    "text-embedding-3-small": "my-embed",
    "gpt-image-1": "my-image",
    "whisper": "my-whisper",
    "tts": "my-tts",
    "sora": "my-sora",
}
PNG = b"\x89PNG\r\n\x1a\n"
#: Every byte value, 300 KiB: an image that must reach the upstream byte-identical.
IMAGE = bytes(range(256)) * 1200

#: unified ``/v1``, Azure v1 ``/openai/v1``, Azure classic ``/openai/...?api-version=``.
FAMILIES = ("unified", "azure_v1", "azure")


def families(*over_aiohttp: str) -> pytest.MarkDecorator:
    """Every family with the in-process httpx upstream, and the families in ``over_aiohttp``
    again with aiohttp over loopback: each operation meets both upstream clients, and the
    run stays short (a loopback server costs ~0.2 s a test)."""
    cases = [pytest.param("httpx", name, id=f"httpx-{name}") for name in FAMILIES]
    cases += [pytest.param("aiohttp", name, id=f"aiohttp-{name}") for name in over_aiohttp]
    return pytest.mark.parametrize(
        ("upstream_endpoint", "family"), cases, indirect=["upstream_endpoint"]
    )


def gateway_config(endpoint: str) -> dict[str, Any]:
    """conftest's config with an alias for every kind of model."""
    config = make_config(endpoint)
    config["resources"][0]["deployments"] = dict(DEPLOYMENTS)
    return config


@pytest.fixture
async def gateway(upstream_endpoint: tuple[str, Any]) -> AsyncIterator[AzureGateway]:
    """The gateway in front of the emulator (httpx in-process, or aiohttp over loopback)."""
    endpoint, client = upstream_endpoint
    async with AzureGateway(gateway_config(endpoint), http_client=client) as gw:
        yield gw


def sdk(family: str, gw: AzureGateway) -> openai.AsyncOpenAI:
    """An SDK client of ``family`` driving ``gw`` in-process, without retries."""
    if family == "unified":
        return async_openai(gw).with_options(max_retries=0)
    if family == "azure_v1":
        return async_openai(gw, "http://gateway/openai/v1/").with_options(max_retries=0)
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://gateway",
        api_key=CLIENT_KEY,
        api_version=CALLER_VERSION,
        http_client=sdk_transport(gw),
        max_retries=0,
    )


def direct(emulator: AzureEmulator) -> openai.AsyncAzureOpenAI:
    """The SDK talking to the emulator itself, to compare with what the gateway relays."""
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://emulator",
        api_key=EMULATOR_KEY,
        api_version=API_VERSION,
        http_client=sdk_transport(emulator),
        max_retries=0,
    )


def deployment_version(family: str, default: str = API_VERSION) -> dict[str, str]:
    """The upstream query of a deployment operation: the caller's on Azure's classic routes,
    else the operation's default where it has one, else the config's."""
    return {"api-version": CALLER_VERSION if family == "azure" else default}


def assert_upstream(
    seen: RecordedRequest, method: str, path: str, query: dict[str, str] | None = None
) -> None:
    """Where the request went upstream, and that it carried the gateway's key only."""
    assert (seen.method, seen.path, seen.query) == (method, path, query or {})
    assert seen.headers["api-key"] == EMULATOR_KEY
    assert "authorization" not in seen.headers
    assert CLIENT_KEY not in json.dumps(seen.headers)


def extra_fields(result: Any) -> dict[str, Any]:
    extra = result.model_extra or {}
    fields: dict[str, Any] = extra["extra_fields"]
    return fields


def assert_extra(
    result: Any, request_type: str, deployment: str | None = None, requested: str | None = None
) -> None:
    fields = extra_fields(result)
    assert fields["provider"] == "azure" and fields["request_type"] == request_type
    assert fields["resource"] == RESOURCE and isinstance(fields["latency_ms"], int)
    if deployment is not None:
        assert fields["model_deployment"] == deployment
    if requested is not None:
        assert fields["model_requested"] == requested


def tagged(object_id: str) -> str:
    """The plain (Azure) id of a gateway id, after checking it carries the resource."""
    assert object_id.endswith(f"~{RESOURCE}"), object_id
    return object_id.removesuffix(f"~{RESOURCE}")


# ---------------------------------------------------------------- text completions


@families("unified")
async def test_text_completions(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    result = await client.completions.create(
        model="gpt-4o-mini", prompt="hello big wide world", max_tokens=2, n=2, seed=3
    )
    assert [c.text for c in result.choices] == ["hello big", "hello big"]
    assert {c.finish_reason for c in result.choices} == {"length"}
    assert result.object == "text_completion" and result.usage is not None
    assert result.usage.completion_tokens == 4
    assert_extra(result, "text_completion", "my-mini", "gpt-4o-mini")
    seen = emulator.last_request
    assert_upstream(
        seen, "POST", "/openai/deployments/my-mini/completions", deployment_version(family)
    )
    assert seen.json == {
        "model": "gpt-4o-mini",
        "prompt": "hello big wide world",
        "max_tokens": 2,
        "n": 2,
        "seed": 3,
    }


@families("azure")
async def test_text_completions_stream(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    stream = await client.completions.create(
        model="gpt-4o-mini",
        prompt="one two three",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    seen = emulator.last_request
    assert_upstream(
        seen, "POST", "/openai/deployments/my-mini/completions", deployment_version(family)
    )
    # The URL names the deployment: the caller's body goes upstream as sent.
    assert seen.json["model"] == "gpt-4o-mini" and seen.json["stream"] is True
    assert seen.json["stream_options"] == {"include_usage": True}

    async with client.completions.with_streaming_response.create(
        model="gpt-4o-mini", prompt="a b", stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        data = sse_data(await response.read())
    assert json.loads(data[0])["prompt_filter_results"]  # Azure's filter chunk is relayed
    assert [json.loads(d)["choices"][0]["text"] for d in data[1:3]] == ["a", " b"]
    assert data[-1] == "[DONE]"


# ---------------------------------------------------------------- embeddings


@families("azure_v1")
async def test_embeddings_dimensions_and_encoding_format_pass_through(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    # No encoding_format: the SDK asks for base64 and decodes it itself.
    decoded = await client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], dimensions=64
    )
    seen = emulator.last_request
    assert_upstream(
        seen, "POST", "/openai/deployments/my-embed/embeddings", deployment_version(family)
    )
    assert seen.json == {
        "model": "text-embedding-3-small",
        "input": ["alpha", "beta"],
        "dimensions": 64,
        "encoding_format": "base64",
    }
    assert_extra(decoded, "embedding", "my-embed", "text-embedding-3-small")
    first, second = decoded.data
    assert len(first.embedding) == 64 and first.embedding != second.embedding
    assert math.isclose(math.fsum(x * x for x in first.embedding), 1.0, rel_tol=1e-5)
    assert decoded.usage.prompt_tokens == 2 and decoded.object == "list"

    floats = await client.embeddings.create(
        model="text-embedding-3-small",
        input=["alpha", "beta"],
        dimensions=64,
        encoding_format="float",
    )
    assert emulator.last_request.json["encoding_format"] == "float"
    assert [d.embedding for d in floats.data] == [d.embedding for d in decoded.data]

    packed = await client.embeddings.create(
        model="text-embedding-3-small", input="alpha", dimensions=8, encoding_format="base64"
    )
    assert emulator.last_request.json["encoding_format"] == "base64"
    vector = packed.data[0].embedding
    assert isinstance(vector, str)
    unpacked = struct.unpack("<8f", base64.b64decode(vector))
    small = await client.embeddings.create(
        model="text-embedding-3-small", input="alpha", dimensions=8, encoding_format="float"
    )
    assert list(unpacked) == small.data[0].embedding


# ---------------------------------------------------------------- images


@families("azure")
async def test_image_generation(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    result = await client.images.generate(model="gpt-image-1", prompt="a red fox", n=2)
    assert result.data is not None and len(result.data) == 2
    assert all(base64.b64decode(image.b64_json or "").startswith(PNG) for image in result.data)
    assert result.data[0].revised_prompt == "a red fox"
    assert_extra(result, "image_generation", "my-image", "gpt-image-1")
    seen = emulator.last_request
    assert_upstream(
        seen,
        "POST",
        "/openai/deployments/my-image/images/generations",
        deployment_version(family),
    )
    assert seen.json == {"model": "gpt-image-1", "prompt": "a red fox", "n": 2}


@families("azure_v1")
async def test_image_generation_streams_partial_images(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    stream = await client.images.generate(
        model="gpt-image-1", prompt="a fox", stream=True, partial_images=2
    )
    events = [event async for event in stream]
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [getattr(e, "partial_image_index", None) for e in events] == [0, 1, None]
    completed = events[-1]
    assert completed.type == "image_generation.completed"
    assert base64.b64decode(completed.b64_json).startswith(PNG)
    assert completed.usage.total_tokens > 0
    seen = emulator.last_request
    assert_upstream(
        seen,
        "POST",
        "/openai/deployments/my-image/images/generations",
        deployment_version(family),
    )
    assert seen.json == {
        "model": "gpt-image-1",
        "prompt": "a fox",
        "stream": True,
        "partial_images": 2,
    }
    await eventually(lambda: emulator.streams_completed == 1)


@families(*FAMILIES)
async def test_image_edit_uploads_reach_the_upstream_byte_identical(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    result = await client.images.edit(
        model="gpt-image-1",
        image=[("cat.png", PNG + b"cat"), ("blob.png", IMAGE)],
        mask=("mask.png", PNG),
        prompt="add a hat",
        n=1,
    )
    assert result.data is not None and len(result.data) == 1
    assert base64.b64decode(result.data[0].b64_json or "").startswith(PNG)
    assert result.data[0].revised_prompt == (
        f"edit of cat.png (11 bytes), blob.png ({len(IMAGE)} bytes) with mask mask.png (8 bytes)"
        ": add a hat"
    )
    assert_extra(result, "image_edit", "my-image", "gpt-image-1")
    seen = emulator.last_request
    # Image edits need a preview api-version: the operation's default unless the caller chose.
    assert_upstream(
        seen,
        "POST",
        "/openai/deployments/my-image/images/edits",
        deployment_version(family, "2025-04-01-preview"),
    )
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    # The URL names the deployment, so the multipart body is forwarded as the caller sent it.
    assert seen.form == {"model": "gpt-image-1", "prompt": "add a hat", "n": "1"}
    assert [(f[0], f[1], f[3]) for f in seen.file_list()] == [
        ("image[]", "cat.png", PNG + b"cat"),
        ("image[]", "blob.png", IMAGE),
        ("mask", "mask.png", PNG),
    ]


@families("unified")
async def test_image_variations_are_refused_and_nothing_is_sent(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.images.create_variation(image=("cat.png", PNG), model="gpt-image-1", n=1)
    assert caught.value.status_code == 400
    assert caught.value.code == "unsupported_operation"
    body = caught.value.response.json()
    assert body["is_gateway_error"] is True and body["status_code"] == 400
    assert body["extra_fields"]["request_type"] == "image_variation"
    assert emulator.requests == []


# ---------------------------------------------------------------- audio


@families("unified", "azure")
async def test_speech_relays_the_emulators_audio_bytes(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    speech = await client.audio.speech.create(model="tts", input="hello there", voice="alloy")
    assert speech.response.headers["content-type"] == "audio/mpeg"
    seen = emulator.last_request
    # Speech needs a preview api-version: the operation's default unless the caller chose.
    assert_upstream(
        seen,
        "POST",
        "/openai/deployments/my-tts/audio/speech",
        deployment_version(family, "2025-03-01-preview"),
    )
    assert seen.json == {"model": "tts", "input": "hello there", "voice": "alloy"}
    wav = await client.audio.speech.create(
        model="tts", input="hello there", voice="alloy", response_format="wav"
    )
    assert wav.response.headers["content-type"] == "audio/wav"
    assert emulator.last_request.json["response_format"] == "wav"

    itself = direct(emulator)
    expected = await itself.audio.speech.create(model="tts", input="hello there", voice="alloy")
    expected_wav = await itself.audio.speech.create(
        model="tts", input="hello there", voice="alloy", response_format="wav"
    )
    assert len(speech.content) == 64 * 1024 and speech.content.startswith(b"ID3")
    assert speech.content == expected.content
    assert wav.content == expected_wav.content and wav.content[8:12] == b"WAVE"


AUDIO = ("talk.wav", bytes(range(256)) * 250)  # 64 000 bytes: two seconds to the emulator


@families("azure", "unified")
@pytest.mark.parametrize(
    ("op", "request_type", "word"),
    [
        ("transcriptions", "transcription", "transcript"),
        ("translations", "translation", "translation"),
    ],
)
async def test_audio_text_in_every_response_format(
    gateway: AzureGateway,
    emulator: AzureEmulator,
    family: str,
    op: str,
    request_type: str,
    word: str,
) -> None:
    client = sdk(family, gateway)
    create = getattr(client.audio, op).create
    text = f"{word} of talk.wav ({len(AUDIO[1])} bytes)"
    path = f"/openai/deployments/my-whisper/audio/{op}"

    as_json = await create(model="whisper", file=AUDIO)
    assert as_json.text == text
    assert_extra(as_json, request_type, "my-whisper", "whisper")
    seen = emulator.last_request
    assert_upstream(seen, "POST", path, deployment_version(family))
    assert seen.form == {"model": "whisper"}
    assert seen.files["file"][0] == "talk.wav"
    assert seen.files["file"][2] == AUDIO[1]

    as_text = await getattr(client.audio, op).with_raw_response.create(
        model="whisper", file=AUDIO, response_format="text"
    )
    assert as_text.parse() == text
    assert as_text.headers["content-type"] == "text/plain; charset=utf-8"
    assert emulator.last_request.form == {"model": "whisper", "response_format": "text"}
    srt = await create(model="whisper", file=AUDIO, response_format="srt", prompt="context")
    assert srt == f"1\n00:00:00,000 --> 00:00:02,000\n{text}\n\n"
    seen = emulator.last_request
    assert_upstream(seen, "POST", path, deployment_version(family))
    assert seen.form == {"model": "whisper", "response_format": "srt", "prompt": "context"}
    vtt = await create(model="whisper", file=AUDIO, response_format="vtt")
    assert vtt == f"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n{text}\n\n"
    assert emulator.last_request.files["file"][2] == AUDIO[1]


# ---------------------------------------------------------------- responses


@families("azure")
async def test_responses_create_chain_retrieve_input_items_and_delete(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    first = await client.responses.create(
        model="gpt-4o", input="hello big wide world", instructions="be brief"
    )
    plain = tagged(first.id)
    assert plain.startswith("resp_") and first.status == "completed"
    assert first.output_text == "hello big wide world"
    assert_extra(first, "responses", "my-gpt4o", "gpt-4o")
    seen = emulator.last_request
    # Responses always go to Azure's v1 API, without an api-version of the caller's.
    assert_upstream(seen, "POST", "/openai/v1/responses")
    assert seen.json == {
        "model": "my-gpt4o",
        "input": "hello big wide world",
        "instructions": "be brief",
    }

    second = await client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "and again"}]}],
    )
    seen = emulator.last_request
    assert_upstream(seen, "POST", "/openai/v1/responses")
    assert seen.json["previous_response_id"] == plain  # the suffix is stripped upstream
    assert seen.json["model"] == "my-gpt4o"
    assert second.previous_response_id == first.id and second.output_text == "and again"
    tagged(second.id)

    retrieved = await client.responses.retrieve(first.id)
    assert (retrieved.id, retrieved.output_text) == (first.id, "hello big wide world")
    assert_extra(retrieved, "responses")
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/responses/{plain}")

    items = await client.responses.input_items.list(first.id)
    assert [(i.type, getattr(i, "role", None)) for i in items.data] == [("message", "user")]
    assert items.data[0].id.startswith("msg_")
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/responses/{plain}/input_items")

    deleted = await client.responses.with_raw_response.delete(first.id)
    assert deleted.parse() is None
    assert deleted.http_response.json()["id"] == first.id  # what it deleted, suffix and all
    assert deleted.http_response.json()["deleted"] is True
    assert_upstream(emulator.last_request, "DELETE", f"/openai/v1/responses/{plain}")
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(first.id)
    assert emulator.last_request.path == f"/openai/v1/responses/{plain}"


@families(*FAMILIES)
async def test_responses_stream_with_event_lines(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    stream = await client.responses.create(model="gpt-4o", input="stream me now", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events][:2] == ["response.created", "response.in_progress"]
    assert events[-1].type == "response.completed"
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == [
        "stream",
        " me",
        " now",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1].response
    assert completed.output_text == "stream me now"
    tagged(completed.id)
    assert events[0].type == "response.created" and events[0].response.id == completed.id
    seen = emulator.last_request
    assert_upstream(seen, "POST", "/openai/v1/responses")
    assert seen.json == {"model": "my-gpt4o", "input": "stream me now", "stream": True}
    stored = await client.responses.retrieve(completed.id)
    assert stored.output_text == "stream me now"

    async with client.responses.with_streaming_response.create(
        model="gpt-4o", input="hi there", stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        blocks = sse_events(await response.read())
    assert len(blocks) == len(events) - 1  # one word fewer
    assert all(b.event == json.loads(b.data)["type"] for b in blocks)  # `event:` lines
    assert blocks[-1].event == "response.completed" and "[DONE]" not in [b.data for b in blocks]


@families("azure_v1")
async def test_background_responses_are_cancelled(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    queued = await client.responses.create(model="gpt-4o", input="later please", background=True)
    plain = tagged(queued.id)
    assert (queued.status, queued.output) == ("queued", [])
    assert emulator.last_request.json["background"] is True

    cancelled = await client.responses.cancel(queued.id)
    assert (cancelled.id, cancelled.status, cancelled.output) == (queued.id, "cancelled", [])
    assert_extra(cancelled, "responses")
    assert_upstream(emulator.last_request, "POST", f"/openai/v1/responses/{plain}/cancel")
    assert emulator.last_request.body == b""
    assert (await client.responses.retrieve(queued.id)).status == "cancelled"

    finished = await client.responses.create(model="gpt-4o", input="now")
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.cancel(finished.id)
    assert caught.value.response.json()["is_gateway_error"] is False  # Azure's own refusal
    assert emulator.last_request.path == f"/openai/v1/responses/{tagged(finished.id)}/cancel"


async def test_unknown_models_are_404_before_any_upstream_call(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    for family_name in FAMILIES:
        client = sdk(family_name, gateway)
        with pytest.raises(openai.NotFoundError) as caught:
            await client.embeddings.create(model="text-embedding-nope", input="x")
        assert caught.value.code == "model_not_found"
        with pytest.raises(openai.NotFoundError):
            await client.audio.transcriptions.create(model="whisper-nope", file=AUDIO)
    assert emulator.requests == []
