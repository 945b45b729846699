"""Notion sandbox: the API endpoints, routed from method and path to the workspace.

Each endpoint takes the parsed JSON body and returns the response object, or raises
ApiError, with the behaviour of Notion-Version 2025-09-03. Callers must hold
`Workspace.lock` during each call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ledger.sandbox import notion_render as render
from ledger.sandbox.notion_query import compile_filter, sort_rows
from ledger.sandbox.notion_schema import ApiError, body_error, reject_keys, utf16_units
from ledger.sandbox.notion_state import (
    DataSourceRecord,
    PageRecord,
    Workspace,
    plain_title,
)

DEFAULT_SORTS = [{"timestamp": "created_time", "direction": "ascending"}]
PAGE_CREATE_KEYS = frozenset({"parent", "properties", "cover", "icon", "children"})
PAGE_UPDATE_KEYS = frozenset({"properties", "in_trash", "cover", "icon", "is_locked"})
DATABASE_CREATE_KEYS = frozenset(
    {"parent", "title", "initial_data_source", "is_inline", "icon", "cover"}
)
QUERY_KEYS = frozenset(
    {"filter", "sorts", "start_cursor", "page_size", "filter_properties", "result_type"}
)

Endpoint = Callable[..., dict[str, Any]]


def dispatch(
    ws: Workspace, method: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Run the endpoint for `method` and `path`. Unknown routes raise a 400 ApiError."""
    for route_method, pattern, endpoint, takes_body in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            arguments = [*match.groups(), body] if takes_body else list(match.groups())
            return endpoint(ws, *arguments)

    raise ApiError(400, "invalid_request_url", "Invalid request URL.")


def get_database(ws: Workspace, database_id: str) -> dict[str, Any]:
    """GET /v1/databases/{id}: the database and its data sources, no schema."""
    return render.database(ws, ws.database(database_id))


