"""Retries for idempotent HTTP requests: which failures to retry and how long to wait.

The helpers are independent of any one API, so both the Gumroad and the Notion clients
can use them. Log lines name the request by a caller-chosen label and describe network
errors by kind, because the text of a requests exception contains the full URL with its
query string.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import requests

logger = logging.getLogger(__name__)

# 408 and 429 request a later retry, 500/502/503/504 are the usual server and gateway
# failures, and Cloudflare returns 520-530 for origin and maintenance errors (Notion
# also uses 529 for overload).
TRANSIENT_STATUSES: frozenset[int] = frozenset(
    {408, 429, 500, 502, 503, 504, *range(520, 531)}
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry limits and backoff settings, with every duration in seconds."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # A Retry-After longer than this means the server is down for now, so give up.
    max_retry_after: float = 300.0
    statuses: frozenset[int] = TRANSIENT_STATUSES

    def __post_init__(self) -> None:
        for name in ("max_retries", "backoff_base", "backoff_cap", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Return a full-jitter delay for the given retry (1 for the first retry).

        The delay is uniform between 0 and min(backoff_cap, backoff_base * 2**(n - 1)).
        """
        exponent = min(max(retry_number - 1, 0), 62)
        ceiling = min(self.backoff_cap, self.backoff_base * 2**exponent)
        return (rng or random).uniform(0.0, ceiling)

    def delay(
        self,
        retry_number: int,
        retry_after: float | None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Return the wait before a retry, or None when Retry-After exceeds the maximum.

        A Retry-After value from the server replaces the jittered backoff, because
        retrying earlier than the server asked only earns another rejection.
        """
        if retry_after is None:
            return self.backoff(retry_number, rng)
        if retry_after > self.max_retry_after:
            return None
        return retry_after

    def is_transient_status(self, status: int) -> bool:
        """Return whether an HTTP status is worth retrying under this policy."""
        return status in self.statuses


@dataclass
class RetryOutcome:
    """The last attempt of a request: its response, or the network error it raised."""

    response: requests.Response | None
    error: requests.RequestException | None
    attempts: int


def is_transient_error(error: BaseException) -> bool:
    """Return whether a requests exception is a network failure worth retrying.

    Timeouts, refused or reset connections and bodies cut off mid-transfer qualify.
    TLS errors do not, because a bad certificate stays bad on the next attempt.
    """
    if isinstance(error, requests.exceptions.SSLError):
        return False
    transient = (
        requests.Timeout,
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
    )
    return isinstance(error, transient)


def describe_error(error: BaseException) -> str:
    """Describe a network error by kind, without the URL that requests puts in str()."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connect timed out"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "connection broken mid-response"
    if isinstance(error, requests.ConnectionError):
        return "connection failed or was reset"
    return type(error).__name__


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Parse a Retry-After header as seconds to wait; None when absent or invalid.

    Both forms of RFC 9110 are accepted: a number of seconds and an HTTP date. A date
    in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()

    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, now)

    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(seconds, 0.0)


def _seconds_until_http_date(text: str, now: datetime | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)


def redact_url(url: str) -> str:
    """Return the URL without user info, query string and fragment, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def send_with_retries(
    send: Callable[[], requests.Response],
    *,
    policy: RetryPolicy,
    label: str,
    retry_errors: bool = True,
    log: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RetryOutcome:
    """Call `send` until it succeeds, fails for good, or the retries run out.

    `send` performs one request. A response whose status is in `policy.statuses` is
    retried, and so is a transient network error unless `retry_errors` is false. Pass
    false for requests that are not idempotent, because a create that timed out may
    still have happened. The outcome contains the last response or error, and other
    exceptions propagate. `label` names the request in log lines, so it must contain
    no secret and no query string: "GET /v2/products" is a good label.
    """
    log = log or logger
    total = policy.max_retries + 1
    attempt = 0

    while True:
        attempt += 1
        outcome = _attempt(send, attempt)

        if not _should_retry(outcome, policy, retry_errors) or attempt >= total:
            return outcome

        wait = policy.delay(attempt, _retry_after_of(outcome))
        if wait is None:
            log.warning(
                "%s: attempt %d of %d failed (%s) and Retry-After exceeds %.0f s; "
                "giving up",
                label,
                attempt,
                total,
                _describe_failure(outcome),
                policy.max_retry_after,
            )
            return outcome

        log.warning(
            "%s: attempt %d of %d failed (%s); retrying in %.2f s",
            label,
            attempt,
            total,
            _describe_failure(outcome),
            wait,
        )
        if outcome.response is not None:
            outcome.response.close()
        sleep(wait)


def _attempt(send: Callable[[], requests.Response], attempt: int) -> RetryOutcome:
    try:
        return RetryOutcome(response=send(), error=None, attempts=attempt)
    except requests.RequestException as error:
        return RetryOutcome(response=None, error=error, attempts=attempt)


def _should_retry(
    outcome: RetryOutcome, policy: RetryPolicy, retry_errors: bool
) -> bool:
    if outcome.error is not None:
        return retry_errors and is_transient_error(outcome.error)
    assert outcome.response is not None
    return policy.is_transient_status(outcome.response.status_code)


def _retry_after_of(outcome: RetryOutcome) -> float | None:
    if outcome.response is None:
        return None
    return parse_retry_after(outcome.response.headers.get("Retry-After"))


def _describe_failure(outcome: RetryOutcome) -> str:
    if outcome.error is not None:
        return describe_error(outcome.error)
    assert outcome.response is not None
    return f"HTTP {outcome.response.status_code}"
