"""Azure resources at run time: URLs per style, model resolution to targets, health.

Everything a request needs from config is precomputed here at start-up, so the hot path does
dictionary look-ups and string joins only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ._calls import Call
from ._config import GatewayConfig
from ._errors import GatewayError
from ._identity import UpstreamAuth
from ._operations import Operation

__all__ = ["ApiVersions", "Catalog", "Resource", "Target"]

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

    def request(self, call: Call, target: Target, versions: ApiVersions) -> tuple[str, bool]:
        """The upstream URL for ``call`` in this resource's style, and whether the body's
        ``model`` must name the deployment (it must wherever the URL does not)."""
        op = call.match.operation
        path = op.path
        if call.object_id is not None:
            path = path.replace("{id}", quote(call.object_id, safe=""))
        query = call.query
        model_in_body = op.routed_by == "model"
        if self.kind == "openai":
            # An OpenAI-compatible server: its endpoint already ends in /v1.
            url = f"{self.base}/{path}"
        elif self.api_style == "deployments" and op.upstream == "deployment":
            version = versions.dated(call, op)
            dep = quote(target.deployment, safe="")
            url = f"{self.base}/openai/deployments/{dep}/{op.deployment_op}"
            query = _join(f"api-version={quote(version, safe='')}", query)
            model_in_body = False
        elif self.api_style == "deployments" and op.upstream == "batches":
            version = versions.dated(call, op)
            url = f"{self.base}/openai/{path}"
            query = _join(f"api-version={quote(version, safe='')}", query)
        else:
            url = f"{self.base}/openai/v1/{path}"
            v1_version = versions.v1(call, op)
            if v1_version:
                query = _join(f"api-version={quote(v1_version, safe='')}", query)
        return (f"{url}?{query}" if query else url), model_in_body

    def __repr__(self) -> str:
        return f"Resource({self.name!r}, {self.base!r})"


def _join(first: str, rest: str) -> str:
    return f"{first}&{rest}" if rest else first


@dataclass(frozen=True, slots=True)
class ApiVersions:
    """Which api-version an upstream call carries (contract section 6)."""

    default: str
    #: Per ``request_type`` overrides from config.
    overrides: Mapping[str, str]

    def dated(self, call: Call, op: Operation) -> str:
        """For ``/openai/deployments/...`` and ``/openai/batches``: the caller's on Azure's own
        routes, else config's override, else the operation's (where GA lacks it), else config's."""
        if call.api_version and call.match.family == "azure":
            return call.api_version
        return self.overrides.get(op.request_type) or op.api_version or self.default

    def v1(self, call: Call, op: Operation) -> str | None:
        """For ``/openai/v1/...``: the caller's on ``/openai/v1`` routes, else an override."""
        if call.api_version and call.match.family == "azure_v1":
            return call.api_version
        return self.overrides.get(op.request_type)


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
        self.by_name = {r.name: r for r in self.resources}
        self.default_resource = config.default_resource_name
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

    def targets_for(self, call: Call, header_resource: str | None) -> list[Target]:
        """Where ``call`` may go: by model, or to the one resource its ids or header name.

        Stateful objects live on one resource: an id's tag wins, then ``x-azure-resource``,
        then ``default_resource``. A model call that carries a tagged id (``previous_response_id``)
        or the header is kept to the targets on that resource.
        """
        pinned = set(call.pinned)
        if header_resource is not None:
            if header_resource not in self.by_name:
                raise GatewayError(
                    400,
                    f"x-azure-resource names no configured resource: '{header_resource}' "
                    f"(configured: {', '.join(self.by_name)}).",
                    code="unknown_resource",
                )
            if not pinned:
                pinned.add(header_resource)
        if len(pinned) > 1:
            raise GatewayError(
                400,
                "This request refers to objects on different resources "
                f"({', '.join(sorted(pinned))}); objects can only be combined on the resource "
                "that holds them.",
                code="resource_conflict",
            )
        resource = next(iter(pinned)) if pinned else None
        if call.match.operation.routed_by == "model":
            assert call.model is not None
            targets = self.resolve(call.model)
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
        return [Target(self.by_name[resource or self.default_resource], "", "", "openai")]
