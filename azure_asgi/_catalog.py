"""The catalog: Azure resources at run time, their health, and model names resolved to targets.

Everything a request needs from config is precomputed here at start-up, so the hot path does
dictionary look-ups only. How a target is called (URLs, headers, bodies) is its family
adapter's business (``families/``), not the catalog's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from ._config import DEFAULT_MAX_TOKENS, GatewayConfig, family_of
from ._errors import GatewayError
from ._identity import UpstreamAuth
from ._inbound import Inbound

__all__ = ["Catalog", "Resource", "Target"]

# Names with one of these prefixes are meant for another provider of a multi-provider gateway
# (Bifrost, LiteLLM); this gateway serves Azure only and says so instead of guessing.
_OTHER_PROVIDERS = tuple(
    f"{p}/"
    for p in (
        "openai",
        "anthropic",
        "bedrock",
        "vertex",
        "gemini",
        "mistral",
        "groq",
        "cohere",
        "ollama",
        "openrouter",
        "perplexity",
        "xai",
        "cerebras",
        "huggingface",
        "sgl",
        "vllm",
    )
)


class Resource:
    """One Azure resource (region): where to send, how to authenticate, whether it is healthy."""

    __slots__ = (
        "api_style",
        "auth",
        "auth_method",
        "base",
        "cooldown_until",
        "direct",
        "kind",
        "name",
        "weight",
    )

    def __init__(
        self,
        name: str,
        base: str,
        auth: UpstreamAuth,
        *,
        kind: str = "azure",
        api_style: str = "deployments",
        weight: float = 1.0,
        auth_method: str = "api_key",
        direct: bool = False,
    ) -> None:
        self.name = name
        #: How the gateway authenticates to it (``api_key``, ``service_principal``...): named
        #: in errors when its credential fails, never the secret itself.
        self.auth_method = auth_method
        #: A caller's own endpoint (direct keys), made for one request, never a configured one.
        self.direct = direct
        self.base = base.rstrip("/")
        self.kind = kind
        self.api_style = api_style
        self.weight = weight
        self.auth = auth
        #: Monotonic time before which this resource is avoided when another can serve.
        self.cooldown_until = 0.0

    @property
    def healthy(self) -> bool:
        return self.cooldown_until <= time.monotonic()

    def cool_down(self, seconds: float) -> None:
        """Avoid this resource for ``seconds`` while another can serve."""
        self.cooldown_until = time.monotonic() + seconds

    def __repr__(self) -> str:
        return f"Resource({self.name!r}, {self.base!r})"


@dataclass(frozen=True, slots=True)
class Target:
    """One place a model name can be served: a deployment on a resource."""

    resource: Resource
    alias: str
    deployment: str
    family: str
    fallbacks: tuple[str, ...] = ()
    #: Claude: ``max_tokens`` when a translated request names none.
    max_tokens: int = DEFAULT_MAX_TOKENS


class Catalog:
    """Resolves a requested model name to the targets that serve it, in config order."""

    def __init__(self, config: GatewayConfig, auths: Mapping[str, UpstreamAuth]) -> None:
        self.resources = [
            Resource(
                rc.name,
                rc.endpoint,
                auths[rc.name],
                kind=rc.kind,
                api_style=rc.api_style,
                weight=rc.weight,
                auth_method=rc.auth.method,
            )
            for rc in config.resources
        ]
        self.by_name = {r.name: r for r in self.resources}
        self.default_resource = config.default_resource_name
        self._by_alias: dict[str, list[Target]] = {}
        self._by_deployment: dict[str, list[Target]] = {}
        for res, rc in zip(self.resources, config.resources, strict=True):
            for alias, dc in rc.deployments.items():
                family = dc.family or family_of(alias, dc.deployment)
                target = Target(
                    res, alias, dc.deployment, family, tuple(dc.fallbacks), dc.max_tokens
                )
                self._by_alias.setdefault(alias, []).append(target)
                self._by_deployment.setdefault(dc.deployment, []).append(target)

    @property
    def aliases(self) -> list[str]:
        return sorted(self._by_alias)

    def targets_of(self, alias: str) -> list[Target]:
        return self._by_alias[alias]

    def lookup(self, name: str) -> list[Target] | None:
        """Targets for an alias or deployment name (``azure/`` dropped), or None."""
        if name.startswith("azure/"):
            name = name[6:]
        return self._by_alias.get(name) or self._by_deployment.get(name)

    def resolve(self, name: str) -> list[Target]:
        """Alias first, then deployment name, across every resource; ``azure/`` is dropped."""
        requested = name
        targets = self.lookup(name)
        if targets:
            return targets
        if requested.startswith(_OTHER_PROVIDERS):
            provider = requested.split("/", 1)[0]
            raise GatewayError(
                400,
                f"Provider '{provider}' is not served by this gateway: it routes to Azure only. "
                f"Use an alias such as 'azure/{self.aliases[0] if self.aliases else 'gpt-4o'}'.",
                code="unsupported_provider",
                param="model",
            )
        served = ", ".join(self.aliases) or "none"
        raise GatewayError(
            404,
            f"The model '{requested}' is not served by this gateway (served: {served}). "
            "Add it under resources[].deployments in the gateway config.",
            code="model_not_found",
            param="model",
        )

    def targets_for(self, call: Inbound) -> list[Target]:
        """Where ``call`` may go: by model, or to the one resource its ids or header name.

        Stateful objects live on one resource: an id's tag wins, then ``x-azure-resource``,
        then ``default_resource``. A model call that carries a tagged id (``previous_response_id``)
        or the header is kept to the targets on that resource. A deployment whose family does
        not serve the operation is refused before anything is sent.
        """
        pinned = call.pinned
        header_resource = call.resource_header
        if header_resource is not None:
            if header_resource not in self.by_name:
                raise GatewayError(
                    400,
                    f"x-azure-resource names no configured resource: '{header_resource}' "
                    f"(configured: {', '.join(self.by_name)}).",
                    code="unknown_resource",
                )
            if not pinned:
                pinned = {header_resource}
        if len(pinned) > 1:
            raise GatewayError(
                400,
                "This request refers to objects on different resources "
                f"({', '.join(sorted(pinned))}); objects can only be combined on the resource "
                "that holds them.",
                code="resource_conflict",
            )
        resource = next(iter(pinned)) if pinned else None
        op = call.route.operation
        if op.routed_by != "model":
            return [Target(self.by_name[resource or self.default_resource], "", "", "openai")]
        assert call.model is not None
        targets = self.resolve(call.model)
        if targets[0].family not in op.families:
            raise unsupported_family(call.model, targets[0].family, op.request_type)
        if resource is None:
            return targets
        kept = [t for t in targets if t.resource.name == resource]
        if not kept:
            raise GatewayError(
                400,
                f"The model '{call.model}' is not served on resource '{resource}', where "
                "this request's objects live.",
                code="model_not_on_resource",
                param="model",
            )
        return kept


def unsupported_family(model: str, family: str, request_type: str) -> GatewayError:
    """400 for a deployment whose family does not offer the operation (nothing is sent)."""
    return GatewayError(
        400,
        f"'{model}' is a {family}-family deployment, which does not serve {request_type} "
        "requests through this gateway; nothing was sent upstream.",
        code="unsupported_operation",
        param="model",
    )
