"""Create or adopt the two Notion databases and remember them in the ledger.

`init_notion` creates the databases under NOTION_PARENT_PAGE_ID, or adopts the ones
named by NOTION_PRODUCTS_DATABASE_ID and NOTION_DAILY_DATABASE_ID. It checks every
property the tool owns, adds the missing ones, and stores the database and data
source ids in the ledger's meta table. It never removes or retypes a property, and
a second run with nothing to fix sends no write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ledger.config import Settings
from ledger.errors import ConfigError, NotionConfigError
from ledger.notion.layout import PRODUCTS, DatabaseLayout, layouts
from ledger.notion.projection import DAILY, PRODUCT
from ledger.store import keys
from ledger.store.db import all_meta, get_meta, session_factory, set_meta
from ledger.store.models import NotionPage

if TYPE_CHECKING:
    from ledger.notion.client import NotionClient

log = logging.getLogger(__name__)

TARGET_KEYS = {
    "parent_page_id": keys.NOTION_PARENT_PAGE_ID,
    "products_database_id": keys.NOTION_PRODUCTS_DATABASE_ID,
    "products_data_source_id": keys.NOTION_PRODUCTS_DATA_SOURCE_ID,
    "daily_database_id": keys.NOTION_DAILY_DATABASE_ID,
    "daily_data_source_id": keys.NOTION_DAILY_DATA_SOURCE_ID,
}
_SETTING_NAMES = {
    "products": "NOTION_PRODUCTS_DATABASE_ID",
    "daily": "NOTION_DAILY_DATABASE_ID",
}


@dataclass(frozen=True)
class _Target:
    """One database as set up: its ids and what init did to it."""

    database_id: str
    data_source_id: str
    line: str


def stored_targets(engine: Engine) -> dict[str, str]:
    """Return the Notion ids stored in the ledger, by name; empty when none are set.

    Names: parent_page_id, products_database_id, products_data_source_id,
    daily_database_id, daily_data_source_id.
    """
    with session_factory(engine)() as session:
        meta = all_meta(session)
    return {name: meta[key] for name, key in TARGET_KEYS.items() if meta.get(key)}


def require_targets(engine: Engine) -> dict[str, str]:
    """Return the stored targets, or raise ConfigError when init has not run."""
    targets = stored_targets(engine)
    needed = ("products_data_source_id", "daily_data_source_id")
    if not all(name in targets for name in needed):
        raise ConfigError(
            "the Notion databases are not set up for this ledger: run "
            "`gumroad-ledger init` with NOTION_PARENT_PAGE_ID set (or "
            "NOTION_PRODUCTS_DATABASE_ID and NOTION_DAILY_DATABASE_ID)"
        )
    return targets


def init_notion(
    engine: Engine, settings: Settings, *, client: NotionClient | None = None
) -> list[str]:
    """Create or adopt both databases, store their ids, and return lines to print.

    `client` defaults to a NotionClient for settings.notion_api_url.
    """
    token = settings.require_notion_token()
    products_layout, daily_layout = layouts(settings)
    stored = stored_targets(engine)
    _reject_moved_targets(stored, settings)

    if client is not None:
        setup = _Setup(engine, settings, client, stored)
        return setup.run(products_layout, daily_layout)

    from ledger.notion.client import NotionClient

    with NotionClient(settings.notion_api_url, token) as own_client:
        setup = _Setup(engine, settings, own_client, stored)
        return setup.run(products_layout, daily_layout)


def check_properties(
    client: NotionClient,
    layout: DatabaseLayout,
    data_source_id: str,
    *,
    related: str | None = None,
) -> dict[str, str]:
    """Read a data source's schema and return each owned role's property type.

    Raises NotionConfigError when an owned property is missing or has a type the
    tool cannot write; `init` adds missing properties. `related` is the products
    data source the daily Product relation must point at, checked when given.
    """
    schema = client.get_data_source(data_source_id).get("properties") or {}
    missing = _missing_properties(layout, schema, data_source_id, related)
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise NotionConfigError(
            f"the {layout.kind} database (data source {data_source_id}) has no "
            f"property {names}: if the property was renamed, map it under "
            f"[notion.{layout.kind}_properties] in the config file and pass that "
            "file to every command; otherwise run `gumroad-ledger init` to add it"
        )
    return {spec.role: schema[layout.name(spec.role)]["type"] for spec in layout.specs}


def _reject_moved_targets(stored: Mapping[str, str], settings: Settings) -> None:
    """Raise when the settings name other databases than the ledger projects into."""
    wanted = {
        "products": settings.notion_products_database_id,
        "daily": settings.notion_daily_database_id,
    }
    for kind, database_id in wanted.items():
        current = stored.get(f"{kind}_database_id")
        if database_id and current and database_id != current:
            raise ConfigError(
                f"this ledger already projects into the {kind} database {current}, "
                f"but {_SETTING_NAMES[kind]} is {database_id}: unset "
                f"{_SETTING_NAMES[kind]} (or set it to {current}) to keep the "
                "current database; a ledger projects into one pair of databases",
                name=_SETTING_NAMES[kind],
            )

    parent = settings.notion_parent_page_id
    both_stored = all(f"{kind}_database_id" in stored for kind in wanted)
    stored_parent = stored.get("parent_page_id")
    if parent and both_stored and parent != stored_parent:
        where = f"under page {stored_parent}" if stored_parent else "adopted by init"
        raise ConfigError(
            f"this ledger already projects into the databases "
            f"{stored['products_database_id']} and {stored['daily_database_id']} "
            f"({where}), but NOTION_PARENT_PAGE_ID is {parent}: unset "
            "NOTION_PARENT_PAGE_ID to keep the current databases; a ledger projects "
            "into one pair of databases",
            name="NOTION_PARENT_PAGE_ID",
        )


class _Setup:
    """The steps of one init run."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        client: NotionClient,
        stored: Mapping[str, str],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self.stored = stored

    def run(
        self, products_layout: DatabaseLayout, daily_layout: DatabaseLayout
    ) -> list[str]:
        """Set up both databases, products first, and return their lines."""
        products = self.database(products_layout, None)
        daily = self.database(daily_layout, products)
        return [products.line, daily.line]

    def database(self, layout: DatabaseLayout, products: _Target | None) -> _Target:
        """Set up the database of `layout`; `products` is given for the daily one."""
        related = products.data_source_id if products else None
        database_id = self.stored.get(f"{layout.kind}_database_id") or (
            self.settings.notion_products_database_id
            if layout.kind == "products"
            else self.settings.notion_daily_database_id
        )
        if database_id:
            target = self._adopt(layout, database_id, related)
        else:
            target = self._create(layout, related)
        self._store(layout.kind, target)
        return target

    def _adopt(
        self, layout: DatabaseLayout, database_id: str, related: str | None
    ) -> _Target:
        data_source_id = self.client.resolve_data_source(database_id)
        schema = self.client.get_data_source(data_source_id).get("properties") or {}
        missing = _missing_properties(layout, schema, data_source_id, related)
        if missing:
            self.client.update_data_source(data_source_id, missing)
            _forget_pushed_values(self.engine, layout, missing)
            log.info(
                "added properties %s to the %s database %s",
                ", ".join(missing),
                layout.kind,
                database_id,
            )
            line = (
                f"{layout.kind} database {database_id}: added properties "
                f"{', '.join(missing)}"
            )
        else:
            line = f"{layout.kind} database {database_id}: all properties present"
        return _Target(database_id, data_source_id, line)

    def _create(self, layout: DatabaseLayout, related: str | None) -> _Target:
        parent = self.settings.notion_parent_page_id
        if not parent:
            setting = _SETTING_NAMES[layout.kind]
            raise ConfigError(
                f"no Notion {layout.kind} database is set up: set "
                f"NOTION_PARENT_PAGE_ID to the page under which init creates the "
                f"databases, or {setting} to adopt an existing database",
                name="NOTION_PARENT_PAGE_ID",
            )
        database = self.client.create_database(
            parent, layout.title, layout.schema(related)
        )
        database_id = database["id"]
        sources = database.get("data_sources") or []
        if sources:
            data_source_id = str(sources[0]["id"])
        else:
            data_source_id = self.client.resolve_data_source(database_id)
        log.info("created the %s database %s", layout.kind, database_id)
        self._store_parent(parent)
        line = f"{layout.kind} database {database_id} created under page {parent}"
        return _Target(database_id, data_source_id, line)

    def _store(self, kind: str, target: _Target) -> None:
        values = {
            TARGET_KEYS[f"{kind}_database_id"]: target.database_id,
            TARGET_KEYS[f"{kind}_data_source_id"]: target.data_source_id,
        }
        _store_meta(self.engine, values)

    def _store_parent(self, parent: str) -> None:
        _store_meta(self.engine, {keys.NOTION_PARENT_PAGE_ID: parent})


