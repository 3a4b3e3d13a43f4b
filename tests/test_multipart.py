"""Spooled uploads: limits, the model field found and replaced by streaming around it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from azure_asgi._errors import GatewayError
from azure_asgi._multipart import Upload, spool_upload
from azure_asgi.testing import AzureEmulator

from .conftest import EMULATOR_KEY, caller, emulator_gateway


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


# --- boundaries (RFC 2046: 1-70 bchars, not ending in a space) ----------------------------------

BLOCK = 64 * 1024  # the scan's block size in azure_asgi._multipart


def form_body(boundary: bytes, fields: list[tuple[bytes, bytes]]) -> bytes:
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n'
        + value + b"\r\n"
        for name, value in fields
    ]  # fmt: skip
    return b"".join(parts) + b"--" + boundary + b"--\r\n"


def multipart_type(boundary: bytes) -> bytes:
    return b"multipart/form-data; boundary=" + boundary


def run_with_deadline(scenario: Any, seconds: float = 5.0) -> Any:
    """Run ``scenario()`` on its own event loop in a daemon thread, failing past ``seconds``.

    asyncio.wait_for alone cannot catch this defect: a scan that never yields freezes the very
    loop that would have to fire the timeout. The thread is abandoned (daemon) if it hangs.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(asyncio.wait_for(scenario(), seconds))
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds + 1)
    assert not thread.is_alive(), f"the upload scan did not finish within {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["result"]


async def spool_and_find(boundary: bytes) -> str | None:
    """What the gateway does with an upload routed by its model: spool, then scan."""
    body = form_body(boundary, [(b"prompt", b"p" * 10), (b"model", b"whisper")])
    upload = await spool(body, multipart_type(boundary))
    try:
        return upload.find_model()
    finally:
        upload.close()


@pytest.mark.parametrize(
    ("boundary", "problem"),
    [
        (b"b" * 71, b"71 characters"),
        (b"", b"empty"),
        (b'""', b"empty"),
        (b'"abc def "', b"space"),  # may hold spaces, but not end in one
        (b"abc\\def", b"letters, digits"),
        (b"abc\x00def", b"letters, digits"),
        (b"caf\xc3\xa9", b"letters, digits"),
    ],
)
async def test_invalid_boundary_is_400_before_the_body_is_read(
    boundary: bytes, problem: bytes
) -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read for an invalid boundary")

    headers = {b"content-type": multipart_type(boundary)}
    with pytest.raises(GatewayError) as info:
        await spool_upload(receive, headers, 10_000)
    assert info.value.status == 400
    assert info.value.code == "invalid_multipart"
    assert problem.decode() in info.value.message
    assert "RFC 2046" in info.value.message


@pytest.mark.parametrize("length", [65_532, 65_531, 65_600, 40_000])
def test_huge_boundary_is_refused_promptly(length: int) -> None:
    # 65,532 made the scan's block overlap equal its block (an endless loop), longer ones a
    # negative seek, shorter ones a crawl of a few bytes per block.
    with pytest.raises(GatewayError) as info:
        run_with_deadline(lambda: spool_and_find(b"x" * length))
    assert info.value.status == 400
    assert info.value.code == "invalid_multipart"
    assert str(length) in info.value.message  # says what is wrong, never echoes the boundary
    assert "x" * 71 not in info.value.message


@pytest.mark.parametrize(
    "boundary",
    [
        b"b" * 70,
        b"a",
        b"'()+_,-./:=? Z9",  # every bchar, a space inside
        b"----WebKitFormBoundary7MA4YWxkTrZu0gW",
    ],
)
async def test_valid_boundaries_are_accepted(boundary: bytes) -> None:
    assert run_with_deadline(lambda: spool_and_find(boundary)) == "whisper"


async def test_quoted_boundary_with_a_space_and_later_parameters() -> None:
    boundary = b"with space"
    body = form_body(boundary, [(b"model", b"whisper")])
    content_type = b'multipart/form-data; boundary="with space"; charset=utf-8'
    upload = await spool(body, content_type)
    assert upload.boundary == boundary
    assert upload.find_model() == "whisper"
    upload.close()


@pytest.mark.parametrize("shift", [-80, -74, -73, -72, -40, -3, -2, -1, 0, 1, 2])
async def test_longest_boundary_found_across_a_block_edge(shift: int) -> None:
    # The delimiter before the model part starts `shift` bytes from the first 64 KiB block's
    # end, so for most shifts it (or the CRLF before it) straddles the edge.
    boundary = b"z" * 70
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
    padding = BLOCK + shift - len(head) - 2  # -2: the CRLF before the delimiter
    body = form_body(boundary, [(b"prompt", b"p" * padding), (b"model", b"whisper")])
    assert body.index(b"\r\n--" + boundary + b"\r\nContent-Disposition", 1) + 2 == BLOCK + shift
    upload = await spool(body, multipart_type(boundary))
    assert upload.find_model() == "whisper"
    assert await collect(upload, "my-deployment") == body.replace(b"whisper", b"my-deployment")
    upload.close()


async def test_gateway_answers_an_overlong_boundary_with_400_and_sends_nothing() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    boundary = b"b" * 71
    body = form_body(boundary, [(b"model", b"gpt-4o"), (b"prompt", b"p")])
    async with emulator_gateway(emulator) as gw, caller(gw) as c:
        resp = await c.post(
            "/v1/audio/transcriptions",
            content=body,
            headers={"content-type": multipart_type(boundary).decode()},
        )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_multipart"
    assert "at most 70" in error["message"]
    assert emulator.requests == []
