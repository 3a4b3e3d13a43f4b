"""Spooled uploads: limits, the model field found and replaced by streaming around it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from azure_asgi._errors import GatewayError
from azure_asgi._multipart import Upload, spool_upload


def encode(data: dict[str, str], files: dict[str, Any]) -> tuple[bytes, bytes]:
    request = httpx.Request("POST", "http://x", data=data, files=files)
    return request.read(), request.headers["content-type"].encode()


def receiver(body: bytes, chunk: int = 7000) -> Any:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, Any]:
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    return receive


async def spool(body: bytes, content_type: bytes, limit: int = 10_000_000) -> Upload:
    headers = {b"content-type": content_type, b"content-length": str(len(body)).encode()}
    return await spool_upload(receiver(body), headers, limit)


async def collect(upload: Upload, model: str | None) -> bytes:
    return b"".join([chunk async for chunk in upload.stream(model)])


@pytest.mark.parametrize("size", [0, 10, 70_000, 2_500_000])  # memory and disk spooling
async def test_model_found_and_replaced_byte_exactly(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"--not-a-boundary\r\n"
    body, content_type = encode(
        {"model": "gpt-4o", "prompt": "p"}, {"file": ("a.bin", payload, "application/octet-stream")}
    )
    upload = await spool(body, content_type)
    assert upload.find_model() == "gpt-4o"
    assert await collect(upload, None) == body
    replaced = await collect(upload, "my-deployment")
    assert replaced == body.replace(b"gpt-4o", b"my-deployment", 1)
    assert upload.length("my-deployment") == len(replaced)
    upload.close()


async def test_model_after_a_large_file_part() -> None:
    payload = b"\xff" * 200_000
    request = httpx.Request(
        "POST", "http://x", files=[("file", ("a.bin", payload)), ("model", (None, "whisper"))]
    )
    body = request.read()
    upload = await spool(body, request.headers["content-type"].encode())
    assert upload.find_model() == "whisper"
    upload.close()


async def test_missing_model_and_file_named_model() -> None:
    body, content_type = encode({"prompt": "p"}, {"model": ("model.txt", b"gpt-4o")})
    upload = await spool(body, content_type)
    assert upload.find_model() is None  # a file part called "model" is not the field
    upload.close()


async def test_upload_limit_is_413_even_without_content_length() -> None:
    body, content_type = encode({"model": "m"}, {"file": ("a", b"x" * 5000)})
    with pytest.raises(GatewayError) as info:
        await spool_upload(receiver(body, 1000), {b"content-type": content_type}, 4000)
    assert info.value.status == 413
    assert "max_upload_bytes" in info.value.message


async def test_not_multipart_is_400() -> None:
    with pytest.raises(GatewayError) as info:
        await spool_upload(receiver(b"{}"), {b"content-type": b"application/json"}, 100)
    assert info.value.status == 400
    assert info.value.code == "invalid_multipart"
