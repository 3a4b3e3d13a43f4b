"""The gateway configuration: pydantic models and their loading from files, dicts and env.

Every problem surfaces as one :class:`ConfigError` (see ``_config_loading``) whose message is a
single line ``<dotted.field.path>: <what is wrong and how to fix it>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from ._config_loading import (
    ConfigError,
    FieldErrors,
    Loc,
    config_error,
    config_path,
    expand,
    parse_text,
    unknown_key,
)
from ._operations import REQUEST_TYPES

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AuthConfig",
    "ClientsConfig",
    "ConfigError",
    "DeploymentConfig",
    "DirectKeysConfig",
    "GatewayConfig",
    "LimitsConfig",
    "ManagedIdentityConfig",
    "ResourceConfig",
    "RetryConfig",
    "TelemetryConfig",
    "family_of",
]

#: ``max_tokens`` for a translated Claude request that gives none (LiteLLM's default too).
DEFAULT_MAX_TOKENS = 4096
_RESOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ENDPOINT_HINT = (
    "endpoint must be an absolute http(s) URL such as https://my-resource.openai.azure.com"
)
_AuthMethod = Literal[
    "service_principal", "api_key", "token", "managed_identity", "workload_identity", "default"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Model):
    """Upstream retries for one alias: ``RetryConfig(max_attempts=5)``."""

    max_attempts: Annotated[int, Field(ge=1)] = 3
    initial_backoff_ms: Annotated[int, Field(ge=0)] = 500
    max_backoff_ms: Annotated[int, Field(ge=0)] = 5000
    #: The longest a resource is kept out of balancing after a failure, whatever its
    #: ``retry-after`` says (an ``inf`` or a day-long value must not remove it for good).
    max_cooldown_s: Annotated[float, Field(gt=0)] = 60.0


class LimitsConfig(_Model):
    """Request size limits (413 beyond): ``LimitsConfig(max_body_bytes=1 << 20)``."""

    max_body_bytes: Annotated[int, Field(gt=0)] = 33554432
    max_upload_bytes: Annotated[int, Field(gt=0)] = 536870912
    #: Requests in flight at once, gateway-wide; past it callers get 503 with ``retry-after``.
    #: None: no bound of the gateway's own (the host's server may have one).
    max_concurrency: Annotated[int, Field(gt=0)] | None = None
    #: Upstream connections open at once to each resource host (the gateway's own aiohttp
    #: pool); requests past it wait for a connection, within their deadline. None: no bound.
    upstream_connections_per_host: Annotated[int, Field(gt=0)] | None = None


class TelemetryConfig(_Model):
    """OpenTelemetry and content capture (docs/observability.md):
    ``TelemetryConfig(capture_content=True)``."""

    #: False: OpenTelemetry is never imported, whatever is installed.
    enabled: bool = True
    #: Record prompts and completions as span events (off: never any text of a request).
    capture_content: bool = False


class ManagedIdentityConfig(_Model):
    """A user-assigned managed identity: ``auth: {managed_identity: {client_id: ...}}``."""

    client_id: str | None = None


def _managed_identity_tag(value: Any) -> str:
    # A callable discriminator, so a bad object reports its own errors instead of also
    # "should be a valid boolean" from the other side of the union.
    return "ManagedIdentityConfig" if isinstance(value, Mapping | BaseModel) else "bool"


class AuthConfig(_Model):
    """How the gateway authenticates to one resource; no auth at all means DefaultAzureCredential.

    ``AuthConfig(api_key=SecretStr("...")).method == "api_key"``. Precedence: service
    principal > api_key > azure_ad_token > managed identity > workload identity > default.
    """

    api_key: SecretStr | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    azure_ad_token: SecretStr | None = None
    managed_identity: Annotated[
        Annotated[bool, Tag("bool")]
        | Annotated[ManagedIdentityConfig, Tag("ManagedIdentityConfig")],
        Discriminator(_managed_identity_tag),
    ] = False
    workload_identity: bool = False
    scope: str | None = None

    @field_validator(
        "api_key",
        "tenant_id",
        "client_id",
        "client_secret",
        "azure_ad_token",
        "scope",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `${AZURE_OPENAI_API_KEY:-}` expands to "": that means "not configured", not an empty key.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_service_principal(self) -> AuthConfig:
        given = {
            "tenant_id": bool(self.tenant_id),
            "client_id": bool(self.client_id),
            "client_secret": self.client_secret is not None,
        }
        missing = [name for name, present in given.items() if not present]
        # Workload identity takes the client id alone (tenant and token come from the pod).
        alone = missing == ["tenant_id", "client_secret"] and self.workload_identity
        if missing and len(missing) < 3 and not alone:
            raise ValueError(
                "an Entra ID service principal needs tenant_id, client_id and client_secret "
                f"together; missing: {', '.join(missing)} (or remove the others)"
            )
        return self

    @property
    def method(self) -> _AuthMethod:
        """Which upstream auth this config selects."""
        if self.tenant_id and self.client_id and self.client_secret:
            return "service_principal"
        if self.api_key is not None:
            return "api_key"
        if self.azure_ad_token is not None:
            return "token"
        if self.managed_identity is not False:
            return "managed_identity"
        if self.workload_identity:
            return "workload_identity"
        return "default"


class DeploymentConfig(_Model):
    """One alias's deployment: ``DeploymentConfig(deployment="my-dep", fallbacks=("gpt-4o",))``.

    ``family`` is always set after a :class:`ResourceConfig` validated it (detected from names).
    """

    deployment: Annotated[str, Field(min_length=1)]
    family: Literal["openai", "anthropic"] | None = None
    fallbacks: tuple[str, ...] = ()
    #: Claude deployments: the ``max_tokens`` sent when a translated Chat Completions or
    #: Responses request names none (the Messages API requires one; docs/claude.md).
    max_tokens: Annotated[int, Field(ge=1)] = DEFAULT_MAX_TOKENS


def family_of(*names: str) -> Literal["openai", "anthropic"]:
    """The model family a deployment belongs to when config does not say, read from its names:
    ``anthropic`` when any names Claude or Anthropic, else ``openai``."""
    for name in names:
        lowered = name.lower()
        if "claude" in lowered or "anthropic" in lowered:
            return "anthropic"
    return "openai"


def _with_family(alias: str, dc: DeploymentConfig) -> DeploymentConfig:
    if dc.family is not None:
        return dc
    return dc.model_copy(update={"family": family_of(alias, dc.deployment)})


class ResourceConfig(_Model):
    """One Azure resource (region)::

    ResourceConfig.model_validate({"name": "eastus", "endpoint": "https://eastus.openai.azure.com",
                                   "deployments": {"gpt-4o": "my-gpt4o-deployment"}})
    """

    name: Annotated[str, Field(min_length=1)]
    endpoint: str
    weight: Annotated[float, Field(gt=0)] = 1.0
    kind: Literal["azure", "openai"] = "azure"
    api_style: Literal["deployments", "v1"] = "deployments"
    auth: AuthConfig = AuthConfig()
    deployments: dict[str, DeploymentConfig] = {}

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        # Names travel inside object ids (``file-1~eastus``) and URLs: keep them plain.
        if not _RESOURCE_NAME.fullmatch(value):
            raise ValueError(
                "resource name must be letters, digits, '.', '_' or '-' (such as 'eastus'), "
                "starting with a letter or digit"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        # The value is never echoed: a URL can carry credentials in its userinfo or query.
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ValueError(_ENDPOINT_HINT) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(_ENDPOINT_HINT)
        if parts.query or parts.fragment or parts.username is not None:
            raise ValueError(f"{_ENDPOINT_HINT}, without query, fragment or credentials")
        return value.strip().rstrip("/")

    @field_validator("deployments", mode="before")
    @classmethod
    def _strings_to_objects(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {k: {"deployment": v} if isinstance(v, str) else v for k, v in value.items()}

    @field_validator("deployments")
    @classmethod
    def _detect_families(cls, value: dict[str, DeploymentConfig]) -> dict[str, DeploymentConfig]:
        if any(not alias.strip() for alias in value):
            raise ValueError("deployment aliases must be non-empty")
        return {alias: _with_family(alias, dc) for alias, dc in value.items()}


class ClientsConfig(_Model):
    """Who may call without ``authorize=``: ``ClientsConfig(api_keys=(SecretStr("k1"),))``."""

    api_keys: tuple[SecretStr, ...] = ()
    anonymous: bool = False

    @field_validator("api_keys", mode="before")
    @classmethod
    def _drop_empty_keys(cls, value: Any) -> Any:
        # An unset `${GATEWAY_KEY:-}` must not become a key that an empty header would match.
        if isinstance(value, list | tuple):
            return tuple(k for k in value if not (isinstance(k, str) and not k.strip()))
        return value


class DirectKeysConfig(_Model):
    """Callers bringing their own Azure key and endpoint: ``DirectKeysConfig(enabled=True)``."""

    enabled: bool = False
    allowed_endpoints: tuple[str, ...] = (
        "https://*.openai.azure.com",
        "https://*.services.ai.azure.com",
        "https://*.cognitiveservices.azure.com",
    )


class GatewayConfig(_Model):
    """The whole gateway configuration (docs/configuration.md)::

    config = GatewayConfig.load("gateway.yaml")  # or .from_env(), or .coerce({...})
    config.resources[0].deployments["gpt-4o"].deployment
    """

    api_version: Annotated[str, Field(min_length=1)] = "2024-10-21"
    #: Per-operation api-version overrides, keyed by request type (``image_edit``, ``responses``).
    api_versions: dict[str, Annotated[str, Field(min_length=1)]] = {}
    timeout_s: Annotated[float, Field(gt=0)] = 600
    retries: RetryConfig = RetryConfig()
    limits: LimitsConfig = LimitsConfig()
    default_resource: str | None = None
    resources: tuple[ResourceConfig, ...]
    clients: ClientsConfig = ClientsConfig()
    direct_keys: DirectKeysConfig = DirectKeysConfig()
    telemetry: TelemetryConfig = TelemetryConfig()

    @field_validator("resources")
    @classmethod
    def _at_least_one(cls, value: tuple[ResourceConfig, ...]) -> tuple[ResourceConfig, ...]:
        if not value:
            raise ValueError("at least one resource is needed (each with a name and an endpoint)")
        return value

    @model_validator(mode="after")
    def _check_references(self) -> GatewayConfig:
        errors: list[tuple[Loc, str]] = []
        names = [r.name for r in self.resources]
        for i, name in enumerate(names):
            if name in names[:i]:
                errors.append((("resources", i, "name"), f"duplicate resource name '{name}'"))
        if self.default_resource is not None and self.default_resource not in names:
            known = ", ".join(names)
            errors.append(
                (
                    ("default_resource",),
                    f"no resource named '{self.default_resource}' (names: {known})",
                )
            )
        for index, key in enumerate(self.api_versions):
            if key not in REQUEST_TYPES:
                # Shown by position, like any unknown key: its text might be a pasted secret.
                message = unknown_key("api_versions", index, sorted(REQUEST_TYPES))
                errors.append((("api_versions",), message))
        aliases = {alias for r in self.resources for alias in r.deployments}
        for i, r in enumerate(self.resources):
            for alias, dc in r.deployments.items():
                for j, fallback in enumerate(dc.fallbacks):
                    if fallback not in aliases:
                        loc: Loc = ("resources", i, "deployments", alias, "fallbacks", j)
                        served = ", ".join(sorted(aliases))
                        errors.append((loc, f"no resource serves '{fallback}' (aliases: {served})"))
        if errors:
            raise FieldErrors(errors)
        return self

    @property
    def default_resource_name(self) -> str:
        """Where stateful objects go when nothing else says: the configured one, else the first."""
        return self.default_resource or self.resources[0].name

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
    ) -> GatewayConfig:
        """Read a YAML (``.yaml``/``.yml``) or JSON file: ``GatewayConfig.load("gateway.yaml")``."""
        where = os.fspath(path)
        try:
            text = Path(where).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(where, "config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(where, f"cannot read config file ({reason})") from None
        data = parse_text(where, text, Path(where).suffix.lower())
        if not isinstance(data, Mapping):
            raise ConfigError(
                where, "the config must be a mapping of keys (api_version, resources...)"
            )
        return _validate(data, os.environ if environ is None else environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayConfig:
        """A one-resource config (named ``default``) from ``AZURE_OPENAI_ENDPOINT`` and friends::

        AZURE_OPENAI_ENDPOINT=https://r.openai.azure.com AZURE_ASGI_DEPLOYMENTS=gpt-4o=my-dep
        """
        env = os.environ if environ is None else environ
        endpoint = env.get("AZURE_OPENAI_ENDPOINT", "").strip()
        if not endpoint:
            raise ConfigError(
                "resources.0.endpoint",
                "environment variable AZURE_OPENAI_ENDPOINT is not set "
                "(e.g. AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com)",
            )
        deployments: dict[str, str] = {}
        for entry in _split(env.get("AZURE_ASGI_DEPLOYMENTS", "")):
            alias, sep, name = (part.strip() for part in entry.partition("="))
            if not alias or (sep and not name):
                raise ConfigError(
                    "AZURE_ASGI_DEPLOYMENTS", f"'{entry}' should be alias=deployment or a name"
                )
            deployments[alias] = name or alias
        auth = {"api_key": key} if (key := env.get("AZURE_OPENAI_API_KEY", "").strip()) else {}
        data: dict[str, Any] = {
            "resources": [
                {"name": "default", "endpoint": endpoint, "auth": auth, "deployments": deployments}
            ],
            "clients": {"api_keys": _split(env.get("AZURE_ASGI_CLIENT_KEYS", ""))},
        }
        if version := env.get("OPENAI_API_VERSION", "").strip():
            data["api_version"] = version
        # Values read from the environment are literal: no second round of ${VAR} expansion.
        return _validate(data, None)

    @classmethod
    def coerce(
        cls,
        obj: GatewayConfig | Mapping[str, Any] | str | os.PathLike[str],
        *,
        environ: Mapping[str, str] | None = None,
    ) -> GatewayConfig:
        """A config from what ``AzureGateway`` accepts: a config, a dict, or a file path."""
        if isinstance(obj, GatewayConfig):
            return obj
        if isinstance(obj, Mapping):
            return _validate(obj, os.environ if environ is None else environ)
        if isinstance(obj, str | os.PathLike):
            return cls.load(obj, environ=environ)
        raise TypeError(f"expected a GatewayConfig, a mapping or a path, not {type(obj).__name__}")


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _validate(data: Mapping[str, Any], env: Mapping[str, str] | None) -> GatewayConfig:
    if env is not None:
        unset: list[tuple[Loc, str]] = []
        data = expand(data, env, (), unset)
        if unset:
            found = [(config_path(GatewayConfig, loc, data), msg) for loc, msg in unset]
            raise ConfigError(*found[0], *found[1:])
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        error = config_error(exc, GatewayConfig, data)
    # Raised here, not in the except block: str(ValidationError) shows input values (secrets).
    raise error
