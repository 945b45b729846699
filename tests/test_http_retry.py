"""Retry policy, Retry-After parsing and the retry loop, against the Gumroad sandbox."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

import pytest
import requests

from ledger.http_retry import (
    RetryPolicy,
    describe_error,
    is_transient_error,
    parse_retry_after,
    redact_url,
    send_with_retries,
)
from ledger.sandbox.gumroad import GumroadSandbox
from tests.gumroad_fixtures import (  # noqa: F401 (fixtures register on import)
    GUMROAD_SANDBOX_TOKEN,
    gumroad_sandbox_fixture,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retry_number", "ceiling"),
    [
        pytest.param(1, 0.5, id="first"),
        pytest.param(2, 1.0, id="second"),
        pytest.param(4, 4.0, id="fourth"),
        pytest.param(8, 10.0, id="capped"),
        pytest.param(500, 10.0, id="huge-exponent"),
    ],
)
def test_backoff_stays_within_ceiling(retry_number: int, ceiling: float) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=10.0)
    rng = random.Random(7)

    delays = [policy.backoff(retry_number, rng) for _ in range(500)]

    assert min(delays) >= 0.0
    assert max(delays) <= ceiling
    assert max(delays) > ceiling * 0.9


def test_backoff_is_jittered() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=10.0)
    rng = random.Random(11)

    delays = {policy.backoff(3, rng) for _ in range(20)}

    assert len(delays) == 20


def test_retry_after_replaces_backoff() -> None:
    policy = RetryPolicy(backoff_base=0.01, backoff_cap=0.02)

    assert policy.delay(1, 3.0) == 3.0


def test_retry_after_beyond_maximum_gives_up() -> None:
    policy = RetryPolicy(max_retry_after=60.0)

    assert policy.delay(1, 61.0) is None


def test_negative_policy_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_retries must be >= 0"):
        RetryPolicy(max_retries=-1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("1", 1.0, id="seconds"),
        pytest.param(" 2.5 ", 2.5, id="fractional-seconds"),
        pytest.param("-3", 0.0, id="negative-seconds"),
        pytest.param("Sun, 01 Mar 2026 12:00:30 GMT", 30.0, id="http-date"),
        pytest.param("Sun, 01 Mar 2026 11:00:00 GMT", 0.0, id="past-date"),
        pytest.param("soon", None, id="word"),
        pytest.param("nan", None, id="nan"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_defaults_to_now() -> None:
    future = datetime.now(UTC) + timedelta(seconds=120)
    header = future.strftime("%a, %d %b %Y %H:%M:%S GMT")

    seconds = parse_retry_after(header)

    assert seconds is not None
    assert 100 < seconds <= 120


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://api.gumroad.com/v2/products?page_key=k&access_token=t",
            "https://api.gumroad.com/v2/products",
            id="query",
        ),
        pytest.param(
            "http://user:secret@127.0.0.1:8080/v2#frag",
            "http://127.0.0.1:8080/v2",
            id="userinfo-and-fragment",
        ),
    ],
)
def test_redact_url_drops_secrets(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("error", "transient", "description"),
    [
        pytest.param(
            requests.exceptions.ConnectTimeout(), True, "connect timed out", id="ct"
        ),
        pytest.param(
            requests.exceptions.ReadTimeout(), True, "read timed out", id="rt"
        ),
        pytest.param(
            requests.ConnectionError("Max retries exceeded with url: /a?token=x"),
            True,
            "connection failed or was reset",
            id="connection",
        ),
        pytest.param(
            requests.exceptions.ChunkedEncodingError(),
            True,
            "connection broken mid-response",
            id="chunked",
        ),
        pytest.param(
            requests.exceptions.SSLError(), False, "TLS handshake failed", id="tls"
        ),
        pytest.param(
            requests.exceptions.InvalidURL("bad /a?token=x"),
            False,
            "InvalidURL",
            id="invalid-url",
        ),
    ],
)
def test_error_classification(
    error: requests.RequestException, transient: bool, description: str
) -> None:
    assert is_transient_error(error) is transient
    assert describe_error(error) == description


def _sender(sandbox: GumroadSandbox) -> requests.Response:
    return requests.get(
        sandbox.url + "/v2/products",
        params={"access_token": "not-logged"},
        headers={"Authorization": f"Bearer {GUMROAD_SANDBOX_TOKEN}"},
        timeout=2,
    )


def test_loop_retries_until_success(
    gumroad_sandbox: GumroadSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    gumroad_sandbox.fail_next("html_500", times=2)
    waits: list[float] = []
    caplog.set_level(logging.WARNING, logger="ledger.http_retry")

    outcome = send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(max_retries=3, backoff_base=0.2, backoff_cap=0.2),
        label="GET /v2/products",
        sleep=waits.append,
    )

    messages = [record.getMessage() for record in caplog.records]
    assert outcome.response is not None
    assert outcome.response.status_code == 200
    assert outcome.attempts == 3
    assert len(waits) == 2
    assert all(0.0 <= wait <= 0.2 for wait in waits)
    assert "attempt 1 of 4 failed (HTTP 500); retrying in" in messages[0]
    assert "attempt 2 of 4 failed (HTTP 500); retrying in" in messages[1]
    assert all("access_token" not in message for message in messages)


def test_loop_returns_last_failure(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("html_530", times=5)

    outcome = send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(max_retries=2),
        label="GET /v2/products",
        sleep=lambda _: None,
    )

    assert outcome.response is not None
    assert outcome.response.status_code == 530
    assert outcome.attempts == 3


def test_loop_uses_retry_after(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.retry_after = 7
    gumroad_sandbox.fail_next("rate_limited")
    waits: list[float] = []

    send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(backoff_base=0.01, backoff_cap=0.01),
        label="GET /v2/products",
        sleep=waits.append,
    )

    assert waits == [7.0]


def test_loop_stops_on_long_retry_after(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.retry_after = 3600
    gumroad_sandbox.fail_next("rate_limited")
    waits: list[float] = []

    outcome = send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(max_retry_after=60),
        label="GET /v2/products",
        sleep=waits.append,
    )

    assert outcome.attempts == 1
    assert waits == []


def test_loop_retries_network_errors(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("reset")

    outcome = send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(max_retries=1),
        label="GET /v2/products",
        sleep=lambda _: None,
    )

    assert outcome.error is None
    assert outcome.attempts == 2


def test_loop_can_skip_network_retries(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("reset")

    outcome = send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(max_retries=3),
        label="POST /v1/pages",
        retry_errors=False,
        sleep=lambda _: None,
    )

    assert isinstance(outcome.error, requests.ConnectionError)
    assert outcome.attempts == 1


def test_loop_does_not_retry_client_errors(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("bad_request", times=5)

    outcome = send_with_retries(
        lambda: _sender(gumroad_sandbox),
        policy=RetryPolicy(max_retries=3),
        label="GET /v2/products",
        sleep=lambda _: None,
    )

    assert outcome.response is not None
    assert outcome.response.status_code == 400
    assert outcome.attempts == 1
