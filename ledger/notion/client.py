"""Notion API client (Notion-Version 2025-09-03): databases, data sources and pages.

Pacing, retries and error messages live in ledger.notion.transport. The docstring of
each method states whether it is retried.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import requests

from ledger.errors import NotionConfigError, NotionError
from ledger.notion.transport import (
    NOTION_VERSION,
    AmbiguousWriteError,
    ClientStats,
    RequestKind,
    Subject,
    Transport,
)

__all__ = [
    "NOTION_VERSION",
    "AmbiguousWriteError",
    "ClientStats",
    "NotionClient",
    "QueryResult",
    "is_trashed",
]

logger = logging.getLogger(__name__)

CREATED_ASCENDING = [{"timestamp": "created_time", "direction": "ascending"}]


class QueryResult(Iterator[dict[str, Any]]):
    """Pages of one data-source query, fetched lazily 100 at a time via next_cursor.

    Notion ends a query after 10,000 rows. When it does, `incomplete` becomes true once
    iteration reaches the end. To read further, query again sorted by created_time
    ascending with a created_time on_or_after filter from `last_created_time`, and drop
    ids already seen; NotionClient.query_all does exactly that.
    """

    def __init__(self, fetch: Callable[[str | None], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._buffer: deque[dict[str, Any]] = deque()
        self._cursor: str | None = None
        self._exhausted = False
        self.incomplete = False
        self.pages_read = 0
        self.last_created_time: str | None = None

    def __iter__(self) -> QueryResult:
        return self

    def __next__(self) -> dict[str, Any]:
        while not self._buffer:
            if self._exhausted:
                raise StopIteration
            self._load_next_response()

        page = self._buffer.popleft()
        self.pages_read += 1
        self.last_created_time = page.get("created_time", self.last_created_time)
        return page

    def _load_next_response(self) -> None:
        response = self._fetch(self._cursor)
        self._buffer.extend(response.get("results") or [])

        status = response.get("request_status") or {}
        if status.get("type") == "incomplete":
            self.incomplete = True

        self._cursor = response.get("next_cursor")
        if not response.get("has_more") or not self._cursor:
            self._exhausted = True


def is_trashed(notion_object: dict[str, Any]) -> bool:
    """Return whether a page, database or data source is in the trash.

    Responses carry `in_trash`, and older API versions only `archived`; either counts.
    """
    return bool(notion_object.get("in_trash") or notion_object.get("archived"))


class NotionClient:
    """Notion API client. Each method's docstring states when it is retried."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        requests_per_second: float | None = 3.0,
        max_retries: int = 5,
        max_retry_after: float = 60.0,
        backoff_base: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        self._transport = Transport(
            base_url,
            token,
            timeout=timeout,
            requests_per_second=requests_per_second,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            backoff_base=backoff_base,
            session=session,
        )

    @property
    def base_url(self) -> str:
        """Notion API root the client sends to, without a trailing slash."""
        return self._transport.base_url

    @property
    def stats(self) -> ClientStats:
        """Requests, writes, retries and waiting time since the client was created."""
        return self._transport.stats

    def __repr__(self) -> str:
        return f"NotionClient(base_url={self.base_url!r})"

    def __enter__(self) -> NotionClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HTTP session."""
        self._transport.close()

    @property
    def request_count(self) -> int:
        """Number of HTTP requests sent, retries included."""
        return self.stats.requests

    # Databases and data sources

    def get_database(self, database_id: str) -> dict[str, Any]:
        """Return the database object; its `data_sources` list names its tables."""
        subject = Subject("database", database_id)
        return self._transport.request(
            "GET", f"/v1/databases/{database_id}", RequestKind.READ, subject
        )

    def resolve_data_source(self, database_id: str) -> str:
        """Return the id of the database's only data source.

        Raises NotionConfigError when the database has none or several, because rows
        could then land in a table the user did not mean.
        """
        sources = self.get_database(database_id).get("data_sources") or []
        if len(sources) == 1:
            return str(sources[0]["id"])

        if not sources:
            raise NotionConfigError(
                f"database {database_id} has no data source: add a table to it in "
                "Notion, or point the setting at another database"
            )

        names = ", ".join(
            f"{s.get('name') or '(untitled)'!r} ({s['id']})" for s in sources
        )
        raise NotionConfigError(
            f"database {database_id} has {len(sources)} data sources: {names}; "
            "gumroad-ledger writes to a database with exactly one data source: move "
            "the extra ones to their own databases in Notion, or point the setting at "
            "another database"
        )

    def get_data_source(self, data_source_id: str) -> dict[str, Any]:
        """Return the data source object, whose `properties` is the schema."""
        subject = Subject("data source", data_source_id)
        path = f"/v1/data_sources/{data_source_id}"
        return self._transport.request("GET", path, RequestKind.READ, subject)

    def update_data_source(
        self, data_source_id: str, properties: dict[str, Any]
    ) -> dict[str, Any]:
        """Add, rename or remove (value None) schema properties; safe to retry."""
        subject = Subject("data source", data_source_id)
        path = f"/v1/data_sources/{data_source_id}"
        body = {"properties": properties}
        return self._transport.request("PATCH", path, RequestKind.UPDATE, subject, body)

    def create_database(
        self, parent_page_id: str, title: str, properties: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a database with one data source under a page and return the database.

        The new data source id is `result["data_sources"][0]["id"]`. Not retried after
        a timeout or server error: an AmbiguousWriteError means it may exist.
        """
        body = {
            "parent": {"type": "page_id", "page_id": parent_page_id},
            "title": [{"type": "text", "text": {"content": title}}],
            "initial_data_source": {"properties": properties},
        }
        subject = Subject("page", parent_page_id)
        return self._transport.request(
            "POST", "/v1/databases", RequestKind.CREATE, subject, body
        )

    # Rows

    def query_data_source(
        self,
        data_source_id: str,
        *,
        filter: dict[str, Any] | None = None,
        sorts: list[dict[str, Any]] | None = None,
        page_size: int = 100,
    ) -> QueryResult:
        """Return the pages matching `filter`, fetched lazily as the result is iterated.

        Trashed pages are never returned. See QueryResult for the 10,000-row limit.
        """
        if not 1 <= page_size <= 100:
            raise ValueError(f"page_size must be between 1 and 100, not {page_size}")

        subject = Subject("data source", data_source_id)
        path = f"/v1/data_sources/{data_source_id}/query"

        def fetch(cursor: str | None) -> dict[str, Any]:
            body: dict[str, Any] = {"page_size": page_size}
            if filter is not None:
                body["filter"] = filter
            if sorts is not None:
                body["sorts"] = sorts
            if cursor is not None:
                body["start_cursor"] = cursor
            return self._transport.request(
                "POST", path, RequestKind.READ, subject, body
            )

        return QueryResult(fetch)

    def query_all(
        self, data_source_id: str, *, filter: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every page matching `filter`, oldest first, past the 10,000-row limit.

        Each time a query stops at the limit, a new one starts at the last created_time
        seen. Pages already yielded at that boundary are skipped, so none repeats.

        NOTE: the window condition is joined to `filter` with `and`. A filter of `or`
        branches that themselves nest `and`/`or` would then exceed the two levels of
        nesting Notion allows, and the second query would be rejected.
        """
        since: str | None = None
        boundary_ids: set[str] = set()
        while True:
            result = self.query_data_source(
                data_source_id,
                filter=_created_on_or_after(filter, since),
                sorts=CREATED_ASCENDING,
            )
            new_pages = 0
            for page in result:
                if page["id"] in boundary_ids:
                    continue
                if page.get("created_time") != since:
                    since, boundary_ids = page.get("created_time"), set()
                boundary_ids.add(page["id"])
                new_pages += 1
                yield page

            if not result.incomplete:
                return
            if new_pages == 0:
                raise NotionError(
                    f"more than {result.pages_read} pages of data source "
                    f"{data_source_id} share created_time {since}, so a query cannot "
                    "page past them",
                    code="query_result_limit_reached",
                )
            logger.info(
                "query of data source %s reached Notion's 10,000-row limit; "
                "continuing from created_time %s",
                data_source_id,
                since,
            )

    def create_page(
        self,
        data_source_id: str,
        properties: dict[str, Any],
        *,
        cover_url: str | None = None,
    ) -> dict[str, Any]:
        """Create a row in a data source and return the page.

        Retried only on 429/529 and on connections that never reached Notion. A timeout
        or server error raises AmbiguousWriteError (transient, ambiguous) because the
        page may exist: look its key up before creating it again.
        """
        body: dict[str, Any] = {
            "parent": {"type": "data_source_id", "data_source_id": data_source_id},
            "properties": properties,
        }
        if cover_url is not None:
            body["cover"] = _external_file(cover_url)

        subject = Subject("data source", data_source_id)
        return self._transport.request(
            "POST", "/v1/pages", RequestKind.CREATE, subject, body
        )

    def update_page(
        self,
        page_id: str,
        *,
        properties: dict[str, Any] | None = None,
        in_trash: bool | None = None,
        cover_url: str | None = None,
        remove_cover: bool = False,
    ) -> dict[str, Any]:
        """Change a page's properties, trash state or cover and return the page.

        Only the given properties change. Retried on rate limits, server errors,
        conflicts and network failures, since repeating an update is harmless.
        """
        body: dict[str, Any] = {}
        if properties is not None:
            body["properties"] = properties
        if in_trash is not None:
            body["in_trash"] = in_trash
        if cover_url is not None:
            body["cover"] = _external_file(cover_url)
        if remove_cover:
            if cover_url is not None:
                raise ValueError("pass cover_url or remove_cover, not both")
            body["cover"] = None
        if not body:
            raise ValueError(
                "update_page needs properties, in_trash, cover_url or remove_cover"
            )

        subject = Subject("page", page_id)
        return self._transport.request(
            "PATCH", f"/v1/pages/{page_id}", RequestKind.UPDATE, subject, body
        )

    def get_page(self, page_id: str) -> dict[str, Any]:
        """Return a page, trashed or not (see is_trashed)."""
        subject = Subject("page", page_id)
        return self._transport.request(
            "GET", f"/v1/pages/{page_id}", RequestKind.READ, subject
        )


def _external_file(url: str) -> dict[str, Any]:
    return {"type": "external", "external": {"url": url}}


def _created_on_or_after(
    filter: dict[str, Any] | None, since: str | None
) -> dict[str, Any] | None:
    if since is None:
        return filter

    condition = {"timestamp": "created_time", "created_time": {"on_or_after": since}}
    if filter is None:
        return condition
    if set(filter) == {"and"}:
        return {"and": [*filter["and"], condition]}
    return {"and": [filter, condition]}
