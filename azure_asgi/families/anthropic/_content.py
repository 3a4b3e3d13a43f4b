"""Messages API content blocks from OpenAI parts that both translations take: images (data:
and http(s) URLs), documents (PDF and plain text) and the ``cache_control`` a part carries.
Pure functions, no I/O (docs/claude.md, the image and file rows of "Chat Completions → Messages").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ..._errors import GatewayError
from ._common import invalid

__all__ = ["cache_control", "document_block", "image_block"]

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _data_url(url: str, where: str) -> tuple[str, str]:
    """``(media_type, base64 data)`` of a ``data:`` URL; only base64 ones carry binary data."""
    head, sep, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if not sep or encoding.lower() != "base64" or not media_type:
        raise invalid(
            f"{where} is a data: URL that is not base64 with a media type; send "
            "'data:<media type>;base64,<data>'.",
            where,
        )
    return media_type.strip().lower(), data


def image_block(url: Any, *, where: str, file_id: Any = None) -> dict[str, Any]:
    """A Messages ``image`` block for an OpenAI image URL: ``data:`` URLs become a base64
    source, http(s) URLs a ``url`` source (Claude fetches them itself). ``where`` names the URL
    field; a ``file_id`` beside it (the Responses ``input_image``) is refused, as Claude on
    Foundry has no Files API."""
    if file_id is not None:
        raise _no_files(_beside(where, "file_id"), "the image as a data: URL or an https:// URL")
    if not isinstance(url, str) or not url:
        raise invalid(f"{where} must be an image URL (https:// or a data: URL).", where)
    if url[:5].lower() == "data:":
        media_type, data = _data_url(url, where)
        if media_type not in _IMAGE_TYPES:
            raise invalid(
                f"{where} is {media_type}; Claude reads images as JPEG, PNG, GIF or WebP.", where
            )
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    elif _is_http(url):
        source = {"type": "url", "url": url}
    else:
        raise invalid(f"{where} must be an https:// or data: URL.", where)
    return {"type": "image", "source": source}


def document_block(
    file_data: Any,
    *,
    where: str,
    filename: Any = None,
    file_id: Any = None,
    file_url: Any = None,
) -> dict[str, Any]:
    """A Messages ``document`` block for an OpenAI file part (``where`` names the part): a PDF
    (or plain text) given inline as a data URL or bare base64, or a PDF by http(s)
    ``file_url`` (the Responses ``input_file``; Claude fetches it). A ``file_id`` is refused:
    Claude on Foundry has no Files API."""
    if file_id is not None:
        raise _no_files(
            f"{where}.file_id", "the PDF inline as file_data ('data:application/pdf;base64,...')"
        )
    if file_data is None and _is_http(file_url):
        return _titled({"type": "document", "source": {"type": "url", "url": file_url}}, filename)
    if not isinstance(file_data, str) or not file_data:
        also = " (or an http(s) URL as file_url)" if file_url is not None else ""
        raise invalid(
            f"{where}.file_data must be a base64 PDF or a data: URL{also}.", f"{where}.file_data"
        )
    if file_data[:5].lower() == "data:":
        media_type, data = _data_url(file_data, f"{where}.file_data")
    else:
        media_type, data = "application/pdf", file_data  # OpenAI's own default for bare data
    if media_type == "application/pdf":
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    elif media_type == "text/plain":
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid(
                f"{where}.file_data is not base64 UTF-8 text.", f"{where}.file_data"
            ) from None
        source = {"type": "text", "media_type": media_type, "data": text}
    else:
        raise invalid(
            f"{where}.file_data is {media_type}; Claude reads PDF and plain-text documents.",
            f"{where}.file_data",
        )
    return _titled({"type": "document", "source": source}, filename)


def _is_http(url: Any) -> bool:
    return isinstance(url, str) and (url[:8].lower() == "https://" or url[:7].lower() == "http://")


def _titled(block: dict[str, Any], filename: Any) -> dict[str, Any]:
    if isinstance(filename, str) and filename:
        block["title"] = filename
    return block


def _beside(where: str, field: str) -> str:
    """The path of ``field`` in the object that holds ``where`` (``a.b.url`` -> ``a.b.field``)."""
    head, dot, _ = where.rpartition(".")
    return f"{head}.{field}" if dot else field


def _no_files(param: str, send: str) -> GatewayError:
    return GatewayError(
        400,
        f"{param}: Claude deployments cannot read uploaded files (Foundry has no Files API for "
        f"Claude); send {send}.",
        code="unsupported_parameter",
        param=param,
    )


def cache_control(part: Mapping[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """``cache_control`` kept on the block (OpenAI's ``prompt_cache_breakpoint`` is the same
    idea): prompt caching works through the translation."""
    if part.get("cache_control") is not None:
        block["cache_control"] = part["cache_control"]
    elif part.get("prompt_cache_breakpoint") is not None:
        block["cache_control"] = {"type": "ephemeral"}
    return block