def _store_meta(engine: Engine, values: Mapping[str, str]) -> None:
    # Each database's ids are committed as soon as it is set up, so a failure on
    # the second database never leads a later run to create the first one again.
    with session_factory(engine).begin() as session:
        for key, value in values.items():
            if get_meta(session, key) != value:
                set_meta(session, key, value)


def _forget_pushed_values(
    engine: Engine, layout: DatabaseLayout, added: Mapping[str, Any]
) -> None:
    """Drop just-added properties from the values notion_pages records as pushed.

    Pages pushed before a property was deleted and added again have no value in it,
    so the next push must write that property on every page of the database.
    """
    roles = [spec.role for spec in layout.specs if layout.name(spec.role) in added]
    kind = PRODUCT if layout.kind == PRODUCTS else DAILY
    with session_factory(engine).begin() as session:
        rows = session.scalars(select(NotionPage).where(NotionPage.kind == kind))
        for row in rows:
            if not row.pushed_json:
                continue
            pushed = json.loads(row.pushed_json)
            properties = pushed.get("properties") or {}
            for role in roles:
                properties.pop(role, None)
            row.pushed_json = json.dumps(pushed, sort_keys=True)


def _missing_properties(
    layout: DatabaseLayout,
    schema: Mapping[str, Any],
    data_source_id: str,
    related: str | None,
) -> dict[str, Any]:
    """Return the schema of each owned property the data source lacks, by name.

    Raises NotionConfigError for an owned property of the wrong type, a relation to
    the wrong database, or a title property under another name.
    """
    missing: dict[str, Any] = {}
    for spec in layout.specs:
        name = layout.name(spec.role)
        found = schema.get(name)
        if found is None:
            if spec.type == "title":
                raise _title_renamed(layout, schema, data_source_id)
            if spec.type == "relation" and related is None:
                # Only reported, because init has the related database id to add it.
                missing[name] = {}
                continue
            missing[name] = layout.property_schema(spec.role, related)
            continue

        found_type = found.get("type")
        if found_type not in spec.accepted_types:
            raise _wrong_type(layout, name, found_type, spec.accepted_types)
        if found_type == "relation" and related is not None:
            _check_relation(layout, name, found, related)
    return missing


