"""Files, batches and models: the emulator's stored objects and its model catalogue."""

from __future__ import annotations

from typing import Any

from ._exchange import Exchange, Handler, positive_int, text_of
from ._json import BadJson, json_bytes, parse_json
from ._multipart import Form
from ._replies import DEFAULT_MODEL, chat_json, plan_chat, validate_chat
from ._store import Tracked, page

__all__ = ["OBJECTS"]

_PURPOSES = ("assistants", "batch", "fine-tune", "evals", "vision", "user_data")
_OCTETS = b"application/octet-stream"


# ---------------------------------------------------------------- files


async def files_create(ex: Exchange) -> None:
    form: Form = ex.payload
    uploads = form.files("file")
    if not uploads:
        return await ex.missing("file")
    purpose = form.field("purpose")
    if not purpose:
        return await ex.missing("purpose")
    if purpose not in _PURPOSES:
        message = f"Invalid 'purpose': expected one of {', '.join(_PURPOSES)}."
        return await ex.invalid(message, "purpose")
    expires = None
    seconds = form.field("expires_after[seconds]")
    if seconds is not None:
        count = positive_int(seconds, 0)
        if count is None or form.field("expires_after[anchor]") not in (None, "created_at"):
            message = "Invalid 'expires_after': expected an anchor of 'created_at' and seconds."
            return await ex.invalid(message, "expires_after")
        expires = ex.now + count
    upload = uploads[0]
    tracked = ex.store.add_file(
        upload.filename or "file", purpose, upload.data, created=ex.now, expires=expires
    )
    await ex.json(tracked.obj)


async def files_list(ex: Exchange) -> None:
    purpose = ex.record.query.get("purpose")
    objects = [
        tracked.obj
        for tracked in ex.store.files.values()
        if purpose is None or tracked.obj["purpose"] == purpose
    ]
    await ex.json(page(objects, ex.record.query, limit=10_000))


def _file(ex: Exchange) -> Tracked | None:
    return ex.store.files.get(ex.object_id)


async def files_retrieve(ex: Exchange) -> None:
    tracked = _file(ex)
    if tracked is None:
        return await ex.not_found("File", ex.object_id)
    await ex.json(tracked.obj)


async def files_delete(ex: Exchange) -> None:
    if ex.store.files.pop(ex.object_id, None) is None:
        return await ex.not_found("File", ex.object_id)
    await ex.json({"id": ex.object_id, "object": "file", "deleted": True})


async def files_content(ex: Exchange) -> None:
    tracked = _file(ex)
    if tracked is None:
        return await ex.not_found("File", ex.object_id)
    await ex.binary(tracked.data, _OCTETS)


# ---------------------------------------------------------------- batches


async def batches_create(ex: Exchange) -> None:
    body = ex.payload
    for param in ("input_file_id", "endpoint", "completion_window"):
        if not text_of(body.get(param)):
            return await ex.missing(param)
    file_id = body["input_file_id"]
    if file_id not in ex.store.files:
        message = f"Input file with id '{file_id}' not found."
        return await ex.invalid(message, "input_file_id", "invalid_input_file")
    created = ex.now
    batch: dict[str, Any] = {
        "cancelled_at": None,
        "cancelling_at": None,
        "completed_at": None,
        "completion_window": body["completion_window"],
        "created_at": created,
        "endpoint": body["endpoint"],
        "error_file_id": None,
        "errors": None,
        "expired_at": None,
        "expires_at": created + 86_400,
        "failed_at": None,
        "finalizing_at": None,
        "id": ex.store.new_id("batch_"),
        "in_progress_at": None,
        "input_file_id": file_id,
        "metadata": body.get("metadata"),
        "object": "batch",
        "output_file_id": None,
        "request_counts": {"completed": 0, "failed": 0, "total": 0},
        "status": "validating",
    }
    ex.store.batches[batch["id"]] = Tracked(batch)
    await ex.json(batch)


def _run_line(ex: Exchange, line: bytes, index: int) -> tuple[bool, dict[str, Any]]:
    """The output record for one JSONL request line: a chat completion echoing it."""
    try:
        request = parse_json(line)
    except BadJson:
        request = None  # a line too deep or with a lone surrogate fails alone, like bad JSON
    custom_id = request.get("custom_id") if isinstance(request, dict) else None
    record: dict[str, Any] = {"custom_id": custom_id, "id": f"batch_req_{index:08d}"}
    body = request.get("body") if isinstance(request, dict) else None
    problem = validate_chat(body) if isinstance(body, dict) else ("Invalid JSON line.", "", "")
    if problem is not None:
        error = {"code": "invalid_request", "message": problem[0]}
        return False, {**record, "error": error, "response": None}
    assert isinstance(body, dict)
    deployment = body.get("model") if isinstance(body.get("model"), str) else None
    model = ex.host.model_for(deployment, DEFAULT_MODEL)
    reply = parse_json(chat_json(plan_chat(body, seq=index, model=model, created=ex.now)))
    response = {"body": reply, "request_id": f"emu-batch-{index}", "status_code": 200}
    return True, {**record, "error": None, "response": response}