def create_database(ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/databases: a database under a page, with one data source."""
    reject_keys(body, DATABASE_CREATE_KEYS)
    parent_id = _parent_id(body, "page_id")
    parent = ws.page(parent_id)
    title = plain_title(body.get("title", []), "body.title")

    initial = body.get("initial_data_source") or {}
    properties = initial.get("properties", {"Name": {"title": {}}})
    database, _ = ws.new_database(parent.id, title, properties)
    database.is_inline = bool(body.get("is_inline", False))
    return render.database(ws, database)


def update_database(
    ws: Workspace, database_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PATCH /v1/databases/{id}: title and in_trash."""
    reject_keys(body, frozenset({"title", "in_trash", "is_inline", "icon", "cover"}))
    database = ws.database(database_id)
    if "title" in body:
        database.title = plain_title(body["title"], "body.title")
    if "in_trash" in body:
        database.in_trash = _boolean(body["in_trash"], "body.in_trash")
    database.last_edited_time = ws.next_time()
    return render.database(ws, database)


def create_data_source(ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/data_sources: another data source in an existing database."""
    reject_keys(body, frozenset({"parent", "properties", "title", "icon"}))
    database = ws.database(_parent_id(body, "database_id"))
    name = plain_title(body.get("title", []), "body.title")
    source = ws.new_data_source(
        database, name, body.get("properties"), "body.properties"
    )
    return render.data_source(ws, source)


def get_data_source(ws: Workspace, data_source_id: str) -> dict[str, Any]:
    """GET /v1/data_sources/{id}: the data source with its schema."""
    return render.data_source(ws, ws.data_source(data_source_id))


def update_data_source(
    ws: Workspace, data_source_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PATCH /v1/data_sources/{id}: add, rename, retype or remove (null) properties."""
    reject_keys(body, frozenset({"properties", "title", "in_trash", "icon"}))
    source = ws.data_source(data_source_id)
    changes = body.get("properties", {})
    if not isinstance(changes, dict):
        raise body_error("body.properties", "an object", changes)

    for key, change in changes.items():
        ws.change_property(source, key, change)
    if "title" in body:
        source.name = plain_title(body["title"], "body.title")
    source.last_edited_time = ws.next_time()
    return render.data_source(ws, source)


def query(ws: Workspace, data_source_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/data_sources/{id}/query: one page of results, capped per query."""
    reject_keys(body, QUERY_KEYS)
    source = ws.data_source(data_source_id)
    page_size = body.get("page_size", 100)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise body_error("body.page_size", "a positive integer", page_size)
    if page_size > 100:
        raise body_error("body.page_size", "≤ `100`", page_size)

    rows = _matching_rows(ws, source, body)
    start = _cursor_index(rows, body.get("start_cursor"))
    end = min(start + page_size, len(rows), ws.query_result_limit)
    capped = end == ws.query_result_limit and len(rows) > end
    has_more = end < len(rows) and not capped

    response = render.page_list([render.page(ws, row) for row in rows[start:end]])
    response["has_more"] = has_more
    response["next_cursor"] = rows[end].id if has_more else None
    if capped:
        response["request_status"] = {
            "type": "incomplete",
            "incomplete_reason": "query_result_limit_reached",
        }
    return response


def _matching_rows(
    ws: Workspace, source: DataSourceRecord, body: dict[str, Any]
) -> list[Any]:
    def resolve(key: str) -> dict[str, Any]:
        prop = ws.find_property(source, key)
        if prop is None:
            raise ApiError(
                400,
                "validation_error",
                f"Could not find property with name or id: {key}",
            )
        return prop

    rows: list[Any] = ws.rows(source, include_trashed=False)
    if body.get("filter") is not None:
        predicate = compile_filter(body["filter"], resolve)
        rows = [row for row in rows if predicate(row)]
    return sort_rows(rows, body.get("sorts") or DEFAULT_SORTS, resolve)


def _cursor_index(rows: list[PageRecord], cursor: Any) -> int:
    if cursor is None:
        return 0
    for index, row in enumerate(rows):
        if row.id == cursor:
            return index
    raise body_error("body.start_cursor", "a cursor returned by this query", cursor)


def create_page(ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/pages: a row in a data source, or a plain page under a page."""
    reject_keys(body, PAGE_CREATE_KEYS)
    parent = body.get("parent")
    if not isinstance(parent, dict):
        raise body_error("body.parent", "an object", parent)
    # Validate the whole request before storing anything, as Notion does: a
    # rejected create leaves no page behind.
    cover = _cover(body)

    if "page_id" in parent:
        parent_page = ws.page(str(parent["page_id"]))
        page = ws.new_page(plain_title(_title_of(body), "body.properties.title"))
        page.parent_type, page.parent_id = "page_id", parent_page.id
    else:
        source = _row_parent(ws, parent)
        page = ws.new_row(source, body.get("properties", {}))
    page.cover = cover
    page.icon = body.get("icon")
    return render.page(ws, page)


def _row_parent(ws: Workspace, parent: dict[str, Any]) -> DataSourceRecord:
    if "data_source_id" in parent:
        return ws.data_source(str(parent["data_source_id"]))

    if "database_id" not in parent:
        raise body_error("body.parent.data_source_id", "defined", parent)
    database = ws.database(str(parent["database_id"]))
    if len(database.data_source_ids) != 1:
        # NOTE: the real API's reply to this request is not documented.
        raise ApiError(
            400,
            "validation_error",
            f"Database {database.id} has several data sources: "
            "use parent.data_source_id.",
        )
    return ws.data_sources[database.data_source_ids[0]]


def get_page(ws: Workspace, page_id: str) -> dict[str, Any]:
    """GET /v1/pages/{id}: the page, trashed or not."""
    return render.page(ws, ws.page(page_id))


def update_page(ws: Workspace, page_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH /v1/pages/{id}: properties, cover, icon and in_trash."""
    reject_keys(body, PAGE_UPDATE_KEYS)
    page = ws.page(page_id)
    if "in_trash" in body:
        page.in_trash = _boolean(body["in_trash"], "body.in_trash")

    edits = {"properties", "cover", "icon"} & set(body)
    if page.in_trash and edits:
        raise ApiError(
            400,
            "validation_error",
            "Can't edit block that is archived. You must unarchive the block "
            "before editing.",
        )

    if "properties" in body:
        page.values.update(_parse_page_edit(ws, page, body["properties"]))
    if "cover" in body:
        page.cover = _cover(body)
    if "icon" in body:
        page.icon = body["icon"]
    page.last_edited_time = ws.next_time()
    return render.page(ws, page)


def _parse_page_edit(
    ws: Workspace, page: PageRecord, properties: Any
) -> dict[str, Any]:
    if page.parent_type != "data_source_id" or page.parent_id is None:
        return {}
    return ws.parse_properties(ws.data_sources[page.parent_id], properties)


def _parent_id(body: dict[str, Any], key: str) -> str:
    parent = body.get("parent")
    if not isinstance(parent, dict) or not isinstance(parent.get(key), str):
        raise body_error(f"body.parent.{key}", "a string", parent)
    return str(parent[key])


def _title_of(body: dict[str, Any]) -> list[Any]:
    properties = body.get("properties") or {}
    title = properties.get("title") or {}
    return title.get("title", []) if isinstance(title, dict) else []


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise body_error(path, "a boolean", value)
    return value


def _cover(body: dict[str, Any]) -> dict[str, Any] | None:
    cover = body.get("cover")
    if cover is None:
        return None

    if not isinstance(cover, dict) or cover.get("type", "external") != "external":
        raise body_error("body.cover", "an external file object or `null`", cover)

    url = (cover.get("external") or {}).get("url")
    if not isinstance(url, str):
        raise body_error("body.cover.external.url", "a string", url)
    if utf16_units(url) > 2000:
        raise body_error("body.cover.external.url.length", "≤ `2000`", utf16_units(url))
    return {"type": "external", "external": {"url": url}}


_ID = "([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Endpoint, bool]] = [
    ("GET", re.compile(f"/v1/databases/{_ID}"), get_database, False),
    ("PATCH", re.compile(f"/v1/databases/{_ID}"), update_database, True),
    ("POST", re.compile("/v1/databases"), create_database, True),
    ("POST", re.compile("/v1/data_sources"), create_data_source, True),
    ("GET", re.compile(f"/v1/data_sources/{_ID}"), get_data_source, False),
    ("PATCH", re.compile(f"/v1/data_sources/{_ID}"), update_data_source, True),
    ("POST", re.compile(f"/v1/data_sources/{_ID}/query"), query, True),
    ("POST", re.compile("/v1/pages"), create_page, True),
    ("GET", re.compile(f"/v1/pages/{_ID}"), get_page, False),
    ("PATCH", re.compile(f"/v1/pages/{_ID}"), update_page, True),
]