def _wrong_type(
    layout: DatabaseLayout, name: str, found: Any, expected: tuple[str, ...]
) -> NotionConfigError:
    wanted = " or ".join(expected)
    return NotionConfigError(
        f"property {name!r} of the {layout.kind} database is of type {found}, "
        f"expected {wanted}: change its type back to {expected[0]} in Notion, or map "
        f"the role to another property under [notion.{layout.kind}_properties] in "
        "the config file"
    )


def _title_renamed(
    layout: DatabaseLayout, schema: Mapping[str, Any], data_source_id: str
) -> NotionConfigError:
    titles = [name for name, prop in schema.items() if prop.get("type") == "title"]
    current = titles[0] if titles else "(none)"
    expected = layout.name("name")
    return NotionConfigError(
        f"the title property of the {layout.kind} database (data source "
        f"{data_source_id}) is {current!r}, not {expected!r}: rename it to "
        f"{expected!r} in Notion, or add Name = {current!r} under "
        f"[notion.{layout.kind}_properties] in the config file"
    )


def _check_relation(
    layout: DatabaseLayout, name: str, found: Mapping[str, Any], related: str
) -> None:
    # Relations made before data sources existed may name only a database id,
    # which cannot be compared with a data source id, so only this one is checked.
    target = (found.get("relation") or {}).get("data_source_id")
    if target and target != related:
        raise NotionConfigError(
            f"property {name!r} of the {layout.kind} database relates to {target}, "
            f"not to the products data source {related}: point the relation at the "
            "products database in Notion, or map the role to another property under "
            f"[notion.{layout.kind}_properties] in the config file"
        )
