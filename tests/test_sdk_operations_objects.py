"""Stateful objects and models through the gateway with the real openai SDK, in three families.

Files, batches, models, videos and fine-tuning jobs, as in test_sdk_operations.py: the SDK's
parsed result and what the emulator received. The gateway hands out ids carrying their resource
(``file-abc~eastus``) and strips the suffix upstream; every later call uses the suffixed id.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator

from .conftest import API_VERSION, EMULATOR_KEY, sdk_transport
from .test_sdk_operations import (
    CALLER_VERSION,
    DEPLOYMENTS,
    FAMILIES,
    PNG,
    RESOURCE,
    assert_extra,
    assert_upstream,
    families,
    gateway_config,
    sdk,
    tagged,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's Sora warning

#: Every byte value, just over 1 MiB: the gateway spools it past memory, to disk.
BLOB = bytes(range(256)) * 4100


@pytest.fixture
async def gateway(upstream_endpoint: tuple[str, Any]) -> AsyncIterator[AzureGateway]:
    endpoint, client = upstream_endpoint
    async with AzureGateway(gateway_config(endpoint), http_client=client) as gw:
        yield gw


def emulator_v1(emulator: AzureEmulator) -> openai.AsyncOpenAI:
    """The SDK on the emulator's own v1 API, to compare with what the gateway relays."""
    return openai.AsyncOpenAI(
        base_url="http://emulator/openai/v1",
        api_key=EMULATOR_KEY,
        http_client=sdk_transport(emulator),
        max_retries=0,
    )


def batch_version(family: str) -> dict[str, str]:
    """Batches use Azure's pre-v1 API: the caller's api-version on Azure routes, else config's."""
    return {"api-version": CALLER_VERSION if family == "azure" else API_VERSION}


# ---------------------------------------------------------------- files


