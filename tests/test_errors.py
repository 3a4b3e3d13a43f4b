"""The one error envelope: its shape, the error type a status gets, and the fallback that keeps
the shape whatever an upstream put in its error object."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from azure_asgi import GatewayError
from azure_asgi._errors import error_body, timeout_error, too_large


def deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_the_envelope_keeps_the_error_whole_and_names_its_event() -> None:
    error = {"code": "content_filter", "message": "m", "innererror": {"code": "RAI"}}
    body = json.loads(
        error_body(error, 400, is_gateway_error=False, extra_fields={"provider": "azure", "n": 1})
    )
    assert body.pop("event_id") and body == {
        "error": error,
        "status_code": 400,
        "is_gateway_error": False,
        "extra_fields": {"provider": "azure", "n": 1},
    }


def test_a_given_event_id_is_used_else_a_random_one() -> None:
    given = error_body({}, 500, is_gateway_error=True, extra_fields={}, event_id="trace-1")
    assert json.loads(given)["event_id"] == "trace-1"
    made = [
        json.loads(error_body({}, 500, is_gateway_error=True, extra_fields={}))["event_id"]
        for _ in range(2)
    ]
    assert all(re.fullmatch(r"[0-9a-f]{16}", e) for e in made) and made[0] != made[1]


@pytest.mark.parametrize(
    ("bad", "kind"), [(deep(100_000), "nested too deeply"), (object(), "not JSON")]
)
def test_an_error_object_that_cannot_be_written_still_gives_the_one_shape(
    bad: Any, kind: str
) -> None:
    error = {"message": "x" * 600, "type": "server_error", "code": 500, "detail": bad}
    raw = error_body(
        error, 502, is_gateway_error=False, extra_fields={"provider": "azure", "odd": bad}
    )
    body = json.loads(raw)
    assert body["error"] == {
        "message": "x" * 500,
        "type": "server_error",
        "code": "500",
        "param": None,
    }, kind
    assert body["extra_fields"] == {"provider": "azure"}
    assert (body["status_code"], body["is_gateway_error"]) == (502, False)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (408, "timeout_error"),
        (429, "rate_limit_error"),
        (418, "invalid_request_error"),  # unlisted 4xx
        (504, "timeout_error"),
        (507, "api_error"),  # unlisted 5xx
    ],
)
def test_the_error_type_follows_the_status(status: int, expected: str) -> None:
    error = GatewayError(status, "m", code="c", param="p")
    assert error.error_object() == {"message": "m", "type": expected, "code": "c", "param": "p"}
    assert GatewayError(status, "m", type="own_type").type == "own_type"


def test_too_large_and_timeout_name_the_setting_to_change() -> None:
    big = too_large(1024, "limits.max_upload_bytes")
    assert (big.status, big.code) == (413, "request_too_large")
    assert "limit of 1024 bytes (raise limits.max_upload_bytes" in big.message
    late = timeout_error(0.5)
    assert (late.status, late.code, late.type) == (504, "timeout", "timeout_error")
    assert "its 0.5 s deadline (timeout_s" in late.message
