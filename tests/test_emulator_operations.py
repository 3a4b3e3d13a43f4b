"""The emulator's other data-plane operations, driven by the real openai SDK in-process."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from asgiref.testing import ApplicationCommunicator

from azure_asgi.testing import AzureEmulator, Fault

from .conftest import API_VERSION, http_scope, sse_data, sse_events
from .conftest import EMULATOR_KEY as KEY  # the conftest emulator fixture's key

PNG = b"\x89PNG\r\n\x1a\n"
# Every byte value, repeated past 200 KiB: an upload that must arrive byte-identical.
BLOB = bytes(range(256)) * 820

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's Sora warning


@pytest.fixture
async def http(emulator: AzureEmulator) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator)) as client:
        yield client


@pytest.fixture
def azure(http: httpx2.AsyncClient) -> openai.AsyncAzureOpenAI:
    """Deployment routes and ``/openai/{files,batches,...}?api-version=``, with ``api-key``."""
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://emulator",
        api_key=KEY,
        api_version=API_VERSION,
        http_client=http,
        max_retries=0,
    )


@pytest.fixture
def v1(http: httpx2.AsyncClient) -> openai.AsyncOpenAI:
    """The Azure v1 API, with the key as a bearer token."""
    return openai.AsyncOpenAI(
        base_url="http://emulator/openai/v1", api_key=KEY, http_client=http, max_retries=0
    )


def raw(app: Any, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://emulator",
        headers={"api-key": KEY, **headers},
    )


# ---------------------------------------------------------------- completions


async def test_completions_echo_the_prompt_with_azure_filters(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI, v1: openai.AsyncOpenAI
) -> None:
    reply = await azure.completions.create(
        model="instruct", prompt="hello big wide world", max_tokens=2, n=2
    )
    assert [c.text for c in reply.choices] == ["hello big", "hello big"]
    assert {c.finish_reason for c in reply.choices} == {"length"}
    assert reply.object == "text_completion" and reply.usage is not None
    assert reply.usage.completion_tokens == 4 and reply.usage.prompt_tokens == 4
    extra = reply.model_extra or {}
    assert extra["prompt_filter_results"][0]["content_filter_results"]["jailbreak"] is not None
    assert (reply.choices[0].model_extra or {})["content_filter_results"]["hate"][
        "filtered"
    ] is False
    seen = emulator.last_request
    assert (seen.path, seen.query) == (
        "/openai/deployments/instruct/completions",
        {"api-version": API_VERSION},
    )
    assert seen.deployment == "instruct" and seen.json["prompt"] == "hello big wide world"

    listed = await v1.completions.create(model="instruct", prompt=["first prompt", "second"])
    assert listed.choices[0].text == "first prompt" and listed.choices[0].finish_reason == "stop"
    assert emulator.last_request.path == "/openai/v1/completions"
    assert emulator.last_request.deployment == "instruct"


async def test_completions_stream_in_azures_order(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI
) -> None:
    stream = await azure.completions.create(
        model="instruct",
        prompt="one two three",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    async with raw(emulator) as client:
        resp = await client.post(
            f"/openai/deployments/instruct/completions?api-version={API_VERSION}",
            json={"prompt": "a b", "stream": True},
        )
    data = sse_data(resp.content)
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert json.loads(data[0])["prompt_filter_results"] and json.loads(data[0])["choices"] == []
    assert [json.loads(d)["choices"][0]["text"] for d in data[1:3]] == ["a", " b"]
    assert json.loads(data[3])["choices"][0]["finish_reason"] == "stop"
    assert data[-1] == "[DONE]"


# ---------------------------------------------------------------- embeddings


async def test_embeddings_are_deterministic_unit_vectors_and_base64_round_trips(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI, v1: openai.AsyncOpenAI
) -> None:
    floats = await azure.embeddings.create(
        model="embed", input=["alpha", "beta"], dimensions=64, encoding_format="float"
    )
    assert emulator.last_request.path == "/openai/deployments/embed/embeddings"
    decoded = await v1.embeddings.create(model="embed", input=["alpha", "beta"], dimensions=64)
    # The SDK asked for base64 and decoded little-endian float32: the very same numbers.
    assert emulator.last_request.json["encoding_format"] == "base64"
    assert [d.embedding for d in decoded.data] == [d.embedding for d in floats.data]
    first, second = floats.data
    assert len(first.embedding) == 64 and first.embedding != second.embedding
    assert math.isclose(math.fsum(x * x for x in first.embedding), 1.0, rel_tol=1e-5)
    assert floats.usage.prompt_tokens == 2 and floats.object == "list"

    again = await v1.embeddings.create(model="embed", input="alpha", encoding_format="base64")
    vector = again.data[0].embedding
    assert isinstance(vector, str) and len(base64.b64decode(vector)) == 1536 * 4
    tokens = await v1.embeddings.create(model="embed", input=[[1, 2, 3], [4]], dimensions=3)
    assert [len(d.embedding) for d in tokens.data] == [3, 3] and tokens.usage.prompt_tokens == 4


# ---------------------------------------------------------------- images


async def test_image_generation_returns_n_pngs_with_the_revised_prompt(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI
) -> None:
    result = await azure.images.generate(model="dall-e-3", prompt="a red fox", n=2)
    assert result.data is not None and len(result.data) == 2
    assert all(base64.b64decode(image.b64_json or "").startswith(PNG) for image in result.data)
    assert result.data[0].revised_prompt == "a red fox"
    assert (result.data[0].model_extra or {})["content_filter_results"]["violence"][
        "filtered"
    ] is False
    assert result.usage is not None and result.usage.output_tokens == 544
    assert emulator.last_request.path == "/openai/deployments/dall-e-3/images/generations"
    assert emulator.last_request.json == {"model": "dall-e-3", "prompt": "a red fox", "n": 2}


async def test_image_generation_streams_partial_images_then_completed(
    emulator: AzureEmulator, v1: openai.AsyncOpenAI
) -> None:
    stream = await v1.images.generate(
        model="gpt-image-1", prompt="a fox", stream=True, partial_images=2
    )
    events = [event async for event in stream]
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [getattr(e, "partial_image_index", None) for e in events] == [0, 1, None]
    assert base64.b64decode(events[-1].b64_json).startswith(PNG)
    completed = events[-1]
    assert completed.type == "image_generation.completed" and completed.usage.total_tokens > 0
    async with raw(emulator) as client:
        resp = await client.post(
            "/openai/v1/images/generations",
            json={"model": "gpt-image-1", "prompt": "x", "stream": True, "partial_images": 1},
        )
    events_seen = [(e.event, json.loads(e.data)["type"]) for e in sse_events(resp.content)]
    assert events_seen == [
        ("image_generation.partial_image", "image_generation.partial_image"),
        ("image_generation.completed", "image_generation.completed"),
    ]
    assert emulator.streams_completed == 2


async def test_image_edit_uploads_arrive_intact(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI
) -> None:
    result = await azure.images.edit(
        model="gpt-image-1",
        image=[("cat.png", PNG + b"cat"), ("dog.png", BLOB)],
        mask=("mask.png", PNG),
        prompt="add a hat",
        n=1,
    )
    assert result.data is not None
    assert result.data[0].revised_prompt == (
        f"edit of cat.png (11 bytes), dog.png ({len(BLOB)} bytes) with mask mask.png (8 bytes)"
        ": add a hat"
    )
    seen = emulator.last_request
    assert seen.path == "/openai/deployments/gpt-image-1/images/edits"
    assert seen.deployment == "gpt-image-1" and seen.json is None
    assert seen.form == {"model": "gpt-image-1", "prompt": "add a hat", "n": "1"}
    assert [(f[0], f[1], f[3]) for f in seen.file_list()] == [
        ("image[]", "cat.png", PNG + b"cat"),
        ("image[]", "dog.png", BLOB),
        ("mask", "mask.png", PNG),
    ]
    assert seen.files["mask"] == ("mask.png", "image/png", PNG)


# ---------------------------------------------------------------- audio


def _scope(path: str, body: bytes) -> dict[str, Any]:
    return http_scope(
        path,
        query=f"api-version={API_VERSION}".encode(),
        headers=[(b"api-key", KEY.encode()), (b"content-type", b"application/json")],
    )


async def test_speech_is_binary_audio_sent_in_several_body_messages(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI
) -> None:
    speech = await azure.audio.speech.create(model="tts", input="hello", voice="alloy")
    assert speech.response.headers["content-type"] == "audio/mpeg"
    assert len(speech.content) == 64 * 1024 and speech.content.startswith(b"ID3")
    assert b"hello\n" in speech.content
    assert emulator.last_request.path == "/openai/deployments/tts/audio/speech"
    wav = await azure.audio.speech.create(
        model="tts", input="hi", voice="alloy", response_format="wav"
    )
    assert wav.response.headers["content-type"] == "audio/wav" and wav.content[8:12] == b"WAVE"

    body = json.dumps({"input": "streamed", "voice": "alloy", "response_format": "opus"})
    comm = ApplicationCommunicator(emulator, _scope("/openai/deployments/tts/audio/speech", b""))
    await comm.send_input({"type": "http.request", "body": body.encode()})
    start = await comm.receive_output(timeout=2)
    assert start["status"] == 200 and (b"content-type", b"audio/opus") in start["headers"]
    messages = []
    while True:
        message = await comm.receive_output(timeout=2)
        messages.append(message)
        if not message.get("more_body"):
            break
    assert len([m for m in messages if m["body"]]) == 4
    assert b"".join(m["body"] for m in messages).startswith(b"OggS")


async def test_transcriptions_and_translations_in_every_response_format(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI, v1: openai.AsyncOpenAI
) -> None:
    audio = ("talk.wav", b"\x00" * 64_000)
    text = "transcript of talk.wav (64000 bytes)"
    as_json = await azure.audio.transcriptions.create(model="whisper", file=audio)
    assert as_json.text == text
    seen = emulator.last_request
    assert seen.path == "/openai/deployments/whisper/audio/transcriptions"
    assert seen.form == {"model": "whisper"} and seen.files["file"][0] == "talk.wav"
    assert seen.files["file"][2] == audio[1]
    assert (
        await azure.audio.transcriptions.create(model="whisper", file=audio, response_format="text")
        == text
    )
    srt = await azure.audio.transcriptions.create(
        model="whisper", file=audio, response_format="srt"
    )
    assert srt == f"1\n00:00:00,000 --> 00:00:02,000\n{text}\n\n"
    vtt = await azure.audio.transcriptions.create(
        model="whisper", file=audio, response_format="vtt"
    )
    assert vtt == f"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n{text}\n\n"
    verbose = await v1.audio.transcriptions.create(
        model="whisper",
        file=audio,
        response_format="verbose_json",
        language="fr",
        timestamp_granularities=["word", "segment"],
    )
    assert (verbose.text, verbose.language, verbose.duration) == (text, "fr", 2.0)
    assert verbose.segments is not None and verbose.segments[0].end == 2.0
    assert verbose.words is not None and [w.word for w in verbose.words] == text.split()
    assert emulator.last_request.form["response_format"] == "verbose_json"

    translation = await azure.audio.translations.create(model="whisper", file=audio)
    assert translation.text == "translation of talk.wav (64000 bytes)"
    assert emulator.last_request.path == "/openai/deployments/whisper/audio/translations"
    async with raw(emulator) as client:
        resp = await client.post(
            "/openai/v1/audio/translations",
            data={"model": "whisper", "response_format": "text"},
            files={"file": ("a.mp3", b"abc")},
            headers={"authorization": f"Bearer {KEY}"},
        )
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.text == "translation of a.mp3 (3 bytes)"


# ---------------------------------------------------------------- files


async def test_files_upload_list_retrieve_download_delete(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI, v1: openai.AsyncOpenAI
) -> None:
    uploaded = await v1.files.create(
        file=("blob.bin", BLOB),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(BLOB)
    assert (uploaded.filename, uploaded.purpose, uploaded.status) == (
        "blob.bin",
        "assistants",
        "processed",
    )
    assert uploaded.expires_at == uploaded.created_at + 3600
    seen = emulator.last_request
    assert seen.path == "/openai/v1/files" and seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.form == {
        "purpose": "assistants",
        "expires_after[anchor]": "created_at",
        "expires_after[seconds]": "3600",
    }
    assert seen.files["file"][2] == BLOB

    content = await v1.files.content(uploaded.id)
    assert content.content == BLOB  # byte-identical, sent in 16 KiB body messages
    assert content.response.headers["content-type"] == "application/octet-stream"

    batch_file = await azure.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    assert emulator.last_request.path == "/openai/files"
    assert emulator.last_request.query == {"api-version": API_VERSION}
    assert (await azure.files.retrieve(uploaded.id)).filename == "blob.bin"
    listed = [f.id async for f in v1.files.list(limit=1)]  # two pages of one, newest first
    assert listed == [batch_file.id, uploaded.id]
    assert emulator.last_request.query == {"limit": "1", "after": batch_file.id}
    only = await v1.files.list(purpose="batch")
    assert [f.id for f in only.data] == [batch_file.id]

    deleted = await v1.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (uploaded.id, True, "file")
    with pytest.raises(openai.NotFoundError) as caught:
        await v1.files.retrieve(uploaded.id)
    assert caught.value.response.json()["error"] == {
        "code": "404",
        "message": f"File with id '{uploaded.id}' not found.",
        "type": "invalid_request_error",
        "param": None,
    }
    with pytest.raises(openai.NotFoundError):
        await v1.files.content(uploaded.id)


# ---------------------------------------------------------------- batches


async def test_batches_run_to_completion_on_polling_and_write_output_files(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI, v1: openai.AsyncOpenAI
) -> None:
    lines = [
        {"custom_id": "a", "method": "POST", "url": "/chat/completions",
         "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "first one"}]}},
        {"custom_id": "b", "method": "POST", "url": "/chat/completions",
         "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "second"}]}},
        {"custom_id": "c", "method": "POST", "url": "/chat/completions", "body": {}},
    ]  # fmt: skip
    jsonl = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    source = await azure.files.create(file=("batch.jsonl", jsonl), purpose="batch")
    batch = await azure.batches.create(
        input_file_id=source.id,
        endpoint="/chat/completions",
        completion_window="24h",
        metadata={"run": "1"},
    )
    assert batch.id.startswith("batch_") and batch.status == "validating"
    assert batch.output_file_id is None and batch.metadata == {"run": "1"}
    seen = emulator.last_request
    assert (seen.path, seen.query) == ("/openai/batches", {"api-version": API_VERSION})
    assert seen.json["input_file_id"] == source.id

    assert (await azure.batches.retrieve(batch.id)).status == "in_progress"
    done = await azure.batches.retrieve(batch.id)
    assert done.status == "completed" and done.request_counts is not None
    assert (
        done.request_counts.total,
        done.request_counts.completed,
        done.request_counts.failed,
    ) == (3, 2, 1)
    assert done.output_file_id and done.error_file_id
    output = [
        json.loads(line)
        for line in (await azure.files.content(done.output_file_id)).text.splitlines()
    ]
    assert [o["custom_id"] for o in output] == ["a", "b"]
    answers = [o["response"]["body"]["choices"][0]["message"]["content"] for o in output]
    assert answers == ["first one", "second"]
    errors = (await azure.files.content(done.error_file_id)).text.splitlines()
    assert json.loads(errors[0])["custom_id"] == "c"

    other = await v1.batches.create(
        input_file_id=source.id, endpoint="/chat/completions", completion_window="24h"
    )
    assert emulator.last_request.path == "/openai/v1/batches"
    assert (await v1.batches.cancel(other.id)).status == "cancelling"
    assert emulator.last_request.path == f"/openai/v1/batches/{other.id}/cancel"
    assert (await v1.batches.retrieve(other.id)).status == "cancelled"
    assert [b.id async for b in azure.batches.list()] == [other.id, batch.id]
    with pytest.raises(openai.BadRequestError):
        await v1.batches.cancel(other.id)


async def test_a_batch_naming_an_unknown_file_fails(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await azure.batches.create(
            input_file_id="file-nope", endpoint="/chat/completions", completion_window="24h"
        )
    error = caught.value.response.json()["error"]
    assert error["param"] == "input_file_id" and "file-nope" in error["message"]
    with pytest.raises(openai.BadRequestError) as missing:
        await azure.batches.create(input_file_id="file-nope", endpoint="", completion_window="24h")
    assert missing.value.response.json()["error"]["param"] == "endpoint"
    with pytest.raises(openai.NotFoundError):
        await azure.batches.retrieve("batch_nope")


# ---------------------------------------------------------------- models


async def test_models_list_azures_catalogue_and_the_deployed_models() -> None:
    emulator = AzureEmulator(deployments={"chat": "gpt-4o-2024-11-20", "mini": "gpt-4o-mini"})
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator)) as http:
        v1 = openai.AsyncOpenAI(base_url="http://emulator/openai/v1", api_key=KEY, http_client=http)
        azure = openai.AsyncAzureOpenAI(
            azure_endpoint="http://emulator", api_key=KEY, api_version=API_VERSION, http_client=http
        )
        listed = await v1.models.list()
        ids = [model.id for model in listed.data]
        assert ids[:8] == [
            "gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "dall-e-3",
            "gpt-image-1", "whisper", "tts", "sora",
        ]  # fmt: skip
        assert ids[8:] == ["gpt-4o-2024-11-20"]  # gpt-4o-mini is in the catalogue already
        gpt4o = listed.data[0].model_extra or {}
        assert gpt4o["capabilities"] == {
            "chat_completion": True,
            "completion": False,
            "embeddings": False,
            "fine_tune": True,
            "inference": True,
        }
        assert gpt4o["lifecycle_status"] == "generally-available"
        assert set(gpt4o["deprecation"]) == {"fine_tune", "inference"}
        classic = await azure.models.list()
        assert emulator.last_request.path == "/openai/models"
        assert [model.id for model in classic.data] == ids
        embedding = await v1.models.retrieve("text-embedding-3-small")
        assert (embedding.model_extra or {})["capabilities"]["embeddings"] is True
        with pytest.raises(openai.NotFoundError):
            await v1.models.retrieve("nope")


# ---------------------------------------------------------------- responses


async def test_responses_are_stored_chained_listed_and_deleted(
    emulator: AzureEmulator, azure: openai.AsyncAzureOpenAI, v1: openai.AsyncOpenAI
) -> None:
    first = await v1.responses.create(
        model="gpt-4o", input="hello big wide world", instructions="be brief"
    )
    assert first.id.startswith("resp_") and first.status == "completed"
    assert first.output_text == "hello big wide world" and first.model == "gpt-4o"
    message = first.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert first.usage is not None and (first.usage.input_tokens, first.usage.output_tokens) == (
        6,
        4,
    )
    assert "output_text" not in json.loads(emulator.requests[-1].body or b"{}")
    assert emulator.last_request.deployment == "gpt-4o"

    second = await azure.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "and again"}]}],
    )
    seen = emulator.last_request
    assert (seen.path, seen.query) == ("/openai/responses", {"api-version": API_VERSION})
    assert second.previous_response_id == first.id and second.output_text == "and again"
    assert (await v1.responses.retrieve(first.id)).output_text == "hello big wide world"
    items = await v1.responses.input_items.list(first.id)
    assert [(i.type, getattr(i, "role", None)) for i in items.data] == [("message", "user")]
    assert items.data[0].id.startswith("msg_") and items.first_id == items.data[0].id

    with pytest.raises(openai.BadRequestError) as caught:
        await v1.responses.create(model="gpt-4o", input="x", previous_response_id="resp_gone")
    assert caught.value.response.json()["error"] == {
        "code": "previous_response_not_found",
        "message": "Previous response with id 'resp_gone' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
    }
    unstored = await v1.responses.create(model="gpt-4o", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        await v1.responses.retrieve(unstored.id)
    assert await v1.responses.delete(first.id) is None
    assert emulator.last_request.method == "DELETE"
    with pytest.raises(openai.NotFoundError):
        await v1.responses.retrieve(first.id)


async def test_responses_stream_events_in_openais_order(
    emulator: AzureEmulator, v1: openai.AsyncOpenAI
) -> None:
    stream = await v1.responses.create(model="gpt-4o", input="stream me now", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(11))
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == [
        "stream",
        " me",
        " now",
    ]
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "stream me now"
    stored = await v1.responses.retrieve(completed.response.id)
    assert stored.output_text == "stream me now"
    async with raw(emulator, authorization=f"Bearer {KEY}") as client:
        resp = await client.post(
            "/openai/v1/responses", json={"model": "m", "input": "hi", "stream": True}
        )
    blocks = sse_events(resp.content)
    assert all(b.event == json.loads(b.data)["type"] for b in blocks)
    assert blocks[-1].event == "response.completed" and "[DONE]" not in resp.text


async def test_background_responses_are_polled_or_cancelled(v1: openai.AsyncOpenAI) -> None:
    queued = await v1.responses.create(model="gpt-4o", input="later please", background=True)
    assert (queued.status, queued.output) == ("queued", [])
    assert (await v1.responses.retrieve(queued.id)).status == "in_progress"
    finished = await v1.responses.retrieve(queued.id)
    assert finished.status == "completed" and finished.output_text == "later please"

    other = await v1.responses.create(model="gpt-4o", input="never", background=True)
    cancelled = await v1.responses.cancel(other.id)
    assert cancelled.status == "cancelled" and cancelled.output == []
    assert (await v1.responses.retrieve(other.id)).status == "cancelled"
    plain = await v1.responses.create(model="gpt-4o", input="now")
    with pytest.raises(openai.BadRequestError):
        await v1.responses.cancel(plain.id)
    with pytest.raises(openai.BadRequestError):
        await v1.responses.cancel(finished.id)


async def test_responses_tool_calls_and_output_token_limits(v1: openai.AsyncOpenAI) -> None:
    tools: Any = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    called = await v1.responses.create(
        model="gpt-4o", input="find cats", tools=tools, tool_choice="required"
    )
    call = called.output[0]
    assert call.type == "function_call" and call.name == "lookup"
    assert json.loads(call.arguments) == {"text": "find cats"}
    stream = await v1.responses.create(
        model="gpt-4o", input="find cats", tools=tools, tool_choice="required", stream=True
    )
    kinds = [event.type async for event in stream]
    assert "response.function_call_arguments.delta" in kinds
    assert kinds[-1] == "response.completed"
    cut = await v1.responses.create(model="gpt-4o", input="one two three", max_output_tokens=2)
    assert cut.status == "incomplete" and cut.output_text == "one two"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"


# ---------------------------------------------------------------- videos


async def test_videos_are_created_polled_downloaded_and_deleted(
    emulator: AzureEmulator, v1: openai.AsyncOpenAI
) -> None:
    video = await v1.videos.create(
        model="sora",
        prompt="a cat on a skateboard",
        seconds="8",
        size="1280x720",
        input_reference=("ref.png", PNG),
    )
    assert video.id.startswith("video_") and (video.status, video.progress) == ("queued", 0)
    assert (video.model, video.seconds, video.size) == ("sora", "8", "1280x720")
    seen = emulator.last_request
    assert seen.path == "/openai/v1/videos" and seen.deployment == "sora"
    assert seen.form == {
        "prompt": "a cat on a skateboard",
        "model": "sora",
        "seconds": "8",
        "size": "1280x720",
    }
    assert seen.files["input_reference"] == ("ref.png", "image/png", PNG)

    assert (await v1.videos.retrieve(video.id)).progress == 50
    done = await v1.videos.retrieve(video.id)
    assert (done.status, done.progress) == ("completed", 100) and done.completed_at
    content = await v1.videos.download_content(video.id)
    assert content.response.headers["content-type"] == "video/mp4"
    assert content.content[4:8] == b"ftyp" and len(content.content) == 96 * 1024
    assert b"a cat on a skateboard" in content.content
    thumbnail = await v1.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/webp"
    assert emulator.last_request.query == {"variant": "thumbnail"}
    assert [v.id async for v in v1.videos.list()] == [video.id]

    with pytest.raises(openai.NotFoundError):  # Azure has no remix endpoint
        await v1.videos.remix(video.id, prompt="again")
    deleted = await v1.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        await v1.videos.retrieve(video.id)


# ---------------------------------------------------------------- fine-tuning


async def test_fine_tuning_jobs_events_checkpoints_and_cancel(
    emulator: AzureEmulator, v1: openai.AsyncOpenAI
) -> None:
    training = await v1.files.create(
        file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune"
    )
    job = await v1.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18",
        training_file=training.id,
        suffix="emu",
        seed=7,
        hyperparameters={"n_epochs": 2},
    )
    assert job.id.startswith("ftjob-") and job.status == "validating_files"
    assert (job.model, job.seed, job.fine_tuned_model, job.result_files) == (
        "gpt-4o-mini-2024-07-18", 7, None, [],
    )  # fmt: skip
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == "auto"
    seen = emulator.last_request
    assert seen.path == "/openai/v1/fine_tuning/jobs"
    assert seen.json["model"] == "gpt-4o-mini-2024-07-18"  # a base model, passed unchanged
    assert [c.id async for c in v1.fine_tuning.jobs.checkpoints.list(job.id)] == []

    assert (await v1.fine_tuning.jobs.retrieve(job.id)).status == "running"
    done = await v1.fine_tuning.jobs.retrieve(job.id)
    assert (
        done.status == "succeeded"
        and done.fine_tuned_model == f"gpt-4o-mini-2024-07-18.ft-{job.id[6:]}-emu"
    )
    assert done.trained_tokens == 2 and len(done.result_files) == 1
    events = [event async for event in v1.fine_tuning.jobs.list_events(job.id)]
    assert events[0].message == "The job has successfully completed"  # newest first
    assert events[-1].message == f"Created fine-tuning job: {job.id}"
    assert {e.object for e in events} == {"fine_tuning.job.event"}
    checkpoints = [c async for c in v1.fine_tuning.jobs.checkpoints.list(job.id)]
    assert len(checkpoints) == 1 and checkpoints[0].step_number == 10
    assert checkpoints[0].fine_tuned_model_checkpoint.endswith(":ckpt-step-10")
    assert emulator.last_request.path == f"/openai/v1/fine_tuning/jobs/{job.id}/checkpoints"

    other = await v1.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    assert (await v1.fine_tuning.jobs.cancel(other.id)).status == "cancelled"
    assert [j.id async for j in v1.fine_tuning.jobs.list()] == [other.id, job.id]
    with pytest.raises(openai.BadRequestError):
        await v1.fine_tuning.jobs.cancel(job.id)
    with pytest.raises(openai.BadRequestError) as caught:
        await v1.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
    assert caught.value.response.json()["error"]["param"] == "training_file"
    with pytest.raises(openai.NotFoundError):
        await v1.fine_tuning.jobs.retrieve("ftjob-nope")


# ---------------------------------------------------------------- checks every route shares


async def test_every_route_checks_method_version_auth_body_and_deployment(
    emulator: AzureEmulator,
) -> None:
    version = f"?api-version={API_VERSION}"
    async with raw(emulator) as client:
        put = await client.put("/openai/v1/files", headers={"authorization": f"Bearer {KEY}"})
        assert (put.status_code, put.headers["allow"]) == (405, "GET, POST")
        assert (await client.get("/openai/v1/responses")).headers["allow"] == "POST"
        assert (await client.get("/openai/files")).status_code == 404  # no api-version
        assert (await client.get("/openai/videos" + version)).status_code == 404  # v1 only
        assert (await client.get("/openai/v1/files/x/nothing")).status_code == 404
        keyless = raw(emulator, **{"api-key": "wrong"})
        async with keyless:
            assert (await keyless.get("/openai/files" + version)).status_code == 401
        bearer = await client.get(
            "/openai/files" + version, headers={"api-key": "", "authorization": f"Bearer {KEY}"}
        )
        assert bearer.status_code == 401  # keys are bearer tokens on /openai/v1 only
        assert (await client.get("/openai/files" + version)).status_code == 200

        no_model = await client.post("/openai/v1/embeddings", json={"input": "x"})
        assert no_model.status_code == 400 and no_model.json()["error"]["param"] == "model"
        bad_json = await client.post(
            "/openai/deployments/e/embeddings" + version,
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "BadRequest"
        not_form = await client.post("/openai/v1/files", json={"purpose": "batch"})
        assert not_form.status_code == 400 and not_form.json()["error"]["code"] == "BadRequest"
        assert emulator.last_request.form == {} and emulator.last_request.files == {}
        no_file = await client.post("/openai/v1/files", data={"purpose": "batch"}, files={"x": b""})
        assert (no_file.status_code, no_file.json()["error"]["param"]) == (400, "file")
        no_input = await client.post("/openai/deployments/e/embeddings" + version, json={})
        assert no_input.json()["error"]["param"] == "input"

    mapped = AzureEmulator(deployments={"embed": "text-embedding-3-large"})
    async with raw(mapped) as client:
        unknown = await client.post("/openai/v1/embeddings", json={"model": "x", "input": "a"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "DeploymentNotFound"
        known = await client.post("/openai/v1/embeddings", json={"model": "embed", "input": "a"})
        assert known.json()["model"] == "text-embedding-3-large"


async def test_faults_apply_to_every_operation(
    emulator: AzureEmulator, v1: openai.AsyncOpenAI
) -> None:
    emulator.inject(Fault.status(429, retry_after_ms=10), path_contains="/files")
    with pytest.raises(openai.RateLimitError) as caught:
        await v1.files.list()
    assert caught.value.response.headers["retry-after-ms"] == "10"
    assert emulator.last_request.path == "/openai/v1/files"  # recorded although rejected

    # In-process, httpx2's ASGITransport reads the whole body first: the cut surfaces at once.
    emulator.inject(Fault.cut_stream(after_chunks=3), path_contains="/responses")
    with pytest.raises(ConnectionResetError):
        await v1.responses.create(model="gpt-4o", input="a b c d", stream=True)
    assert emulator.streams_completed == 0 and emulator.open_streams == 0
    emulator.inject(Fault.cut_stream(after_chunks=3), path_contains="/responses")
    comm = ApplicationCommunicator(emulator, _scope("/openai/v1/responses", b""))
    body = {"model": "gpt-4o", "input": "a b c d", "stream": True}
    await comm.send_input({"type": "http.request", "body": json.dumps(body).encode()})
    assert (await comm.receive_output(timeout=2))["status"] == 200
    chunks = [(await comm.receive_output(timeout=2))["body"] for _ in range(3)]
    assert [e.event for e in sse_events(b"".join(chunks))] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    with pytest.raises(ConnectionResetError):
        await comm.receive_output(timeout=2)

    uploaded = await v1.files.create(file=("b.bin", BLOB), purpose="assistants")
    emulator.inject(Fault.cut_stream(after_chunks=2), path_contains="/content")
    with pytest.raises(ConnectionResetError):
        await v1.files.content(uploaded.id)
