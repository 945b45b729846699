"""Check the two databases before a rebuild, and re-create or repair them if asked.

A database counts as missing when Notion returns 404 for it or its data source (it
was deleted, or is no longer shared with the integration), when it is in the trash,
or when it no longer contains the data source stored by `init`. A missing database is
re-created under the parent page only with `recreate_missing`. Otherwise the rebuild
stops before it writes anything.

Owned properties that a user deleted from an existing database are added back, and a
daily Product relation whose products database is gone is pointed at the current one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine

from ledger.config import Settings
from ledger.errors import ConfigError, NotionConfigError, NotionError
from ledger.notion.client import is_trashed
from ledger.notion.ids import canonical_id
from ledger.notion.layout import DatabaseLayout
from ledger.notion.projection import DAILY, PRODUCT
from ledger.notion.setup import check_properties, require_targets
from ledger.store import keys
from ledger.store.db import session_factory, set_meta
from ledger.store.models import NotionPage

if TYPE_CHECKING:
    from ledger.notion.client import NotionClient

log = logging.getLogger(__name__)

# NotionPage.kind of the pages of each database, by DatabaseLayout.kind.
PAGE_KINDS = {"products": PRODUCT, "daily": DAILY}

_META_KEYS = {
    "products": (
        keys.NOTION_PRODUCTS_DATABASE_ID,
        keys.NOTION_PRODUCTS_DATA_SOURCE_ID,
    ),
    "daily": (keys.NOTION_DAILY_DATABASE_ID, keys.NOTION_DAILY_DATA_SOURCE_ID),
}


@dataclass
class Target:
    """One database as the rebuild will use it."""

    layout: DatabaseLayout
    database_id: str | None
    data_source_id: str | None  # None only in a dry run that would create it
    types: dict[str, str]  # role -> property type in the data source

    @property
    def page_kind(self) -> str:
        """Return the NotionPage.kind of this database's pages."""
        return PAGE_KINDS[self.layout.kind]


@dataclass
class _Probe:
    """The result of checking one stored database."""

    source: dict[str, Any] | None  # the data source, or None when the database is gone
    problem: str = ""  # why it counts as missing


@dataclass
class TargetPlan:
    """The databases to rebuild into, and the schema changes made or planned."""

    targets: list[Target]
    lines: list[str] = field(default_factory=list)  # one per schema change


def prepare_targets(
    engine: Engine,
    settings: Settings,
    client: NotionClient,
    layouts: tuple[DatabaseLayout, DatabaseLayout],
    *,
    dry_run: bool,
    recreate_missing: bool,
) -> TargetPlan:
    """Check both databases and return them ready for the rebuild, products first.

    Raises NotionConfigError naming each missing database unless `recreate_missing`,
    and ConfigError when a database must be re-created but no parent page is known.
    """
    stored = require_targets(engine)
    probes = {layout.kind: _probe(client, stored, layout.kind) for layout in layouts}
    missing = [kind for kind, probe in probes.items() if probe.source is None]
    if missing and not recreate_missing:
        raise NotionConfigError(
            "; ".join(_missing_message(kind, stored, probes[kind]) for kind in missing)
        )

    parent = _parent_page(settings, stored) if missing else None
    preparer = _Preparer(engine, client, dry_run, parent)
    products_layout, daily_layout = layouts
    products = preparer.target(products_layout, stored, probes["products"], None)
    daily = preparer.target(daily_layout, stored, probes["daily"], products)
    return TargetPlan([products, daily], preparer.lines)


def _probe(client: NotionClient, stored: Mapping[str, str], kind: str) -> _Probe:
    database_id = stored.get(f"{kind}_database_id")
    data_source_id = stored[f"{kind}_data_source_id"]
    try:
        if database_id is not None:
            problem = _database_problem(
                client.get_database(database_id), data_source_id
            )
            if problem:
                return _Probe(None, problem)
        source = client.get_data_source(data_source_id)
    except NotionError as error:
        if error.status == 404:
            return _Probe(None, "not found")
        raise
    if is_trashed(source):
        return _Probe(None, "in the trash")
    return _Probe(source)


def _database_problem(database: dict[str, Any], data_source_id: str) -> str:
    if is_trashed(database):
        return "in the trash"
    listed = database.get("data_sources") or []
    sources = {canonical_id(str(item["id"])) for item in listed}
    if canonical_id(data_source_id) not in sources:
        return f"without its data source {data_source_id}"
    return ""


def _missing_message(kind: str, stored: Mapping[str, str], probe: _Probe) -> str:
    name = stored.get(f"{kind}_database_id") or stored[f"{kind}_data_source_id"]
    again = "`gumroad-ledger rebuild-notion --recreate-missing`"
    if probe.problem == "in the trash":
        return (
            f"the {kind} database {name} is in the Notion trash: restore it from the "
            f"trash in Notion, or run {again} to build a new one under the parent page"
        )
    if probe.problem == "not found":
        return (
            f"the {kind} database {name} was not found or is not shared with the "
            "integration: if it still exists, open it in Notion, choose ••• > "
            "Connections and add the integration; to build a new one under the "
            f"parent page instead, run {again}"
        )
    return (
        f"the {kind} database {name} is {probe.problem}: point "
        f"NOTION_{kind.upper()}_DATABASE_ID at the right database and run "
        f"`gumroad-ledger init`, or run {again} to build a new one"
    )


