"""Azure resources at run time: URLs per style, model resolution to targets, health.

Everything a request needs from config is precomputed here at start-up, so the hot path does
dictionary look-ups and string joins only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ._config import GatewayConfig
from ._errors import GatewayError
from ._identity import UpstreamAuth
from ._operations import Operation

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

    __slots__ = ("api_style", "auth", "base", "cooldown_until", "kind", "name", "weight")

    def __init__(
        self,
        name: str,
        base: str,
        auth: UpstreamAuth,
        *,
        kind: str = "azure",
        api_style: str = "deployments",
        weight: float = 1.0,
    ) -> None:
        self.name = name
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

    def url(self, op: Operation, deployment: str, api_version: str) -> str:
        """The upstream URL for ``op`` on ``deployment`` in this resource's style."""
        if self.kind == "openai":
            # An OpenAI-compatible server: its endpoint already ends in /v1.
            return f"{self.base}{op.unified_path[3:]}"
        if self.api_style == "v1":
            return f"{self.base}/openai{op.unified_path}"
        dep = quote(deployment, safe="")
        query = quote(api_version, safe="")
        return f"{self.base}/openai/deployments/{dep}/{op.deployment_op}?api-version={query}"

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
            )
            for rc in config.resources
        ]
        self._by_alias: dict[str, list[Target]] = {}
        self._by_deployment: dict[str, list[Target]] = {}
        for res, rc in zip(self.resources, config.resources, strict=True):
            for alias, dc in rc.deployments.items():
                family = dc.family or "openai"
                target = Target(res, alias, dc.deployment, family, tuple(dc.fallbacks))
                self._by_alias.setdefault(alias, []).append(target)
                self._by_deployment.setdefault(dc.deployment, []).append(target)

    @property
    def aliases(self) -> list[str]:
        return sorted(self._by_alias)

    def resolve(self, name: str) -> list[Target]:
        """Alias first, then deployment name, across every resource; ``azure/`` is dropped."""
        requested = name
        if name.startswith("azure/"):
            name = name[6:]
        targets = self._by_alias.get(name) or self._by_deployment.get(name)
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
