"""Messages image and document blocks and ``cache_control`` from OpenAI parts (``_content``)."""

from __future__ import annotations

import base64

import pytest

from azure_asgi._errors import GatewayError
from azure_asgi.families.anthropic._content import cache_control, document_block, image_block

PDF = base64.b64encode(b"%PDF-1.7 fake").decode()


def test_image_blocks() -> None:
    assert image_block("data:image/png;base64,AAAA", where="x") == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
    }
    assert image_block("https://example.com/cat.jpg", where="x") == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }


@pytest.mark.parametrize(
    "url",
    ["ftp://x/y.png", "data:image/png,raw", "data:image/tiff;base64,AAAA", "", None, "cat.png"],
)
def test_image_block_refusals(url: object) -> None:
    with pytest.raises(GatewayError) as info:
        image_block(url, where="messages[0].content[1].image_url.url")
    assert info.value.status == 400
    assert info.value.param == "messages[0].content[1].image_url.url"


def test_document_blocks() -> None:
    inline = document_block(f"data:application/pdf;base64,{PDF}", where="f", filename="a.pdf")
    assert inline == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        "title": "a.pdf",
    }
    assert document_block(PDF, where="f")["source"]["data"] == PDF
    text = base64.b64encode("héllo".encode()).decode()
    assert document_block(f"data:text/plain;base64,{text}", where="f")["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": "héllo",
    }


def test_document_file_id_is_unsupported() -> None:
    with pytest.raises(GatewayError) as info:
        document_block(None, where="messages[0].content[0].file", file_id="file-1")
    assert (info.value.code, info.value.param) == (
        "unsupported_parameter",
        "messages[0].content[0].file.file_id",
    )
    assert "inline" in info.value.message


def test_image_file_id_is_unsupported_naming_the_field_beside_the_url() -> None:
    with pytest.raises(GatewayError) as info:
        image_block(None, where="input[0].content[1].image_url", file_id="file-1")
    assert (info.value.code, info.value.param) == (
        "unsupported_parameter",
        "input[0].content[1].file_id",
    )


def test_document_by_url_and_its_refusals() -> None:
    block = document_block(None, where="f", file_url="HTTPS://example.com/a.pdf", filename="a")
    assert block == {
        "type": "document",
        "source": {"type": "url", "url": "HTTPS://example.com/a.pdf"},
        "title": "a",
    }
    with pytest.raises(GatewayError) as info:
        document_block(None, where="f", file_url="file:///a.pdf")
    assert (info.value.code, info.value.param) == ("invalid_request", "f.file_data")
    assert "file_url" in info.value.message


@pytest.mark.parametrize("data", ["data:image/png;base64,AAAA", "", "data:text/plain;base64,@@"])
def test_document_refusals(data: str) -> None:
    with pytest.raises(GatewayError) as info:
        document_block(data, where="f")
    assert (info.value.status, info.value.code) == (400, "invalid_request")


def test_cache_control_is_kept_and_a_breakpoint_is_ephemeral() -> None:
    given = {"type": "ephemeral", "ttl": "1h"}
    assert cache_control({"cache_control": given}, {"type": "text"})["cache_control"] == given
    marked = cache_control({"prompt_cache_breakpoint": {}}, {"type": "text"})
    assert marked["cache_control"] == {"type": "ephemeral"}
    assert cache_control({}, {"type": "text"}) == {"type": "text"}
