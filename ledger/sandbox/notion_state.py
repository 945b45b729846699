"""Notion sandbox: the workspace of pages, databases and data sources.

Records contain the state. Workspace creates them, validates property values against
the schema, applies schema changes, and looks objects up the way the API does: a
missing or unshared object raises a 404 ApiError. Callers must hold `Workspace.lock`.
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.notion.ids import canonical_id
from ledger.sandbox.notion_schema import (
    PROPERTY_TYPES,
    ApiError,
    body_error,
    parse_instant,
    parse_value,
    schema_property,
    utf16_units,
)

NOT_SHARED = (
    "Make sure the relevant pages and databases are shared with your integration."
)


@dataclass
class PageRecord:
    """A page: a row of a data source, or a plain page with only a title."""

    id: str
    parent_type: str  # "workspace", "page_id" or "data_source_id"
    parent_id: str | None
    created_time: datetime
    last_edited_time: datetime
    values: dict[str, Any] = field(default_factory=dict)  # property id -> value
    title: str = ""
    in_trash: bool = False
    cover: dict[str, Any] | None = None
    icon: dict[str, Any] | None = None


@dataclass
class DataSourceRecord:
    """A table: a schema and the ids of its rows in creation order."""

    id: str
    database_id: str
    name: str
    properties: dict[str, dict[str, Any]]  # property id -> schema property
    created_time: datetime
    last_edited_time: datetime
    page_ids: list[str] = field(default_factory=list)
    in_trash: bool = False


@dataclass
class DatabaseRecord:
    """A database: a container of data sources under a page."""

    id: str
    parent_page_id: str
    title: str
    created_time: datetime
    last_edited_time: datetime
    data_source_ids: list[str] = field(default_factory=list)
    in_trash: bool = False
    is_inline: bool = False


class Workspace:
    """In-memory state of one integration's view of a Notion workspace."""

    def __init__(self, *, query_result_limit: int = 10_000) -> None:
        self.lock = threading.RLock()
        self.query_result_limit = query_result_limit
        self.bot_id = str(uuid.uuid4())
        self.pages: dict[str, PageRecord] = {}
        self.data_sources: dict[str, DataSourceRecord] = {}
        self.databases: dict[str, DatabaseRecord] = {}
        self.unshared: set[str] = set()
        self._last_time = datetime(2000, 1, 1, tzinfo=UTC)

    # Building blocks shared by the API and the test helpers

    def next_time(self, explicit: datetime | None = None) -> datetime:
        """Return a creation time later than every earlier one, unless `explicit`."""
        if explicit is not None:
            moment = explicit.astimezone(UTC)
        else:
            now = datetime.now(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            moment = max(now, self._last_time + timedelta(milliseconds=1))
        self._last_time = max(self._last_time, moment)
        return moment

    def new_page(self, title: str) -> PageRecord:
        """Create a plain page at the workspace root."""
        moment = self.next_time()
        page = PageRecord(
            str(uuid.uuid4()), "workspace", None, moment, moment, title=title
        )
        self.pages[page.id] = page
        return page

    def new_database(
        self, parent_page_id: str, title: str, properties: dict[str, Any]
    ) -> tuple[DatabaseRecord, DataSourceRecord]:
        """Create a database with one data source; `properties` is a schema request."""
        moment = self.next_time()
        database = DatabaseRecord(
            str(uuid.uuid4()), parent_page_id, title, moment, moment
        )
        self.databases[database.id] = database
        source = self.new_data_source(database, title, properties, "body.properties")
        return database, source

    def new_data_source(
        self, database: DatabaseRecord, name: str, properties: Any, path: str
    ) -> DataSourceRecord:
        """Add a data source to `database`, validating its schema request."""
        if not isinstance(properties, dict):
            raise body_error(path, "an object", properties)

        schema = [
            schema_property(prop_name, config, f"{path}.{prop_name}")
            for prop_name, config in properties.items()
        ]
        if [prop["type"] for prop in schema].count("title") != 1:
            raise ApiError(
                400,
                "validation_error",
                "A data source must have exactly one title property.",
            )

        moment = self.next_time()
        source = DataSourceRecord(
            str(uuid.uuid4()),
            database.id,
            name,
            {prop["id"]: prop for prop in schema},
            moment,
            moment,
        )
        self.data_sources[source.id] = source
        database.data_source_ids.append(source.id)
        return source

    def new_row(
        self,
        source: DataSourceRecord,
        properties: Any,
        *,
        created_time: datetime | None = None,
    ) -> PageRecord:
        """Create a row in `source` from a properties request."""
        values = self.parse_properties(source, properties)
        moment = self.next_time(created_time)
        page = PageRecord(
            str(uuid.uuid4()), "data_source_id", source.id, moment, moment
        )
        page.values = values
        self.pages[page.id] = page
        source.page_ids.append(page.id)
        return page

    def parse_properties(
        self, source: DataSourceRecord, properties: Any
    ) -> dict[str, Any]:
        """Validate a properties request against the schema; return values by id."""
        if not isinstance(properties, dict):
            raise body_error("body.properties", "an object", properties)

        values = {}
        for key, value in properties.items():
            prop = self.find_property(source, key)
            if prop is None:
                raise ApiError(
                    400, "validation_error", f"{key} is not a property that exists."
                )
            path = f"body.properties.{key}"
            values[prop["id"]] = parse_value(prop, value, path, self.page_exists)
        return values

    def find_property(
        self, source: DataSourceRecord, key: str
    ) -> dict[str, Any] | None:
        """Return the schema property named `key`, or whose id is `key`."""
        for prop in source.properties.values():
            if prop["name"] == key:
                return prop
        return source.properties.get(key)

    def rows(
        self, source: DataSourceRecord, *, include_trashed: bool
    ) -> list[PageRecord]:
        """Return the rows of `source` in creation order."""
        rows = [self.pages[page_id] for page_id in source.page_ids]
        return [row for row in rows if include_trashed or not row.in_trash]

    def is_visible(self, object_id: str) -> bool:
        """Return whether the object and all its ancestors exist and are shared."""
        current: str | None = object_id
        while current is not None:
            if current in self.unshared:
                return False
            if current in self.pages:
                current = self.pages[current].parent_id
            elif current in self.data_sources:
                current = self.data_sources[current].database_id
            elif current in self.databases:
                current = self.databases[current].parent_page_id
            else:
                return False
        return True

    # Schema changes

    def change_property(self, source: DataSourceRecord, key: str, change: Any) -> None:
        """Apply one entry of a schema update: add, rename, retype, or remove (None)."""
        prop = self.find_property(source, key)
        path = f"body.properties.{key}"
        if change is None:
            if prop is None:
                raise ApiError(
                    400, "validation_error", f"{key} is not a property that exists."
                )
            self.drop_property(source, prop)
            return
        if not isinstance(change, dict):
            raise body_error(path, "an object or `null`", change)

        name = change.get("name", prop["name"] if prop else key)
        clash = self.find_property(source, name)
        if clash is not None and clash is not prop:
            raise ApiError(
                400, "validation_error", f"A property named {name} already exists."
            )

        if not any(kind in change for kind in PROPERTY_TYPES):
            if prop is None:
                raise body_error(path, "an object with a property type", change)
            prop["name"] = name
            return

        self.replace_property(source, prop, schema_property(name, change, path))

    def replace_property(
        self, source: DataSourceRecord, old: dict[str, Any] | None, new: dict[str, Any]
    ) -> None:
        """Add `new`, or put it in place of `old`; a changed type clears old values."""
        titles = [p for p in source.properties.values() if p["type"] == "title"]
        if new["type"] == "title" and titles and titles[0] is not old:
            raise ApiError(
                400, "validation_error", "A data source has one title property."
            )
        if old is not None and old["type"] == "title" and new["type"] != "title":
            raise ApiError(
                400, "validation_error", "Cannot change the title property type."
            )

        if old is None:
            source.properties[new["id"]] = new
            return

        new["id"] = old["id"]
        source.properties[old["id"]] = new
        if new["type"] != old["type"]:
            for row in self.rows(source, include_trashed=True):
                row.values.pop(old["id"], None)

    def drop_property(self, source: DataSourceRecord, prop: dict[str, Any]) -> None:
        """Remove a property and its values; the title property cannot go."""
        if prop["type"] == "title":
            raise ApiError(400, "validation_error", "Cannot delete the title property.")

        del source.properties[prop["id"]]
        for row in self.rows(source, include_trashed=True):
            row.values.pop(prop["id"], None)

    # Lookups that raise 404 like the API

    def database(self, raw_id: str) -> DatabaseRecord:
        object_id = _path_id(raw_id, "database_id")
        if object_id not in self.databases or not self.is_visible(object_id):
            raise ApiError(404, "object_not_found", _not_found("database", raw_id))
        return self.databases[object_id]

    def data_source(self, raw_id: str) -> DataSourceRecord:
        object_id = _path_id(raw_id, "data_source_id")
        if object_id not in self.data_sources or not self.is_visible(object_id):
            raise ApiError(404, "object_not_found", _not_found("data_source", raw_id))
        return self.data_sources[object_id]

    def page(self, raw_id: str) -> PageRecord:
        object_id = _path_id(raw_id, "page_id")
        if object_id not in self.pages or not self.is_visible(object_id):
            raise ApiError(404, "object_not_found", _not_found("page", raw_id))
        return self.pages[object_id]

    def page_exists(self, raw_id: str) -> bool:
        object_id = canonical_id(raw_id)
        return object_id in self.pages and self.is_visible(object_id)

    def snapshot(self, value: Any) -> Any:
        """Return a deep copy, so callers cannot change stored state."""
        return copy.deepcopy(value)


def _not_found(kind: str, object_id: str) -> str:
    return f"Could not find {kind} with ID: {object_id}. {NOT_SHARED}"


def _path_id(raw_id: str, name: str) -> str:
    object_id = canonical_id(raw_id)
    if object_id is None:
        raise ApiError(
            400,
            "validation_error",
            f"path failed validation: path.{name} should be a valid uuid, "
            f'instead was `"{raw_id}"`.',
        )
    return object_id


def plain_title(items: Any, path: str) -> str:
    if not isinstance(items, list):
        raise body_error(path, "an array", items)
    texts = [
        item.get("text", {}).get("content", "")
        for item in items
        if isinstance(item, dict)
    ]
    title = "".join(texts)
    if any(utf16_units(text) > 2000 for text in texts):
        raise body_error(
            f"{path}[0].text.content.length", "≤ `2000`", utf16_units(title)
        )
    return title


def parse_created_time(value: datetime | str | None) -> datetime | None:
    """Return an explicit created_time for add_page as an aware UTC datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return parse_instant(value, "created_time")[0]
