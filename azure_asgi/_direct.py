"""Direct keys: a caller naming its own Azure endpoint and bringing its own credential.

Bifrost-compatible (``x-bf-azure-endpoint``). Off by default. The caller's credential goes only
to the endpoint the caller named, and only when that endpoint's origin is allow-listed; a
configured credential is never used for such a request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from ._callers import Callers
from ._catalog import Resource, Target
from ._config import DirectKeysConfig, family_of
from ._errors import GatewayError
from ._identity import ApiKeyAuth, BearerTokenAuth, UpstreamAuth
from ._inbound import Inbound

__all__ = ["DirectKeys", "endpoint_origin"]

# RFC 1123 labels: 1-63 letters, digits or hyphens, a hyphen neither first nor last.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_HOST = 253
_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_origin(endpoint: str) -> str | None:
    """``scheme://host[:port]`` of an endpoint URL, or None if it is not a plain http(s) origin."""
    try:
        parts = urlsplit(endpoint.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return None
    if parts.path not in ("", "/"):
        return None
    host = _host(parts.hostname.lower(), bracketed=parts.netloc.startswith("["))
    if host is None:
        return None
    if port == _DEFAULT_PORTS[parts.scheme]:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _host(host: str, *, bracketed: bool) -> str | None:
    """The host in the one spelling ``allowed_endpoints`` patterns are matched against, or None.

    Only what every resolver and HTTP client reads the same way passes: DNS names of valid
    labels, canonical dotted-quad IPv4, and bracketed IPv6 (compressed). So a shell-style ``*``
    can match nothing but whole labels and dots: no empty label (``https://.openai.azure.com``),
    no backslash, percent-escape or zone id, no legacy number that a resolver reads as another
    address (``0x7f000001`` is 127.0.0.1 to inet_aton).
    """
    if bracketed:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        return None if address.scope_id is not None else f"[{address.compressed}]"
    if len(host) > _MAX_HOST or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return None
    # A name's last label is never all digits (RFC 3696 section 2): such a host is an address.
    if not host.rsplit(".", 1)[-1].isdigit() and not _legacy_ipv4(host):
        return host
    try:
        return str(ipaddress.IPv4Address(host))  # only the canonical dotted quad
    except ValueError:
        return None


def _legacy_ipv4(host: str) -> bool:
    """Whether a resolver would read ``host`` as an IPv4 address (``0x7f.1``, ``2130706433``)."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


class DirectKeys:
    def __init__(self, config: DirectKeysConfig, callers: Callers) -> None:
        self._enabled = config.enabled
        self._patterns = tuple(p.lower() for p in config.allowed_endpoints)
        self._callers = callers

    def targets(self, call: Inbound, headers: Mapping[bytes, bytes]) -> list[Target] | None:
        """The one target a direct-key request goes to, or None for an ordinary request."""
        endpoint = call.endpoint
        if endpoint is None:
            return None
        if not self._enabled:
            raise GatewayError(
                400,
                "Direct keys are disabled on this gateway: remove the x-bf-azure-endpoint header "
                "(or the body field 'endpoint'), or set direct_keys.enabled: true in its config.",
                code="direct_keys_disabled",
            )
        origin = endpoint_origin(endpoint)
        if origin is None or not any(fnmatchcase(origin, p) for p in self._patterns):
            raise GatewayError(
                400,
                "The endpoint named by this request is not allowed: it must be an origin "
                "(scheme://host[:port]) matching direct_keys.allowed_endpoints.",
                code="endpoint_not_allowed",
                param="endpoint",
            )
        if call.model is None:
            raise GatewayError(
                400,
                "Direct keys serve model operations (chat, embeddings, ...) only.",
                code="direct_keys_unsupported",
            )
        deployment = call.model[6:] if call.model.startswith("azure/") else call.model
        credential = self._caller_credential(headers)
        resource = Resource("direct", origin, credential, auth_method="direct_key", direct=True)
        return [Target(resource, deployment, deployment, family_of(deployment))]

    def _caller_credential(self, headers: Mapping[bytes, bytes]) -> UpstreamAuth:
        key = headers.get(b"api-key")
        # A gateway client key is for the gateway only; it is never handed to any endpoint.
        if key and not self._callers.is_client_key(key.strip()):
            return ApiKeyAuth(key.strip().decode("latin-1"))
        auth = headers.get(b"authorization")
        if auth and auth[:7].lower() == b"bearer ":
            token = auth[7:].strip()
            if token and not self._callers.is_client_key(token):
                return BearerTokenAuth(token.decode("latin-1"))
        raise GatewayError(
            401,
            "A direct-key request needs your own Azure credential in `api-key` or "
            "`Authorization: Bearer`; send the gateway key in `x-gateway-key`.",
            code="direct_key_missing",
        )
