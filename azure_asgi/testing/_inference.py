"""Deployment operations: chat, completions, embeddings, images and audio."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ._completions import (
    completion_events,
    completion_json,
    embed,
    embedding_inputs,
    plan_completion,
)
from ._exchange import Exchange, Handler, positive_int, text_of
from ._json import json_bytes
from ._media import AUDIO_TYPES, audio_duration, speech_audio, subtitles, tiny_png
from ._multipart import Form, Part
from ._replies import (
    CHOICE_FILTER_RESULTS,
    DEFAULT_MODEL,
    PROMPT_FILTER_RESULTS,
    chat_events,
    chat_json,
    plan_chat,
    validate_chat,
)
from ._text import count_words

__all__ = ["INFERENCE"]

_TEXT = b"text/plain; charset=utf-8"
_IMAGE_FILTERS = {
    key: CHOICE_FILTER_RESULTS[key] for key in ("hate", "self_harm", "sexual", "violence")
}
_TRANSCRIPTION_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


async def chat(ex: Exchange) -> None:
    body = ex.payload
    problem = validate_chat(body)
    if problem is not None:
        message, param, code = problem
        return await ex.invalid(message, param, code)
    reply = plan_chat(body, seq=ex.seq, model=ex.model(DEFAULT_MODEL), created=ex.now)
    if body.get("stream") is True:
        return await ex.sse(chat_events(reply, include_usage=_include_usage(body)))
    await ex.json(chat_json(reply))


async def completions(ex: Exchange) -> None:
    body = ex.payload
    prompt = body.get("prompt")
    if prompt is None:
        return await ex.missing("prompt")
    if not isinstance(prompt, str | list):
        return await ex.invalid("Invalid type for 'prompt': expected a string or array.", "prompt")
    if positive_int(body.get("n"), 1) is None:
        return await ex.invalid("Invalid 'n': expected an integer of at least 1.", "n")
    model = ex.model("gpt-35-turbo-instruct")
    reply = plan_completion(body, seq=ex.seq, model=model, created=ex.now)
    if body.get("stream") is True:
        return await ex.sse(completion_events(reply, include_usage=_include_usage(body)))
    await ex.json(completion_json(reply))


async def embeddings(ex: Exchange) -> None:
    body = ex.payload
    if body.get("input") is None:
        return await ex.missing("input")
    inputs = embedding_inputs(body["input"])
    if inputs is None:
        message = "Invalid 'input': expected a string, an array of strings, or token arrays."
        return await ex.invalid(message, "input")
    dimensions = positive_int(body.get("dimensions"), 1536)
    if dimensions is None:
        return await ex.invalid("Invalid 'dimensions': expected a positive integer.", "dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        message = "Invalid 'encoding_format': expected 'float' or 'base64'."
        return await ex.invalid(message, "encoding_format")
    data = []
    for index, (key, _) in enumerate(inputs):
        floats, packed = embed(key, dimensions)
        vector = packed if encoding == "base64" else floats
        data.append({"embedding": vector, "index": index, "object": "embedding"})
    tokens = sum(count for _, count in inputs)
    await ex.json(
        {
            "data": data,
            "model": ex.model("text-embedding-3-small"),
            "object": "list",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _sse(kind: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + json_bytes(data) + b"\n\n"


async def _images(ex: Exchange, options: Mapping[str, Any], prompt: str, revised: str) -> None:
    """Answer an image generation or edit: JSON, or SSE with ``partial_images`` events."""
    n = positive_int(options.get("n"), 1)
    if n is None:
        return await ex.invalid("Invalid 'n': expected an integer of at least 1.", "n")
    edit = ex.route.ops["POST"].name == "images.edit"
    text_tokens = count_words(prompt)
    image_tokens = 65 * len(ex.payload.files("image", "image[]")) if edit else 0
    usage: dict[str, Any] = {
        "input_tokens": text_tokens + image_tokens,
        "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
        "output_tokens": 272 * n,
        "total_tokens": text_tokens + image_tokens + 272 * n,
    }
    if options.get("stream") in (True, "true", "True"):
        kind = "image_edit" if edit else "image_generation"
        partials = positive_int(options.get("partial_images"), 0) or 0
        common = {
            "background": options.get("background") or "auto",
            "created_at": ex.now,
            "output_format": options.get("output_format") or "png",
            "quality": options.get("quality") or "auto",
            "size": options.get("size") or "1024x1024",
        }
        events = []
        for index in range(min(partials, 3)):
            b64 = base64.b64encode(tiny_png(f"{revised}#partial{index}")).decode()
            partial = f"{kind}.partial_image"
            data = {"type": partial, "b64_json": b64, **common, "partial_image_index": index}
            events.append(_sse(partial, data))
        b64 = base64.b64encode(tiny_png(revised)).decode()
        completed = f"{kind}.completed"
        done = {"type": completed, "b64_json": b64, **common, "usage": usage}
        return await ex.sse([*events, _sse(completed, done)])
    images = []
    for index in range(n):
        png = base64.b64encode(tiny_png(f"{revised}#{index}" if index else revised)).decode()
        image: dict[str, Any] = {
            "content_filter_results": _IMAGE_FILTERS,
            "prompt_filter_results": PROMPT_FILTER_RESULTS[0]["content_filter_results"],
            "revised_prompt": revised,
        }
        if options.get("response_format") == "url":
            image["url"] = f"data:image/png;base64,{png}"
        else:
            image["b64_json"] = png
        images.append(image)
    await ex.json({"created": ex.now, "data": images, "usage": usage})


async def images_generate(ex: Exchange) -> None:
    prompt = text_of(ex.payload.get("prompt"))
    if not prompt:
        return await ex.missing("prompt")
    await _images(ex, ex.payload, prompt, prompt)


def _described(parts: list[Part]) -> str:
    return ", ".join(f"{part.filename} ({len(part.data)} bytes)" for part in parts)


async def images_edit(ex: Exchange) -> None:
    form: Form = ex.payload
    images = form.files("image", "image[]")
    if not images:
        return await ex.missing("image")
    prompt = form.field("prompt")
    if not prompt:
        return await ex.missing("prompt")
    masks = form.files("mask")
    mask = f" with mask {_described(masks)}" if masks else ""
    await _images(ex, form.fields(), prompt, f"edit of {_described(images)}{mask}: {prompt}")


async def speech(ex: Exchange) -> None:
    body = ex.payload
    text = text_of(body.get("input"))
    if not text:
        return await ex.missing("input")
    if body.get("voice") is None:
        return await ex.missing("voice")
    response_format = body.get("response_format") or "mp3"
    if response_format not in AUDIO_TYPES:
        message = f"Invalid 'response_format': expected one of {', '.join(AUDIO_TYPES)}."
        return await ex.invalid(message, "response_format")
    await ex.binary(speech_audio(text, response_format), AUDIO_TYPES[response_format])


async def _audio_text(ex: Exchange, task: str) -> None:
    form: Form = ex.payload
    files = form.files("file")
    if not files:
        return await ex.missing("file")
    response_format = form.field("response_format") or "json"
    if response_format not in _TRANSCRIPTION_FORMATS:
        message = f"Invalid 'response_format': expected one of {', '.join(_TRANSCRIPTION_FORMATS)}."
        return await ex.invalid(message, "response_format")
    upload = files[0]
    noun = "transcript" if task == "transcribe" else "translation"
    text = f"{noun} of {upload.filename} ({len(upload.data)} bytes)"
    duration = audio_duration(len(upload.data))
    if response_format == "json":
        return await ex.json({"text": text})
    if response_format == "text":
        return await ex.text(text, _TEXT)
    if response_format in ("srt", "vtt"):
        return await ex.text(subtitles(text, duration, response_format), _TEXT)
    language = (form.field("language") or "english") if task == "transcribe" else "english"
    segment = {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": duration,
        "text": text,
        "tokens": list(range(50364, 50364 + count_words(text))),
        "temperature": 0.0,
        "avg_logprob": -0.25,
        "compression_ratio": 1.0,
        "no_speech_prob": 0.0,
    }
    verbose: dict[str, Any] = {
        "task": task,
        "language": language,
        "duration": duration,
        "text": text,
        "segments": [segment],
    }
    granularities = [p.text for p in form.parts if p.name.startswith("timestamp_granularities")]
    if "word" in granularities:
        words = text.split()
        step = duration / len(words)
        verbose["words"] = [
            {"word": word, "start": round(i * step, 3), "end": round((i + 1) * step, 3)}
            for i, word in enumerate(words)
        ]
    await ex.json(verbose)


async def transcribe(ex: Exchange) -> None:
    await _audio_text(ex, "transcribe")


async def translate(ex: Exchange) -> None:
    await _audio_text(ex, "translate")


INFERENCE: dict[str, Handler] = {
    "chat": chat,
    "completions": completions,
    "embeddings": embeddings,
    "images.generate": images_generate,
    "images.edit": images_edit,
    "audio.speech": speech,
    "audio.transcribe": transcribe,
    "audio.translate": translate,
}