@families(*FAMILIES)
async def test_files_upload_list_retrieve_content_delete(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    uploaded = await client.files.create(
        file=("blob.bin", BLOB),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    plain = tagged(uploaded.id)
    assert plain.startswith("file-") and uploaded.bytes == len(BLOB)
    assert (uploaded.filename, uploaded.purpose, uploaded.status) == (
        "blob.bin",
        "assistants",
        "processed",
    )
    assert uploaded.expires_at == uploaded.created_at + 3600
    assert_extra(uploaded, "file")
    seen = emulator.last_request
    assert_upstream(seen, "POST", "/openai/v1/files")
    assert seen.form == {
        "purpose": "assistants",
        "expires_after[anchor]": "created_at",
        "expires_after[seconds]": "3600",
    }
    assert seen.files["file"][0] == "blob.bin"
    assert seen.files["file"][2] == BLOB  # byte-identical upstream

    small = await client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    small_plain = tagged(small.id)
    # Two pages of one: the SDK pages with after=<suffixed id>, the emulator sees the plain one.
    assert [f.id async for f in client.files.list(limit=1)] == [small.id, uploaded.id]
    assert_upstream(
        emulator.last_request, "GET", "/openai/v1/files", {"limit": "1", "after": small_plain}
    )
    only = await client.files.list(purpose="batch")
    assert [f.id for f in only.data] == [small.id]
    assert_extra(only, "file")  # lists say which resource they listed
    assert_upstream(emulator.last_request, "GET", "/openai/v1/files", {"purpose": "batch"})

    retrieved = await client.files.retrieve(uploaded.id)
    assert (retrieved.id, retrieved.filename, retrieved.bytes) == (
        uploaded.id,
        "blob.bin",
        len(BLOB),
    )
    assert_extra(retrieved, "file")
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/files/{plain}")

    content = await client.files.content(uploaded.id)
    assert content.content == BLOB  # byte-identical round trip
    assert content.response.headers["content-type"] == "application/octet-stream"
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/files/{plain}/content")

    deleted = await client.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (uploaded.id, True, "file")
    assert_upstream(emulator.last_request, "DELETE", f"/openai/v1/files/{plain}")
    with pytest.raises(openai.NotFoundError) as caught:
        await client.files.retrieve(uploaded.id)
    body = caught.value.response.json()
    assert body["is_gateway_error"] is False
    assert body["error"]["message"] == f"File with id '{plain}' not found."


# ---------------------------------------------------------------- batches


BATCH_LINES = [
    {"custom_id": "a", "method": "POST", "url": "/chat/completions",
     "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "first one"}]}},
    {"custom_id": "b", "method": "POST", "url": "/chat/completions",
     "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "second"}]}},
]  # fmt: skip
JSONL = b"".join(json.dumps(line).encode() + b"\n" for line in BATCH_LINES)


@families("azure")
async def test_batches_create_from_an_uploaded_file_retrieve_list_cancel(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    source = await client.files.create(file=("batch.jsonl", JSONL), purpose="batch")
    batch = await client.batches.create(
        input_file_id=source.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"run": "1"},
    )
    plain = tagged(batch.id)
    assert plain.startswith("batch_") and batch.status == "validating"
    assert batch.input_file_id == source.id and batch.metadata == {"run": "1"}
    assert_extra(batch, "batch")
    seen = emulator.last_request
    assert_upstream(seen, "POST", "/openai/batches", batch_version(family))
    assert seen.json == {
        "input_file_id": tagged(source.id),  # the plain id upstream
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"run": "1"},
    }

    assert (await client.batches.retrieve(batch.id)).status == "in_progress"
    assert_upstream(emulator.last_request, "GET", f"/openai/batches/{plain}", batch_version(family))
    done = await client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (2, 2)
    assert done.output_file_id is not None
    output_plain = tagged(done.output_file_id)
    output = await client.files.content(done.output_file_id)
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/files/{output_plain}/content")
    answers = [json.loads(line) for line in output.text.splitlines()]
    assert [a["custom_id"] for a in answers] == ["a", "b"]
    assert [a["response"]["body"]["choices"][0]["message"]["content"] for a in answers] == [
        "first one",
        "second",
    ]

    other = await client.batches.create(
        input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    cancelling = await client.batches.cancel(other.id)
    assert (cancelling.id, cancelling.status) == (other.id, "cancelling")
    assert_extra(cancelling, "batch")
    assert_upstream(
        emulator.last_request,
        "POST",
        f"/openai/batches/{tagged(other.id)}/cancel",
        batch_version(family),
    )
    assert (await client.batches.retrieve(other.id)).status == "cancelled"
    assert [b.id async for b in client.batches.list()] == [other.id, batch.id]
    assert_upstream(emulator.last_request, "GET", "/openai/batches", batch_version(family))
    # Pages of one: the cursor is a suffixed id, and reaches Azure plain.
    assert [b.id async for b in client.batches.list(limit=1)] == [other.id, batch.id]
    query = {**batch_version(family), "limit": "1", "after": tagged(other.id)}
    assert_upstream(emulator.last_request, "GET", "/openai/batches", query)


# ---------------------------------------------------------------- models


CATALOGUE = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "dall-e-3", "gpt-image-1"]


@families("azure_v1")
async def test_models_list_aliases_and_upstream_models_and_retrieve(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    listed = await client.models.list()
    assert_upstream(emulator.last_request, "GET", "/openai/v1/models")
    upstream = (await emulator_v1(emulator).models.list()).data
    ids = [model.id for model in listed.data]
    # The configured aliases (in name order), then every upstream model.
    assert ids == [f"azure/{alias}" for alias in sorted(DEPLOYMENTS)] + [m.id for m in upstream]
    assert ids[len(DEPLOYMENTS) :][:5] == CATALOGUE
    extra = listed.model_extra or {}
    fields = extra["extra_fields"]
    assert fields["request_type"] == "list_models" and fields["resources_failed"] == []

    by_id = {model.id: model.model_extra or {} for model in listed.data}
    upstream_caps = {m.id: (m.model_extra or {})["capabilities"] for m in upstream}
    for alias, deployment in DEPLOYMENTS.items():
        entry = by_id[f"azure/{alias}"]
        assert (entry["deployment"], entry["resources"]) == (deployment, [RESOURCE])
        # The upstream catalogue knows these names: its capabilities are the alias's.
        assert entry["capabilities"] == upstream_caps[alias]
    assert by_id["azure/text-embedding-3-small"]["capabilities"]["embeddings"] is True
    assert by_id["azure/gpt-4o"]["capabilities"]["chat_completion"] is True
    assert by_id["dall-e-3"]["resource"] == RESOURCE

    dalle = await client.models.retrieve("dall-e-3")
    assert dalle.id == "dall-e-3" and (dalle.model_extra or {})["capabilities"]
    assert_extra(dalle, "list_models")
    assert_upstream(emulator.last_request, "GET", "/openai/v1/models/dall-e-3")

    sent = len(emulator.requests)
    for name in ("tts", "azure/tts"):  # a configured alias: described by the gateway itself
        model = await client.models.retrieve(name)
        assert model.id == "azure/tts"
        assert (model.model_extra or {})["deployment"] == "my-tts"
        assert (model.model_extra or {})["resources"] == [RESOURCE]
    # ...from its resource's model list (for its capabilities), never as an upstream model id.
    assert [r.path for r in emulator.requests[sent:]] == ["/openai/v1/models"] * 2


@families()
async def test_retrieving_an_alias_describes_it_as_the_list_does(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    listed = {model.id: model.model_extra or {} for model in (await client.models.list()).data}
    for alias in ("tts", "whisper", "text-embedding-3-small", "gpt-4o"):
        retrieved = await client.models.retrieve(f"azure/{alias}")
        entry = retrieved.model_extra or {}
        assert retrieved.id == f"azure/{alias}"
        assert entry["deployment"] == listed[f"azure/{alias}"]["deployment"]
        # One model, one description: the same capabilities whichever call asks.
        assert entry["capabilities"] == listed[f"azure/{alias}"]["capabilities"], alias


# ---------------------------------------------------------------- videos


@families("unified")
async def test_videos_create_poll_list_download_remix_delete(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    video = await client.videos.create(
        model="sora",
        prompt="a cat on a skateboard",
        seconds="8",
        size="1280x720",
        input_reference=("ref.png", PNG),
    )
    plain = tagged(video.id)
    assert plain.startswith("video_") and (video.status, video.progress) == ("queued", 0)
    assert (video.seconds, video.size) == ("8", "1280x720")
    assert_extra(video, "video", "my-sora", "sora")
    seen = emulator.last_request
    assert_upstream(seen, "POST", "/openai/v1/videos")
    # The URL names no deployment, so the form's model becomes the deployment.
    assert seen.form == {
        "prompt": "a cat on a skateboard",
        "model": "my-sora",
        "seconds": "8",
        "size": "1280x720",
    }
    assert seen.files["input_reference"] == ("ref.png", "image/png", PNG)

    assert (await client.videos.retrieve(video.id)).progress == 50
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/videos/{plain}")
    done = await client.videos.retrieve(video.id)
    assert (done.id, done.status, done.progress) == (video.id, "completed", 100)
    assert [v.id async for v in client.videos.list()] == [video.id]
    assert_upstream(emulator.last_request, "GET", "/openai/v1/videos")

    content = await client.videos.download_content(video.id)
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/videos/{plain}/content")
    assert content.response.headers["content-type"] == "video/mp4"
    thumbnail = await client.videos.download_content(video.id, variant="thumbnail")
    assert_upstream(
        emulator.last_request,
        "GET",
        f"/openai/v1/videos/{plain}/content",
        {"variant": "thumbnail"},
    )
    assert thumbnail.response.headers["content-type"] == "image/webp"
    itself = emulator_v1(emulator)
    expected = await itself.videos.download_content(plain)
    assert content.content == expected.content and content.content[4:8] == b"ftyp"
    assert len(content.content) == 96 * 1024
    expected = await itself.videos.download_content(plain, variant="thumbnail")
    assert thumbnail.content == expected.content

    sent = len(emulator.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.videos.remix(video.id, prompt="again")
    assert caught.value.code == "unsupported_operation"
    assert caught.value.response.json()["is_gateway_error"] is True
    assert len(emulator.requests) == sent

    deleted = await client.videos.delete(video.id)
    assert (deleted.deleted, deleted.object) == (True, "video.deleted")
    assert_extra(deleted, "video")
    assert_upstream(emulator.last_request, "DELETE", f"/openai/v1/videos/{plain}")
    with pytest.raises(openai.NotFoundError):
        await client.videos.retrieve(video.id)
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/videos/{plain}")


@families()
async def test_a_deleted_video_is_named_by_the_id_the_caller_used(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    video = await client.videos.create(model="sora", prompt="a dog")
    plain = tagged(video.id)
    deleted = await client.videos.delete(video.id)
    assert_upstream(emulator.last_request, "DELETE", f"/openai/v1/videos/{plain}")
    assert emulator.last_request.headers.get("content-type") is None
    # Like a deleted file (and a deleted response), the answer names the id the caller used,
    # suffix and all: Azure answers {"id": <plain>, "object": "video.deleted", ...}.
    assert (deleted.id, deleted.deleted) == (video.id, True)


# ---------------------------------------------------------------- fine-tuning


@families("azure")
async def test_fine_tuning_jobs_create_list_retrieve_cancel_events_checkpoints(
    gateway: AzureGateway, emulator: AzureEmulator, family: str
) -> None:
    client = sdk(family, gateway)
    training = await client.files.create(
        file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune"
    )
    job = await client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18",
        training_file=training.id,
        suffix="emu",
        seed=7,
        hyperparameters={"n_epochs": 2},
    )
    plain = tagged(job.id)
    assert plain.startswith("ftjob-") and job.status == "validating_files"
    assert (job.model, job.seed, job.training_file) == ("gpt-4o-mini-2024-07-18", 7, training.id)
    assert job.hyperparameters.n_epochs == 2
    assert_extra(job, "fine_tuning")
    seen = emulator.last_request
    assert_upstream(seen, "POST", "/openai/v1/fine_tuning/jobs")
    assert seen.json == {
        "model": "gpt-4o-mini-2024-07-18",  # a base model: passed unchanged
        "training_file": tagged(training.id),
        "suffix": "emu",
        "seed": 7,
        "hyperparameters": {"n_epochs": 2},
    }
    assert [c.id async for c in client.fine_tuning.jobs.checkpoints.list(job.id)] == []
    assert_upstream(
        emulator.last_request, "GET", f"/openai/v1/fine_tuning/jobs/{plain}/checkpoints"
    )

    assert (await client.fine_tuning.jobs.retrieve(job.id)).status == "running"
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/fine_tuning/jobs/{plain}")
    done = await client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model == f"gpt-4o-mini-2024-07-18.ft-{plain[6:]}-emu"
    assert len(done.result_files) == 1
    result = await client.files.content(done.result_files[0])
    assert_upstream(
        emulator.last_request, "GET", f"/openai/v1/files/{tagged(done.result_files[0])}/content"
    )
    assert result.content

    events = [event async for event in client.fine_tuning.jobs.list_events(job.id)]
    assert_upstream(emulator.last_request, "GET", f"/openai/v1/fine_tuning/jobs/{plain}/events")
    assert events[0].message == "The job has successfully completed"  # newest first
    assert events[-1].message == f"Created fine-tuning job: {plain}"
    assert {e.object for e in events} == {"fine_tuning.job.event"}
    checkpoints = [c async for c in client.fine_tuning.jobs.checkpoints.list(job.id)]
    assert len(checkpoints) == 1 and checkpoints[0].step_number == 10
    assert checkpoints[0].fine_tuned_model_checkpoint.endswith(":ckpt-step-10")

    other = await client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    cancelled = await client.fine_tuning.jobs.cancel(other.id)
    assert (cancelled.id, cancelled.status) == (other.id, "cancelled")
    assert_extra(cancelled, "fine_tuning")
    assert_upstream(
        emulator.last_request, "POST", f"/openai/v1/fine_tuning/jobs/{tagged(other.id)}/cancel"
    )
    assert [j.id async for j in client.fine_tuning.jobs.list()] == [other.id, job.id]
    assert_upstream(emulator.last_request, "GET", "/openai/v1/fine_tuning/jobs")
    assert [j.id async for j in client.fine_tuning.jobs.list(limit=1)] == [other.id, job.id]
    query = {"limit": "1", "after": tagged(other.id)}
    assert_upstream(emulator.last_request, "GET", "/openai/v1/fine_tuning/jobs", query)


# ---------------------------------------------------------------- api-version on /openai/v1


async def test_a_callers_api_version_on_openai_v1_object_calls_passes_as_is(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    client = sdk("azure_v1", gateway).with_options(default_query={"api-version": "preview"})
    uploaded = await client.files.create(file=("a.txt", b"abc"), purpose="assistants")
    assert_upstream(emulator.last_request, "POST", "/openai/v1/files", {"api-version": "preview"})
    listed = await client.files.list()
    assert [f.id for f in listed.data] == [uploaded.id]
    assert_upstream(emulator.last_request, "GET", "/openai/v1/files", {"api-version": "preview"})
    await client.responses.create(model="gpt-4o", input="hi")
    assert_upstream(
        emulator.last_request, "POST", "/openai/v1/responses", {"api-version": "preview"}
    )
