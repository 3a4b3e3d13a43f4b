"""Model families: one adapter per wire format a deployment speaks (``openai``, ``anthropic``).

Adding a family means adding one adapter module here and naming it in :func:`adapters`; the
dispatcher and the relay call adapters only through :class:`Adapter`.
"""

from __future__ import annotations

from ._adapter import Adapter, StreamTranslator
from .anthropic import AnthropicAdapter
from .openai import ApiVersions, OpenAIAdapter

__all__ = [
    "Adapter",
    "AnthropicAdapter",
    "ApiVersions",
    "OpenAIAdapter",
    "StreamTranslator",
    "adapters",
]


def adapters(versions: ApiVersions) -> dict[str, Adapter]:
    """The adapter of every family this gateway serves, by family name."""
    return {"openai": OpenAIAdapter(versions), "anthropic": AnthropicAdapter()}
