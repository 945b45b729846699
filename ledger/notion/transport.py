"""Transport for the Notion API: pacing, retries, and errors that name the fix.

Reads and idempotent updates are retried on rate limits, server errors and network
failures. Creates are retried only when Notion rejected them (429, 529) or the request
never left this machine. Notion has no idempotency key, so a create that timed out
may have happened, and the caller must look its key up before creating again. A rate
limit whose Retry-After exceeds `max_retry_after` is raised at once, because a request
sent before that time would only be rejected again.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.exceptions

from ledger.errors import NotionConfigError, NotionError
from ledger.http_retry import describe_error, parse_retry_after

logger = logging.getLogger(__name__)

NOTION_VERSION = "2025-09-03"
REJECTED_STATUSES = frozenset({429, 529})  # Notion refused the request; safe to resend


class AmbiguousWriteError(NotionError):
    """A create whose outcome is unknown: it timed out or failed after it was sent.

    The object may exist in Notion. Look it up by its key before creating it again.
    """

    ambiguous = True


class RequestKind(enum.Enum):
    """Retry class of a request: which failures may be sent again."""

    READ = "read"  # GET and queries
    UPDATE = "update"  # idempotent writes: page properties, trash, schema additions
    CREATE = "create"  # not idempotent: a repeat makes a second object


@dataclass(frozen=True)
class Subject:
    """The Notion object a request is about, for error messages."""

    kind: str  # "database", "data source" or "page"
    object_id: str


@dataclass
class _Outcome:
    """One attempt: the response body, or the error and whether to send again."""

    payload: dict[str, Any] = field(default_factory=dict)
    error: NotionError | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds, from the Retry-After header


@dataclass
class ClientStats:
    """Counters since the client was created; times are in seconds."""

    requests: int = 0  # HTTP attempts sent, retries included
    writes: int = 0  # attempts that create or change something
    retries: int = 0
    paced_seconds: float = 0.0  # waited to stay under requests_per_second
    retry_seconds: float = 0.0  # waited before retries


class RateLimiter:
    """Space calls to `wait` at least 1/rate seconds apart, across threads."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(
                f"requests_per_second must be positive or None, not {rate}"
            )

        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Sleep until the next free slot and return the seconds slept."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_slot)
            self._next_slot = start + self._interval

        delay = start - now
        if delay > 0:
            time.sleep(delay)
        return delay


