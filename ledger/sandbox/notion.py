"""A local stand-in for the Notion API (Notion-Version 2025-09-03) on 127.0.0.1.

The server checks the token and version headers, validates bodies like the real API,
keeps databases, data sources and pages in memory, and can rate-limit and inject
faults. Test helpers build state directly and read it back for assertions.

    with NotionSandbox(rate_limit=20) as sandbox:
        parent = sandbox.create_parent_page()
        client = NotionClient(sandbox.url, sandbox.token)
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ledger.notion.ids import canonical_id
from ledger.sandbox import notion_render as render
from ledger.sandbox.http_server import (
    LocalHTTPServer,
    Reply,
    SandboxRequestHandler,
    json_reply,
)
from ledger.sandbox.notion_api import dispatch
from ledger.sandbox.notion_schema import ApiError, schema_property
from ledger.sandbox.notion_state import Workspace, parse_created_time

logger = logging.getLogger(__name__)

NOTION_VERSION = "2025-09-03"
FAULT_KINDS = frozenset(
    {
        "rate_limited",
        "overloaded",
        "html_502",
        "json_503",
        "json_500",
        "conflict",
        "timeout_after_commit",
        "timeout_before",
        "reset",
    }
)
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center>"
    b"<h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
_JSON_FAULTS = {
    "rate_limited": (
        429,
        "rate_limited",
        "You have been rate limited. Please try again in a few minutes.",
    ),
    "overloaded": (
        529,
        "service_overload",
        "Notion is overloaded. Please try again later.",
    ),
    "json_503": (
        503,
        "service_unavailable",
        "Notion is unavailable, please try again later.",
    ),
    "json_500": (500, "internal_server_error", "Unexpected error occurred."),
    "conflict": (
        409,
        "conflict_error",
        "Conflict occurred while saving. Please try again.",
    ),
}


@dataclass
class RequestRecord:
    """One request the sandbox received, for assertions."""

    method: str
    path: str
    body: Any  # parsed JSON, or None when absent or not JSON
    time: float  # time.monotonic() on arrival
    request_id: str
    status: int | None = None  # None when the connection was closed without a reply
    fault: str | None = None  # the injected fault kind, if any


@dataclass
class _Fault:
    kind: str
    times: int
    path_contains: str | None
    method: str | None
    delay: float

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in path


class NotionSandbox:
    """Notion API stand-in served from a background thread; see the module docstring."""

    def __init__(
        self,
        *,
        token: str = "sandbox-notion-token",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = None,
        burst: int = 3,
        retry_after: int = 1,
        query_result_limit: int = 10_000,
        stall_seconds: float = 2.0,
    ) -> None:
        self.token = token
        self.rate_limit = rate_limit
        self.burst = burst
        self.retry_after = retry_after
        self.stall_seconds = stall_seconds  # default delay of the timeout faults
        self.workspace = Workspace(query_result_limit=query_result_limit)
        self.requests: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._refilled_at = time.monotonic()
        self._server = LocalHTTPServer(
            self._reply, host=host, port=port, name="notion sandbox"
        )

    @property
    def url(self) -> str:
        """Base URL to give NotionClient, such as http://127.0.0.1:54321."""
        return self._server.url

    def start(self) -> None:
        """Start serving on the configured host and port."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving; replies still waiting on a fault's delay are cut short."""
        self._server.stop()

    def __enter__(self) -> NotionSandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Fault injection and request log

    def fail_next(
        self,
        kind: str,
        *,
        times: int = 1,
        path_contains: str | None = None,
        method: str | None = None,
        delay: float | None = None,
    ) -> None:
        """Make the next `times` matching requests fail with `kind` (see FAULT_KINDS).

        "timeout_after_commit" performs the request and then waits `delay` seconds
        (default stall_seconds) before it replies, so a client with a shorter timeout
        gives up on a write that happened. "timeout_before" waits and then closes the
        connection without doing anything; "reset" closes it at once.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}"
            )

        fault = _Fault(kind, times, path_contains, method, delay or self.stall_seconds)
        with self._lock:
            self._faults.append(fault)

    def write_count(self, *, succeeded_only: bool = False) -> int:
        """Count page writes received: POST /v1/pages and PATCH /v1/pages/{id}."""
        return sum(
            1
            for record in self.requests
            if _is_page_write(record) and (not succeeded_only or record.status == 200)
        )

    def schema_write_count(self) -> int:
        """Count database and data source creations and updates received."""
        return sum(1 for record in self.requests if _is_schema_write(record))

    def clear_requests(self) -> None:
        """Forget the request log, e.g. after setting up state through the API."""
        with self._lock:
            self.requests.clear()

    # Building and reading state directly, bypassing HTTP, auth and rate limits

    def create_parent_page(self, title: str = "Sales") -> str:
        """Create a shared page that databases can be created under; return its id."""
        with self.workspace.lock:
            return self.workspace.new_page(title).id

    def create_database(
        self,
        parent_page_id: str,
        title: str,
        properties: dict[str, Any],
        *,
        shared: bool = True,
    ) -> tuple[str, str]:
        """Create a database from a schema; return (database_id, data_source_id)."""
        with self.workspace.lock:
            parent = self.workspace.pages[_id(parent_page_id)]
            database, source = self._checked(
                self.workspace.new_database, parent.id, title, properties
            )
            if not shared:
                self.workspace.unshared.add(database.id)
            return database.id, source.id

    def add_data_source(
        self, database_id: str, properties: dict[str, Any], *, name: str = "Table 2"
    ) -> str:
        """Add a second (or further) data source to a database; return its id."""
        with self.workspace.lock:
            database = self.workspace.databases[_id(database_id)]
            source = self._checked(
                self.workspace.new_data_source, database, name, properties, "properties"
            )
            return source.id

    def unshare(self, object_id: str) -> None:
        """Hide a page or database (a data source hides its database) from the API."""
        with self.workspace.lock:
            self.workspace.unshared.add(self._share_target(object_id))

    def share(self, object_id: str) -> None:
        """Undo unshare, or share a database created with shared=False."""
        with self.workspace.lock:
            self.workspace.unshared.discard(self._share_target(object_id))

    def add_page(
        self,
        data_source_id: str,
        properties: dict[str, Any],
        *,
        created_time: datetime | str | None = None,
    ) -> str:
        """Insert a row as the API would store it; return its id.

        Raises ValueError with the API's message when `properties` is invalid.
        """
        with self.workspace.lock:
            source = self.workspace.data_sources[_id(data_source_id)]
            moment = parse_created_time(created_time)
            return self._checked(
                self.workspace.new_row, source, properties, created_time=moment
            ).id

    def pages(
        self, data_source_id: str, *, include_trashed: bool = False
    ) -> list[dict[str, Any]]:
        """Return the rows of a data source as page objects, oldest first."""
        with self.workspace.lock:
            source = self.workspace.data_sources[_id(data_source_id)]
            rows = self.workspace.rows(source, include_trashed=include_trashed)
            return [render.page(self.workspace, row) for row in rows]

    def page(self, page_id: str) -> dict[str, Any]:
        """Return one page object, trashed or not."""
        with self.workspace.lock:
            return render.page(self.workspace, self.workspace.pages[_id(page_id)])

    def data_source(self, data_source_id: str) -> dict[str, Any]:
        """Return a data source object with its current schema."""
        with self.workspace.lock:
            source = self.workspace.data_sources[_id(data_source_id)]
            return render.data_source(self.workspace, source)

    def trash_page(self, page_id: str) -> None:
        """Move a page to the trash, as a user deleting a row in Notion does."""
        with self.workspace.lock:
            self.workspace.pages[_id(page_id)].in_trash = True

    def delete_database(self, database_id: str) -> None:
        """Delete a database, its data sources and their rows for good."""
        with self.workspace.lock:
            database = self.workspace.databases.pop(_id(database_id))
            for source_id in database.data_source_ids:
                source = self.workspace.data_sources.pop(source_id)
                for page_id in source.page_ids:
                    del self.workspace.pages[page_id]

    def set_property_type(self, data_source_id: str, name: str, type: str) -> None:
        """Change a property's type, as a user can in Notion; its values are cleared."""
        with self.workspace.lock:
            source = self.workspace.data_sources[_id(data_source_id)]
            old = self._property(source, name)
            new = self._checked(schema_property, name, {type: {}}, "properties")
            self._checked(self.workspace.replace_property, source, old, new)

    def remove_property(self, data_source_id: str, name: str) -> None:
        """Delete a property and its values from a data source."""
        with self.workspace.lock:
            source = self.workspace.data_sources[_id(data_source_id)]
            self._checked(
                self.workspace.drop_property, source, self._property(source, name)
            )

    def _property(self, source: Any, name: str) -> dict[str, Any]:
        prop = self.workspace.find_property(source, name)
        if prop is None:
            raise KeyError(f"data source {source.id} has no property {name!r}")
        return prop

    def _share_target(self, object_id: str) -> str:
        canonical = _id(object_id)
        source = self.workspace.data_sources.get(canonical)
        return source.database_id if source else canonical

    @staticmethod
    def _checked(function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ApiError as error:
            raise ValueError(error.message) from None

    # HTTP

    def _reply(self, handler: SandboxRequestHandler) -> Reply:
        record = RequestRecord(
            method=handler.command,
            path=urlsplit(handler.path).path,
            body=_json_or_none(handler.body),
            time=time.monotonic(),
            request_id=str(uuid.uuid4()),
        )
        with self._lock:
            self.requests.append(record)

        reply = self._respond(handler, record)
        reply.headers["x-notion-request-id"] = record.request_id
        record.status = None if reply.reset else reply.status
        return reply

    def _respond(self, handler: SandboxRequestHandler, record: RequestRecord) -> Reply:
        fault = self._take_fault(record.method, record.path)
        if fault is not None:
            record.fault = fault.kind
            logger.debug(
                "injecting %s into %s %s", fault.kind, record.method, record.path
            )
            if fault.kind != "timeout_after_commit":
                return self._fault_reply(fault, record.request_id)

        if not self._take_rate_token():
            return self._fault_reply(
                _Fault("rate_limited", 1, None, None, 0), record.request_id
            )

        reply = self._serve_api(handler, record)
        if fault is not None:
            reply.delay = fault.delay
        return reply

    def _serve_api(
        self, handler: SandboxRequestHandler, record: RequestRecord
    ) -> Reply:
        try:
            self._check_headers(handler)
            body = _parse_body(handler.body)
            with self.workspace.lock:
                result = dispatch(self.workspace, record.method, record.path, body)
        except ApiError as error:
            return _error_reply(
                error.status, error.code, error.message, record.request_id
            )
        return json_reply(200, result)

    def _check_headers(self, handler: SandboxRequestHandler) -> None:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "unauthorized", "API token is invalid.")

        version = handler.headers.get("Notion-Version")
        if version is None:
            raise ApiError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should "
                "be defined, instead was `undefined`.",
            )
        if version != NOTION_VERSION:
            raise ApiError(
                400,
                "validation_error",
                f"The sandbox implements Notion-Version {NOTION_VERSION} only, "
                f"not {version}.",
            )

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _take_rate_token(self) -> bool:
        if self.rate_limit is None:
            return True

        with self._lock:
            now = time.monotonic()
            elapsed = now - self._refilled_at
            self._tokens = min(
                float(self.burst), self._tokens + elapsed * self.rate_limit
            )
            self._refilled_at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def _fault_reply(self, fault: _Fault, request_id: str) -> Reply:
        if fault.kind == "html_502":
            return Reply(502, HTML_502, "text/html")
        if fault.kind == "reset":
            return Reply(0, reset=True)
        if fault.kind == "timeout_before":
            return Reply(0, delay=fault.delay, reset=True)

        status, code, message = _JSON_FAULTS[fault.kind]
        reply = _error_reply(status, code, message, request_id)
        if status in (429, 529):
            reply.headers["Retry-After"] = str(self.retry_after)
        return reply


def _error_reply(status: int, code: str, message: str, request_id: str) -> Reply:
    body = {
        "object": "error",
        "status": status,
        "code": code,
        "message": message,
        "request_id": request_id,
    }
    return json_reply(status, body)


def _parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}

    try:
        # NaN and Infinity are not JSON, whatever Python's parser accepts by default.
        body = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None

    if not isinstance(body, dict):
        raise ApiError(
            400, "validation_error", "body failed validation: body should be an object."
        )
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _id(value: str) -> str:
    canonical = canonical_id(value)
    if canonical is None:
        raise KeyError(f"not a Notion id: {value!r}")
    return canonical


def _is_page_write(record: RequestRecord) -> bool:
    if record.method == "POST":
        return record.path == "/v1/pages"
    return record.method == "PATCH" and record.path.startswith("/v1/pages/")


def _is_schema_write(record: RequestRecord) -> bool:
    creates = record.method == "POST" and record.path in (
        "/v1/databases",
        "/v1/data_sources",
    )
    updates = record.method == "PATCH" and record.path.startswith(
        ("/v1/databases/", "/v1/data_sources/")
    )
    return creates or updates
