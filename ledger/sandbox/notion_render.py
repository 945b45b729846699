"""Notion sandbox: objects rendered as the 2025-09-03 API returns them."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ledger.sandbox.notion_schema import empty_value, format_time, text_items

if TYPE_CHECKING:
    from ledger.sandbox.notion_state import (
        DatabaseRecord,
        DataSourceRecord,
        PageRecord,
        Workspace,
    )


def database(workspace: Workspace, record: DatabaseRecord) -> dict[str, Any]:
    """Return a database object: its data sources by id and name, no properties."""
    sources = [
        workspace.data_sources[source_id] for source_id in record.data_source_ids
    ]
    return {
        "object": "database",
        "id": record.id,
        "created_time": format_time(record.created_time),
        "last_edited_time": format_time(record.last_edited_time),
        "title": text_items(record.title),
        "description": [],
        "icon": None,
        "cover": None,
        "parent": {"type": "page_id", "page_id": record.parent_page_id},
        "is_inline": record.is_inline,
        "in_trash": record.in_trash,
        "archived": record.in_trash,
        "is_locked": False,
        "data_sources": [{"id": source.id, "name": source.name} for source in sources],
        "url": _url(record.title, record.id),
        "public_url": None,
    }


def data_source(workspace: Workspace, record: DataSourceRecord) -> dict[str, Any]:
    """Return a data source object with its schema under `properties`."""
    parent_page_id = workspace.databases[record.database_id].parent_page_id
    return {
        "object": "data_source",
        "id": record.id,
        "created_time": format_time(record.created_time),
        "last_edited_time": format_time(record.last_edited_time),
        "created_by": _user(workspace),
        "last_edited_by": _user(workspace),
        "title": text_items(record.name),
        "description": [],
        "icon": None,
        "properties": {
            prop["name"]: copy.deepcopy(prop) for prop in record.properties.values()
        },
        "parent": {"type": "database_id", "database_id": record.database_id},
        "database_parent": {"type": "page_id", "page_id": parent_page_id},
        "in_trash": record.in_trash,
        "archived": record.in_trash,
        "is_inline": False,
        "url": _url(record.name, record.id),
        "public_url": None,
    }


def page(workspace: Workspace, record: PageRecord) -> dict[str, Any]:
    """Return a page object with typed property values, plain_text included."""
    return {
        "object": "page",
        "id": record.id,
        "created_time": format_time(record.created_time),
        "last_edited_time": format_time(record.last_edited_time),
        "created_by": _user(workspace),
        "last_edited_by": _user(workspace),
        "cover": copy.deepcopy(record.cover),
        "icon": copy.deepcopy(record.icon),
        "parent": _page_parent(workspace, record),
        "in_trash": record.in_trash,
        "archived": record.in_trash,
        "is_locked": False,
        "properties": _page_properties(workspace, record),
        "url": _url(_page_title(workspace, record), record.id),
        "public_url": None,
    }


def page_list(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a list response around `results`; the caller sets the cursor fields."""
    return {
        "object": "list",
        "results": results,
        "next_cursor": None,
        "has_more": False,
        "type": "page_or_data_source",
        "page_or_data_source": {},
    }


def _page_parent(workspace: Workspace, record: PageRecord) -> dict[str, Any]:
    if record.parent_type == "data_source_id" and record.parent_id is not None:
        database_id = workspace.data_sources[record.parent_id].database_id
        return {
            "type": "data_source_id",
            "data_source_id": record.parent_id,
            "database_id": database_id,
        }
    if record.parent_type == "page_id":
        return {"type": "page_id", "page_id": record.parent_id}
    return {"type": "workspace", "workspace": True}


def _page_properties(workspace: Workspace, record: PageRecord) -> dict[str, Any]:
    if record.parent_type != "data_source_id" or record.parent_id is None:
        title = {"id": "title", "type": "title", "title": text_items(record.title)}
        return {"title": title}

    source = workspace.data_sources[record.parent_id]
    rendered = {}
    for prop in source.properties.values():
        kind = prop["type"]
        value = {"id": prop["id"], "type": kind, kind: _value(workspace, record, prop)}
        if kind == "relation":
            value["has_more"] = False
        rendered[prop["name"]] = value
    return rendered


def _value(workspace: Workspace, record: PageRecord, prop: dict[str, Any]) -> Any:
    kind = prop["type"]
    if kind == "created_time":
        return format_time(record.created_time)
    if kind == "last_edited_time":
        return format_time(record.last_edited_time)
    if kind in ("created_by", "last_edited_by"):
        return _user(workspace)
    if kind == "formula":
        return {"type": "string", "string": None}
    if kind == "rollup":
        return {"type": "array", "array": [], "function": "show_original"}
    if kind == "unique_id":
        return {"prefix": None, "number": None}

    if prop["id"] in record.values:
        return copy.deepcopy(record.values[prop["id"]])
    return empty_value(prop)


def _page_title(workspace: Workspace, record: PageRecord) -> str:
    if record.parent_type != "data_source_id" or record.parent_id is None:
        return record.title

    source = workspace.data_sources[record.parent_id]
    for prop in source.properties.values():
        if prop["type"] == "title":
            items = record.values.get(prop["id"], [])
            return "".join(item["plain_text"] for item in items)
    return ""


def _user(workspace: Workspace) -> dict[str, Any]:
    return {"object": "user", "id": workspace.bot_id}


def _url(title: str, object_id: str) -> str:
    slug = "-".join("".join(c if c.isalnum() else " " for c in title).split())
    compact = object_id.replace("-", "")
    return (
        f"https://www.notion.so/{slug}-{compact}"
        if slug
        else f"https://www.notion.so/{compact}"
    )