def _parent_page(settings: Settings, stored: Mapping[str, str]) -> str:
    parent = settings.notion_parent_page_id or stored.get("parent_page_id")
    if parent is None:
        raise ConfigError(
            "a Notion database must be re-created but no parent page is known: set "
            "NOTION_PARENT_PAGE_ID to the page that should contain the new database, "
            "and share that page with the integration",
            name="NOTION_PARENT_PAGE_ID",
        )
    return parent


class _Preparer:
    """Re-creates missing databases and repairs the schema of the others."""

    def __init__(
        self, engine: Engine, client: NotionClient, dry_run: bool, parent: str | None
    ) -> None:
        self.engine = engine
        self.client = client
        self.dry_run = dry_run
        self.parent = parent
        self.lines: list[str] = []

    def target(
        self,
        layout: DatabaseLayout,
        stored: Mapping[str, str],
        probe: _Probe,
        products: Target | None,
    ) -> Target:
        """Return the target of `layout`. `products` is given for the daily one."""
        related = products.data_source_id if products else None
        if probe.source is None:
            return self._recreate(layout, related)

        database_id = stored.get(f"{layout.kind}_database_id")
        data_source_id = stored[f"{layout.kind}_data_source_id"]
        schema = probe.source.get("properties") or {}
        changes = self._schema_changes(layout, schema, related)
        if changes and self.dry_run:
            self._describe_changes(layout, changes, done=False)
            types = _planned_types(layout, {**schema, **changes})
            return Target(layout, database_id, data_source_id, types)

        if changes:
            updated = self.client.update_data_source(data_source_id, changes)
            schema = updated.get("properties") or {}
            self._describe_changes(layout, changes, done=True)
        # Reading the schema again costs a request, but check_properties explains
        # every property the tool cannot write to, with its fix.
        types = check_properties(self.client, layout, data_source_id, related=related)
        return Target(layout, database_id, data_source_id, types)

    def _recreate(self, layout: DatabaseLayout, related: str | None) -> Target:
        types = {spec.role: spec.type for spec in layout.specs}
        line = f"create a new {layout.kind} database under page {self.parent}"
        if self.dry_run:
            self.lines.append(line)
            return Target(layout, None, None, types)

        assert self.parent is not None
        # NOTE: Notion has no idempotency key. A create whose reply is lost (a
        # timeout, or a kill before the ids are stored) leaves a database that the
        # next run does not know about, so that run creates another one.
        database = self.client.create_database(
            self.parent, layout.title, layout.schema(related)
        )
        database_id = str(database["id"])
        sources = database.get("data_sources") or []
        if sources:
            data_source_id = str(sources[0]["id"])
        else:
            data_source_id = self.client.resolve_data_source(database_id)
        _store_recreated(self.engine, layout.kind, database_id, data_source_id)
        _store_parent(self.engine, self.parent)
        log.warning(
            "created a new %s database %s under page %s",
            layout.kind,
            database_id,
            self.parent,
        )
        self.lines.append(f"created the {layout.kind} database {database_id}")
        return Target(layout, database_id, data_source_id, types)

    def _schema_changes(
        self, layout: DatabaseLayout, schema: Mapping[str, Any], related: str | None
    ) -> dict[str, Any]:
        """Return the owned properties to add or re-point, by property name."""
        changes: dict[str, Any] = {}
        for spec in layout.specs:
            name = layout.name(spec.role)
            found = schema.get(name)
            if spec.type == "relation" and related is None:
                continue  # a dry run that would re-create the products database
            if found is None:
                repair = spec.type != "title"  # check_properties explains a title
            else:
                repair = spec.type == "relation" and self._relation_is_stale(
                    found, related
                )
            if repair:
                changes[name] = layout.property_schema(spec.role, related)
        return changes

    def _relation_is_stale(self, found: Mapping[str, Any], related: str | None) -> bool:
        """Return whether a relation points at a data source that no longer exists."""
        if found.get("type") != "relation" or related is None:
            return False
        target = (found.get("relation") or {}).get("data_source_id")
        if not target or canonical_id(target) == canonical_id(related):
            return False
        try:
            self.client.get_data_source(target)
        except NotionError as error:
            if error.status == 404:
                return True
            raise
        return False

    def _describe_changes(
        self, layout: DatabaseLayout, changes: Mapping[str, Any], *, done: bool
    ) -> None:
        names = ", ".join(repr(name) for name in changes)
        line = f"set up properties {names} of the {layout.kind} database"
        self.lines.append(line)
        if done:
            log.warning("%s", line)


def _planned_types(layout: DatabaseLayout, schema: Mapping[str, Any]) -> dict[str, str]:
    # A property a dry run would add has no type in the data source yet.
    types = {}
    for spec in layout.specs:
        found = schema.get(layout.name(spec.role)) or {}
        types[spec.role] = found.get("type") or next(iter(found), spec.type)
    return types


def _store_recreated(
    engine: Engine, kind: str, database_id: str, data_source_id: str
) -> None:
    # The new ids and the forgotten pages go in one transaction, so a crash never
    # leaves page ids of the old database stored against the new one.
    database_key, data_source_key = _META_KEYS[kind]
    with session_factory(engine).begin() as session:
        set_meta(session, database_key, database_id)
        set_meta(session, data_source_key, data_source_id)
        session.execute(delete(NotionPage).where(NotionPage.kind == PAGE_KINDS[kind]))


def _store_parent(engine: Engine, parent: str) -> None:
    with session_factory(engine).begin() as session:
        set_meta(session, keys.NOTION_PARENT_PAGE_ID, parent)
