"""``GET /v1/models``: every resource's model list, fetched concurrently, merged with the
configured aliases (each listed as ``azure/<alias>`` with its deployment and capabilities)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import _json
from ._catalog import Catalog, Resource, Target
from ._exchange import Exchange
from ._relay import answer_headers, send_json
from ._transport import Transport
from ._types import Send
from .families import OpenAIAdapter

__all__ = ["answer_model_list", "list_models"]

logger = logging.getLogger("azure_asgi")

# What a deployment can do when its resource's model list does not say: read from its names.
_HINTS = (
    ("embedding", {"embeddings": True}),
    ("whisper", {"transcription": True, "translation": True}),
    ("transcribe", {"transcription": True}),
    ("tts", {"speech": True}),
    ("dall-e", {"image_generation": True}),
    ("gpt-image", {"image_generation": True, "image_edit": True}),
    ("sora", {"video": True}),
)
_CHAT = {"chat_completion": True, "completion": True, "responses": True}


def _capabilities(target: Target, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
    for name in (target.deployment, target.alias):
        caps = upstream.get(name, {}).get("capabilities")
        if isinstance(caps, dict):
            return caps
    if target.family == "anthropic":
        return {"chat_completion": True, "responses": True, "messages": True}
    names = f"{target.alias} {target.deployment}".lower()
    for hint, caps in _HINTS:
        if hint in names:
            return dict(caps)
    return dict(_CHAT)


def alias_entry(
    alias: str, targets: list[Target], upstream: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    first = targets[0]
    return {
        "id": f"azure/{alias}",
        "object": "model",
        "created": 0,
        "owned_by": "azure",
        "deployment": first.deployment,
        "family": first.family,
        "resources": [t.resource.name for t in targets],
        "capabilities": _capabilities(first, upstream or {}),
    }


async def _fetch(transport: Transport, resource: Resource) -> list[dict[str, Any]]:
    request = OpenAIAdapter.models_request(resource, await resource.auth.header("openai"))
    resp = await transport.send(request)
    try:
        body = await resp.read()
    finally:
        await resp.aclose()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}")
    listing = _json.loads(body)
    data = listing.get("data") if isinstance(listing, dict) else None
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


async def list_models(
    catalog: Catalog, transport: Transport, alias: str | None = None
) -> dict[str, Any]:
    """The merged list; a resource that fails is named in ``resources_failed``, not fatal.

    With ``alias``, only that alias's entry (built from its own resources' lists, so a
    retrieve describes it exactly as the list does).
    """
    if alias is None:
        resources = catalog.resources
    else:
        names = {t.resource.name for t in catalog.targets_of(alias)}
        resources = [r for r in catalog.resources if r.name in names]
    results = await asyncio.gather(
        *(_fetch(transport, r) for r in resources), return_exceptions=True
    )
    upstream: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for resource, result in zip(resources, results, strict=True):
        if isinstance(result, BaseException):
            logger.warning("azure-asgi: listing models of %s failed: %r", resource.name, result)
            failed.append(resource.name)
            continue
        for model in result:
            model_id = model.get("id")
            if isinstance(model_id, str) and model_id not in upstream:
                upstream[model_id] = {**model, "resource": resource.name}
    if alias is not None:
        entry = alias_entry(alias, catalog.targets_of(alias), upstream)
        return {"object": "list", "data": [entry], "resources_failed": failed}
    data = [alias_entry(a, catalog.targets_of(a), upstream) for a in catalog.aliases]
    data.extend(upstream.values())
    return {"object": "list", "data": data, "resources_failed": failed}


async def answer_model_list(
    ex: Exchange, catalog: Catalog, transport: Transport, send: Send
) -> bool:
    """Answer ``GET /models`` and ``GET /models/<alias>`` from config plus every resource's
    list; False when the call is for an upstream model id (to be proxied as usual)."""
    call = ex.inbound
    assert call is not None
    alias = None
    if call.object_id is not None:
        targets = catalog.lookup(call.object_id)
        if targets is None:
            return False
        alias = targets[0].alias
    listing = await list_models(catalog, transport, alias)
    ex.extra["resources_failed"] = listing.pop("resources_failed")
    ex.extra["latency_ms"] = ex.latency_ms()
    body = listing["data"][0] if alias is not None else listing
    ex.status = 200
    out = _json.dumps({**body, "extra_fields": ex.extra})
    await send_json(send, 200, out, answer_headers(ex))
    return True
