"""Long-running jobs: fine-tuning jobs and video generations (Sora), moved on by polling."""

from __future__ import annotations

import hashlib
from typing import Any

from ._exchange import Exchange, Handler, text_of
from ._media import VIDEO_VARIANTS, video_file
from ._multipart import Form
from ._store import Tracked, page

__all__ = ["JOBS"]

_ACTIVE = ("validating_files", "queued", "running")


# ---------------------------------------------------------------- fine-tuning


def _event(ex: Exchange, job: Tracked, message: str, level: str = "info") -> None:
    job.items.append(
        {
            "created_at": ex.now,
            "data": {},
            "id": ex.store.new_id("ftevent-"),
            "level": level,
            "message": message,
            "object": "fine_tuning.job.event",
            "type": "message",
        }
    )


async def fine_tuning_create(ex: Exchange) -> None:
    body = ex.payload
    store = ex.store
    for param in ("model", "training_file"):
        if not text_of(body.get(param)):
            return await ex.missing(param)
    for param in ("training_file", "validation_file"):
        file_id = body.get(param)
        if file_id is not None and file_id not in store.files:
            message = f"File with id '{file_id}' not found."
            return await ex.invalid(message, param, "invalid_training_file")
    hyperparameters = {"batch_size": "auto", "learning_rate_multiplier": "auto", "n_epochs": "auto"}
    if isinstance(body.get("hyperparameters"), dict):
        hyperparameters.update(body["hyperparameters"])
    job_id = store.new_id("ftjob-")
    seed = body.get("seed")
    method = body.get("method")
    if not isinstance(method, dict):
        method = {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}
    obj: dict[str, Any] = {
        "created_at": ex.now,
        "error": None,
        "estimated_finish": None,
        "fine_tuned_model": None,
        "finished_at": None,
        "hyperparameters": hyperparameters,
        "id": job_id,
        "integrations": body.get("integrations") or [],
        "metadata": body.get("metadata"),
        "method": method,
        "model": body["model"],
        "object": "fine_tuning.job",
        "organization_id": "org-emulator",
        "result_files": [],
        "seed": seed if isinstance(seed, int) else int(job_id[6:14], 16),
        "status": "validating_files",
        "suffix": body.get("suffix"),
        "trained_tokens": None,
        "training_file": body["training_file"],
        "validation_file": body.get("validation_file"),
    }
    job = Tracked(obj)
    _event(ex, job, f"Created fine-tuning job: {job_id}")
    _event(ex, job, f"Validating training file: {body['training_file']}")
    store.jobs[job_id] = job
    await ex.json(obj)


def _succeed(ex: Exchange, job: Tracked) -> None:
    obj, store = job.obj, ex.store
    training = (
        store.files[obj["training_file"]].data if obj["training_file"] in store.files else b""
    )
    tokens = max(1, len(training.split()))
    results = store.add_file(
        "results.csv", "fine-tune-results", b"step,train_loss\n10,0.5\n", created=ex.now
    )
    suffix = f"-{obj['suffix']}" if obj.get("suffix") else ""
    obj.update(
        fine_tuned_model=f"{obj['model']}.ft-{obj['id'][6:]}{suffix}",
        finished_at=ex.now,
        result_files=[results.obj["id"]],
        status="succeeded",
        trained_tokens=tokens,
    )
    _event(ex, job, "New fine-tuned model created")
    _event(ex, job, "The job has successfully completed")


async def fine_tuning_retrieve(ex: Exchange) -> None:
    """Each retrieval moves a job on: validating_files, running, succeeded."""
    job = ex.store.jobs.get(ex.object_id)
    if job is None:
        return await ex.not_found("Fine-tuning job", ex.object_id)
    status = job.obj["status"]
    if status in ("validating_files", "queued"):
        job.obj["status"] = "running"
        _event(ex, job, "Files validated, fine-tuning job started")
    elif status == "running":
        _succeed(ex, job)
    await ex.json(job.obj)


async def fine_tuning_list(ex: Exchange) -> None:
    objects = [job.obj for job in ex.store.jobs.values()]
    await ex.json(page(objects, ex.record.query))


async def fine_tuning_cancel(ex: Exchange) -> None:
    job = ex.store.jobs.get(ex.object_id)
    if job is None:
        return await ex.not_found("Fine-tuning job", ex.object_id)
    if job.obj["status"] not in _ACTIVE:
        message = f"Cannot cancel a job with status '{job.obj['status']}'."
        return await ex.invalid(message, None, "invalid_state")
    job.obj.update(status="cancelled", finished_at=ex.now)
    _event(ex, job, "Fine-tuning job cancelled")
    await ex.json(job.obj)