def _complete(ex: Exchange, batch: dict[str, Any]) -> None:
    store = ex.store
    lines = [line for line in store.files[batch["input_file_id"]].data.splitlines() if line]
    outputs: list[bytes] = []
    errors: list[bytes] = []
    for index, line in enumerate(lines):
        ok, record = _run_line(ex, line, index)
        (outputs if ok else errors).append(json_bytes(record) + b"\n")
    now = ex.now
    for name, records in (("output", outputs), ("error", errors)):
        if records:
            file = store.add_file(
                f"{batch['id']}_{name}.jsonl", "batch_output", b"".join(records), created=now
            )
            batch[f"{name}_file_id"] = file.obj["id"]
    counts = {"completed": len(outputs), "failed": len(errors), "total": len(lines)}
    batch.update(request_counts=counts, finalizing_at=now, completed_at=now, status="completed")


async def batches_retrieve(ex: Exchange) -> None:
    """Each retrieval moves a batch on: validating, in_progress, completed (or cancelled)."""
    tracked = ex.store.batches.get(ex.object_id)
    if tracked is None:
        return await ex.not_found("Batch", ex.object_id)
    batch = tracked.obj
    if batch["status"] == "validating":
        batch.update(status="in_progress", in_progress_at=ex.now)
    elif batch["status"] == "in_progress":
        _complete(ex, batch)
    elif batch["status"] == "cancelling":
        batch.update(status="cancelled", cancelled_at=ex.now)
    await ex.json(batch)


async def batches_list(ex: Exchange) -> None:
    objects = [tracked.obj for tracked in ex.store.batches.values()]
    await ex.json(page(objects, ex.record.query))


async def batches_cancel(ex: Exchange) -> None:
    tracked = ex.store.batches.get(ex.object_id)
    if tracked is None:
        return await ex.not_found("Batch", ex.object_id)
    batch = tracked.obj
    if batch["status"] not in ("validating", "in_progress"):
        message = f"Cannot cancel a batch with status '{batch['status']}'."
        return await ex.invalid(message, None, "invalid_state")
    batch.update(status="cancelling", cancelling_at=ex.now)
    await ex.json(batch)


# ---------------------------------------------------------------- models

# (id, created_at, capabilities): a small fixed catalogue in Azure's model shape.
_CATALOGUE = (
    ("gpt-4o", 1715558400, ("chat_completion", "fine_tune")),
    ("gpt-4o-mini", 1721260800, ("chat_completion", "fine_tune")),
    ("text-embedding-3-small", 1706745600, ("embeddings",)),
    ("dall-e-3", 1698796800, ()),
    ("gpt-image-1", 1745280000, ()),
    ("whisper", 1694476800, ()),
    ("tts", 1706745600, ()),
    ("sora", 1746057600, ()),
)
_CAPABILITIES = ("chat_completion", "completion", "embeddings", "fine_tune")


def _model(model_id: str, created: int, capabilities: tuple[str, ...]) -> dict[str, Any]:
    flags: dict[str, bool] = {name: name in capabilities for name in _CAPABILITIES}
    deprecation = {"inference": created + 2 * 365 * 86_400}
    if flags["fine_tune"]:
        deprecation["fine_tune"] = created + 365 * 86_400
    return {
        "capabilities": {**flags, "inference": True},
        "created_at": created,
        "deprecation": deprecation,
        "id": model_id,
        "lifecycle_status": "generally-available",
        "object": "model",
        "status": "succeeded",
    }


def _models(ex: Exchange) -> list[dict[str, Any]]:
    models = [_model(*entry) for entry in _CATALOGUE]
    known = {model["id"] for model in models}
    for name in ex.host.deployed_models():
        if name not in known:
            known.add(name)
            models.append(_model(name, 1732060800, ("chat_completion",)))
    return models


async def models_list(ex: Exchange) -> None:
    await ex.json({"data": _models(ex), "object": "list"})


async def models_retrieve(ex: Exchange) -> None:
    found = next((model for model in _models(ex) if model["id"] == ex.object_id), None)
    if found is None:
        return await ex.not_found("Model", ex.object_id)
    await ex.json(found)


OBJECTS: dict[str, Handler] = {
    "files.create": files_create,
    "files.list": files_list,
    "files.retrieve": files_retrieve,
    "files.delete": files_delete,
    "files.content": files_content,
    "batches.create": batches_create,
    "batches.list": batches_list,
    "batches.retrieve": batches_retrieve,
    "batches.cancel": batches_cancel,
    "models.list": models_list,
    "models.retrieve": models_retrieve,
}