class Transport:
    """Send Notion requests on a requests.Session, paced and retried by kind."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        requests_per_second: float | None,
        max_retries: int,
        max_retry_after: float,
        backoff_base: float,
        session: requests.Session | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backoff_base = backoff_base
        self.stats = ClientStats()
        self._limiter = RateLimiter(requests_per_second)
        self._token = token
        self._session = session or requests.Session()
        # Sent per request rather than stored on the session, so a session passed in
        # by the caller never carries the token to another host.
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Notion-Version": NOTION_VERSION,
            "Content-Type": "application/json",
        }

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        subject: Subject,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one API request, retrying as `kind` allows; return the JSON object.

        Raises NotionError (or a subclass) when Notion rejects the request or the
        retries run out, and ValueError when `body` contains NaN or infinity.
        """
        data = _encode(body)
        attempt = 0
        while True:
            attempt += 1
            self.stats.paced_seconds += self._limiter.wait()
            outcome = self._attempt(method, path, data, kind, subject)
            if outcome.error is None:
                return outcome.payload

            if not outcome.retryable or attempt > self.max_retries:
                raise outcome.error
            retry_after = outcome.retry_after
            if retry_after is not None and retry_after > self.max_retry_after:
                raise _not_resent(outcome.error, retry_after, self.max_retry_after)

            wait = self._retry_delay(attempt, retry_after)
            logger.warning(
                "%s; retry %d of %d in %.2f s",
                outcome.error,
                attempt,
                self.max_retries,
                wait,
            )
            self.stats.retries += 1
            self.stats.retry_seconds += wait
            time.sleep(wait)

    def _attempt(
        self,
        method: str,
        path: str,
        data: bytes | None,
        kind: RequestKind,
        subject: Subject,
    ) -> _Outcome:
        self.stats.requests += 1
        if kind is not RequestKind.READ:
            self.stats.writes += 1

        try:
            response = self._session.request(
                method,
                self.base_url + path,
                data=data,
                headers=self._headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            return self._network_failure(exc, method, path, kind)

        with response:
            return self._read_response(response, method, path, kind, subject)

    def _network_failure(
        self, exc: requests.RequestException, method: str, path: str, kind: RequestKind
    ) -> _Outcome:
        what = describe_error(exc)
        url = self.base_url + path
        if _never_sent(exc):
            error = NotionError(
                f"could not connect to Notion at {self.base_url} ({what})",
                url=url,
                transient=True,
            )
            return _Outcome(error=error, retryable=True)

        if kind is RequestKind.CREATE:
            error = AmbiguousWriteError(
                f"Notion did not confirm {method} {path} ({what}); the object may have "
                "been created: look it up before creating it again",
                url=url,
                transient=True,
            )
            return _Outcome(error=error)

        error = NotionError(f"{method} {path} failed: {what}", url=url, transient=True)
        return _Outcome(error=error, retryable=True)

    def _read_response(
        self,
        response: requests.Response,
        method: str,
        path: str,
        kind: RequestKind,
        subject: Subject,
    ) -> _Outcome:
        status = response.status_code
        payload = _json_object(response)
        if 200 <= status < 300 and payload is not None:
            return _Outcome(payload=payload)

        error = self._error_for(response, payload, method, path, subject, kind)
        if status in REJECTED_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return _Outcome(error=error, retryable=True, retry_after=retry_after)

        server_failed = _is_server_failure(status, payload)
        conflict = status == 409 and error.code == "conflict_error"
        retryable = kind is not RequestKind.CREATE and (server_failed or conflict)
        return _Outcome(error=error, retryable=retryable)

    def _error_for(
        self,
        response: requests.Response,
        payload: dict[str, Any] | None,
        method: str,
        path: str,
        subject: Subject,
        kind: RequestKind,
    ) -> NotionError:
        status = response.status_code
        body = payload if payload and payload.get("object") == "error" else {}
        is_error_object = bool(body)
        code = body.get("code")
        fields: dict[str, Any] = {
            "status": status,
            "code": code,
            "request_id": body.get("request_id")
            or response.headers.get("x-notion-request-id"),
            "url": self.base_url + path,
        }
        notion_message = self._scrub(str(body.get("message", "")))

        if status == 401:
            return NotionConfigError(
                "NOTION_TOKEN was rejected by Notion (HTTP 401 unauthorized): copy the "
                "integration's Internal Integration Secret again and check that the "
                "integration still exists",
                **fields,
            )
        if status == 403 and code == "restricted_resource":
            return NotionConfigError(
                f"the Notion integration lacks the capability for {method} {path} on "
                f"{subject.kind} {subject.object_id} ({notion_message}): in the "
                "integration's settings enable Read content, Update content and "
                "Insert content",
                **fields,
            )
        if status == 404 and code == "object_not_found":
            return NotionConfigError(_not_shared_message(subject), **fields)

        if is_error_object:
            message = f"Notion rejected {method} {path} (HTTP {status} {code}): "
            message += notion_message
        else:
            message = f"{_describe_unexpected(response)} to {method} {path}"

        transient = status in REJECTED_STATUSES or _is_server_failure(status, payload)
        if kind is RequestKind.CREATE and transient and status not in REJECTED_STATUSES:
            return AmbiguousWriteError(
                f"{message}; the object may have been created: look it up before "
                "creating it again",
                transient=True,
                **fields,
            )
        return NotionError(message, transient=transient or status == 409, **fields)

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # A little jitter on top of Retry-After spreads out several clients.
            return retry_after + random.uniform(0, min(0.1 * retry_after, 1.0))

        ceiling = min(self.max_retry_after, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "[NOTION_TOKEN]") if self._token else text


def _not_resent(error: NotionError, retry_after: float, limit: float) -> NotionError:
    """Say in a rate-limit error why the request was not sent again."""
    error.args = (
        f"{error}; Notion asked to wait {retry_after:g} s before a retry, longer "
        f"than the {limit:g} s this client waits, so the request was not sent "
        "again: try again later",
    )
    return error


def _is_server_failure(status: int, payload: dict[str, Any] | None) -> bool:
    """Return whether Notion or its edge failed: any 5xx, or a 2xx that is not JSON.

    A 4xx is the request's fault even as an HTML page, so it is never retried.
    """
    return status >= 500 or (status < 300 and payload is None)


def _not_shared_message(subject: Subject) -> str:
    where = "its database" if subject.kind == "data source" else "it"
    return (
        f"{subject.kind} {subject.object_id} was not found or is not shared with the "
        f"integration: open {where} in Notion, choose ••• > Connections, and add the "
        "integration"
    )


def _describe_unexpected(response: requests.Response) -> str:
    """Describe a body that is not a Notion object without quoting it."""
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or response.text.lstrip().startswith("<"):
        return f"Notion returned an HTML page (HTTP {response.status_code})"
    return f"Notion returned a response that is not JSON (HTTP {response.status_code})"


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _encode(body: dict[str, Any] | None) -> bytes | None:
    if body is None:
        return None
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except ValueError as exc:
        raise ValueError(
            f"request body for Notion contains NaN or infinity ({exc}); "
            "pass numbers through ledger.notion.text.check_finite"
        ) from None


def _never_sent(exc: requests.RequestException) -> bool:
    """Return whether the request failed before reaching the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