async def fine_tuning_events(ex: Exchange) -> None:
    job = ex.store.jobs.get(ex.object_id)
    if job is None:
        return await ex.not_found("Fine-tuning job", ex.object_id)
    await ex.json(page(job.items, ex.record.query))


async def fine_tuning_checkpoints(ex: Exchange) -> None:
    """One checkpoint (step 10) once the job has succeeded; none before."""
    job = ex.store.jobs.get(ex.object_id)
    if job is None:
        return await ex.not_found("Fine-tuning job", ex.object_id)
    obj = job.obj
    checkpoints = []
    if obj["status"] == "succeeded":
        digest = hashlib.sha256(obj["id"].encode()).hexdigest()[:24]
        checkpoints.append(
            {
                "created_at": obj["finished_at"],
                "fine_tuned_model_checkpoint": f"{obj['fine_tuned_model']}:ckpt-step-10",
                "fine_tuning_job_id": obj["id"],
                "id": f"ftckpt-{digest}",
                "metrics": {
                    "full_valid_loss": 0.5,
                    "full_valid_mean_token_accuracy": 0.9,
                    "step": 10.0,
                    "train_loss": 0.5,
                    "train_mean_token_accuracy": 0.9,
                    "valid_loss": 0.5,
                    "valid_mean_token_accuracy": 0.9,
                },
                "object": "fine_tuning.job.checkpoint",
                "step_number": 10,
            }
        )
    await ex.json(page(checkpoints, ex.record.query, limit=10))


# ---------------------------------------------------------------- videos


async def videos_create(ex: Exchange) -> None:
    form: Form = ex.payload
    prompt = form.field("prompt")
    if not prompt:
        return await ex.missing("prompt")
    video: dict[str, Any] = {
        "completed_at": None,
        "created_at": ex.now,
        "error": None,
        "expires_at": None,
        "id": ex.store.new_id("video_"),
        "model": ex.model(ex.record.deployment or "sora"),
        "object": "video",
        "progress": 0,
        "prompt": prompt,
        "remixed_from_video_id": None,
        "seconds": form.field("seconds") or "4",
        "size": form.field("size") or "720x1280",
        "status": "queued",
    }
    ex.store.videos[video["id"]] = Tracked(video)
    await ex.json(video)


async def videos_retrieve(ex: Exchange) -> None:
    """Each retrieval moves a video on: queued, in_progress (50%), completed (100%)."""
    tracked = ex.store.videos.get(ex.object_id)
    if tracked is None:
        return await ex.not_found("Video", ex.object_id)
    video = tracked.obj
    if video["status"] == "queued":
        video.update(status="in_progress", progress=50)
    elif video["status"] == "in_progress":
        now = ex.now
        video.update(status="completed", progress=100, completed_at=now, expires_at=now + 86_400)
    await ex.json(video)


async def videos_list(ex: Exchange) -> None:
    objects = [tracked.obj for tracked in ex.store.videos.values()]
    await ex.json(page(objects, ex.record.query))


async def videos_delete(ex: Exchange) -> None:
    if ex.store.videos.pop(ex.object_id, None) is None:
        return await ex.not_found("Video", ex.object_id)
    await ex.json({"deleted": True, "id": ex.object_id, "object": "video.deleted"})


async def videos_content(ex: Exchange) -> None:
    tracked = ex.store.videos.get(ex.object_id)
    if tracked is None:
        return await ex.not_found("Video", ex.object_id)
    variant = ex.record.query.get("variant", "video")
    if variant not in VIDEO_VARIANTS:
        message = f"Invalid 'variant': expected one of {', '.join(VIDEO_VARIANTS)}."
        return await ex.invalid(message, "variant")
    await ex.binary(video_file(tracked.obj["prompt"], variant), VIDEO_VARIANTS[variant])


JOBS: dict[str, Handler] = {
    "fine_tuning.create": fine_tuning_create,
    "fine_tuning.list": fine_tuning_list,
    "fine_tuning.retrieve": fine_tuning_retrieve,
    "fine_tuning.cancel": fine_tuning_cancel,
    "fine_tuning.events": fine_tuning_events,
    "fine_tuning.checkpoints": fine_tuning_checkpoints,
    "videos.create": videos_create,
    "videos.list": videos_list,
    "videos.retrieve": videos_retrieve,
    "videos.delete": videos_delete,
    "videos.content": videos_content,
}
