"""Project the ledger into the two Notion databases, writing only what changed.

The `notion_pages` table stores, per key, the page id and the values last pushed.
A push computes each key's values from the ledger, compares them with what was
pushed, and sends only the differences. Each success is recorded at once in its own
short transaction, so a crash loses at most the write in flight.

A key without a page is looked up in Notion before it is created. A create whose
outcome is unknown (a timeout, a server error), or that Notion rejected with a 409
conflict, is looked up again before it is retried, so Notion never contains two pages
for one key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ledger.config import Settings
from ledger.errors import NotionConfigError, NotionError
from ledger.notion.layout import PRODUCTS, DatabaseLayout, layouts
from ledger.notion.projection import Desired, PageState, page_states
from ledger.notion.setup import check_properties, require_targets
from ledger.store.db import session_factory
from ledger.store.models import NotionPage

if TYPE_CHECKING:
    from ledger.notion.client import NotionClient

log = logging.getLogger(__name__)

# Up to this many new keys are always looked up with one query each. More keys read
# the whole database, unless that takes more requests than the per-key queries.
PER_KEY_LOOKUP_LIMIT = 10
# Rows per page of a data source query.
QUERY_PAGE_SIZE = 100
# A create that failed ambiguously is looked up and retried at most this often.
CREATE_ATTEMPTS = 3
# Seconds to wait before looking up a create that may have happened, so a query
# that lags behind a just-written page can see it.
SETTLE_SECONDS = 1.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PlannedWrite:
    """A create or update that a push would send."""

    action: str  # "create" or "update"
    kind: str
    key: str
    title: str
    properties: tuple[str, ...] = ()  # the property names an update changes

    def describe(self) -> str:
        """Return the action as one line of dry-run output."""
        line = f"{self.action} {self.kind} {self.key} {self.title!r}"
        if self.action == "create":
            return line + " (or adopt an existing page with this key)"
        return f"{line}: {', '.join(self.properties)}"


@dataclass
class PushResult:
    """Counts of one push; `planned` lists the writes of a dry run."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    adopted: int = 0  # keys matched to pages already in Notion
    restored: int = 0  # pages taken out of the trash
    failed: int = 0  # keys whose write Notion rejected; still pending
    skipped: int = 0  # daily keys left pending because their product has no page
    writes: int = 0  # create and update requests sent
    duration: float = 0.0
    dry_run: bool = False
    planned: list[PlannedWrite] = field(default_factory=list)


def push(
    engine: Engine,
    settings: Settings,
    client: NotionClient,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PushResult:
    """Make the Notion pages equal to the ledger's projection, writing only changes.

    With `dry_run`, nothing is sent (the client is not used) and
    `PushResult.planned` lists the writes. `progress(done, total)` is called after
    each pending key of a database. Raises NotionError when Notion fails; what was
    not pushed stays pending.
    """
    started = time.monotonic()
    targets = require_targets(engine)
    products_layout, daily_layout = layouts(settings)
    result = PushResult(dry_run=dry_run)

    if dry_run:
        result.planned = _plan(engine, products_layout, daily_layout, result)
        result.duration = time.monotonic() - started
        return result

    pusher = _Pusher(engine, client, result, progress)
    completed = False
    try:
        # Products go first: daily pages link to their product's page.
        for layout in (products_layout, daily_layout):
            pusher.push_kind(
                layout,
                targets[f"{layout.kind}_data_source_id"],
                targets.get(f"{layout.kind}_database_id", "(unknown)"),
            )
        pusher.raise_for_failures()
        completed = True
    finally:
        result.duration = time.monotonic() - started
        _log_result(result, completed=completed)
    return result


def pending_counts(engine: Engine, settings: Settings) -> dict[str, int]:
    """Return how many product and daily pages the next push would write."""
    products_layout, daily_layout = layouts(settings)
    with session_factory(engine)() as session:
        products = page_states(session, products_layout)
        daily = page_states(session, daily_layout)
    return {
        "products": sum(item.pending for item in products),
        "daily": sum(item.pending for item in daily),
    }


def _plan(
    engine: Engine,
    products_layout: DatabaseLayout,
    daily_layout: DatabaseLayout,
    result: PushResult,
) -> list[PlannedWrite]:
    planned = []
    with session_factory(engine)() as session:
        for layout in (products_layout, daily_layout):
            for item in page_states(session, layout):
                if not item.pending:
                    result.unchanged += 1
                    continue
                planned.append(_planned_write(layout, item))
    return planned


def _planned_write(layout: DatabaseLayout, item: PageState) -> PlannedWrite:
    desired = item.desired
    title = str(desired.values.get("name", ""))
    if item.page_id is None:
        return PlannedWrite("create", desired.kind, desired.key, title)
    names = [layout.name(role) for role in item.changed_roles()]
    if item.cover_changed():
        names.append("cover")
    return PlannedWrite("update", desired.kind, desired.key, title, tuple(names))


def _log_result(result: PushResult, *, completed: bool) -> None:
    log.info(
        "%s: %d created, %d updated, %d adopted, %d unchanged, %d failed, "
        "%d writes in %.1fs",
        "push" if completed else "push stopped by an error",
        result.created,
        result.updated,
        result.adopted,
        result.unchanged,
        result.failed,
        result.writes,
        result.duration,
    )


def _is_ambiguous(error: NotionError) -> bool:
    """Return whether a failed create is looked up, then sent again.

    That is a create that may still have created the page, or one that Notion
    rejected with 409 conflict_error, after which Notion expects a retry.
    """
    if getattr(error, "ambiguous", False) or error.code == "conflict_error":
        return True
    rejected = error.status in (429, 529)
    return error.transient and not rejected and (error.status or 500) >= 500


def _is_fatal(error: NotionError) -> bool:
    """Return whether an error stops the whole push instead of one key."""
    return isinstance(error, NotionConfigError) or error.transient


def _is_trashed(page: Mapping[str, Any]) -> bool:
    return bool(page.get("in_trash") or page.get("archived"))


class _Pusher:
    """Sends the writes of one push and records each success at once."""

    def __init__(
        self,
        engine: Engine,
        client: NotionClient,
        result: PushResult,
        progress: Progress | None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.result = result
        self.progress = progress
        self.errors: list[str] = []
        self.settle_seconds = SETTLE_SECONDS

    def push_kind(
        self, layout: DatabaseLayout, data_source_id: str, database_id: str
    ) -> None:
        """Push every pending key of one database; products must go first."""
        with session_factory(self.engine)() as session:
            items = page_states(session, layout)
        pending = [item for item in items if item.pending]
        self.result.unchanged += len(items) - len(pending)
        if layout.kind == "daily":
            pending = self._drop_orphans(pending)
        if not pending:
            return

        try:
            self._push_pending(layout, data_source_id, pending)
        except NotionConfigError as error:
            raise NotionConfigError(
                f"cannot push to the {layout.kind} database {database_id}: {error}",
                status=error.status,
                code=error.code,
                request_id=error.request_id,
                url=error.url,
            ) from error

    def _push_pending(
        self, layout: DatabaseLayout, data_source_id: str, pending: list[PageState]
    ) -> None:
        types = check_properties(self.client, layout, data_source_id)
        writer = _Writer(self, layout, data_source_id, types)
        missing = [item.desired.key for item in pending if item.page_id is None]
        found = writer.lookup(missing, self._known_pages(pending[0].desired.kind))
        for done, item in enumerate(pending, 1):
            self._push_one(writer, item, found.get(item.desired.key))
            if self.progress is not None:
                self.progress(done, len(pending))

    def _known_pages(self, kind: str) -> int:
        """Return how many pages of `kind` the ledger maps, an estimate of the size."""
        with session_factory(self.engine)() as session:
            query = select(func.count()).where(
                NotionPage.kind == kind, NotionPage.page_id.is_not(None)
            )
            return int(session.scalar(query) or 0)

    def raise_for_failures(self) -> None:
        if self.errors:
            raise NotionError(
                f"{len(self.errors)} page(s) were not pushed and stay pending; "
                f"first error: {self.errors[0]}"
            )

    def _drop_orphans(self, items: list[PageState]) -> list[PageState]:
        kept = [item for item in items if item.desired.values["product"] is not None]
        self.result.skipped += len(items) - len(kept)
        if len(kept) < len(items):
            log.warning(
                "%d daily page(s) wait for their product page, which is not in "
                "Notion yet; they stay pending",
                len(items) - len(kept),
            )
        return kept

    def _push_one(
        self, writer: _Writer, item: PageState, found: Mapping[str, Any] | None
    ) -> None:
        try:
            if item.page_id is not None:
                writer.update(item)
            elif found is not None:
                writer.adopt(item.desired, found)
            else:
                writer.create(item.desired)
        except NotionError as error:
            if _is_fatal(error):
                raise
            self.result.failed += 1
            self.errors.append(f"{item.desired.label}: {error}")
            log.error("could not push %s: %s", item.desired.label, error)

    def record(self, desired: Desired, page_id: str) -> None:
        """Store the page id and the pushed values of a key, in its own transaction."""
        with session_factory(self.engine).begin() as session:
            row = session.get(NotionPage, (desired.kind, desired.key))
            if row is None:
                row = NotionPage(kind=desired.kind, key=desired.key)
                session.add(row)
            row.page_id = page_id
            row.pushed_json = json.dumps(desired.state(), sort_keys=True)
            row.pushed_at = datetime.now(UTC)
            row.create_started_at = None

    def mark_create_started(self, desired: Desired) -> None:
        """Record that a create is about to be sent, before it leaves this machine."""
        with session_factory(self.engine).begin() as session:
            row = session.get(NotionPage, (desired.kind, desired.key))
            if row is None:
                row = NotionPage(kind=desired.kind, key=desired.key)
                session.add(row)
            row.page_id = None
            row.create_started_at = datetime.now(UTC)


class _Writer:
    """The reads and writes of one database within a push."""

    def __init__(
        self,
        pusher: _Pusher,
        layout: DatabaseLayout,
        data_source_id: str,
        types: Mapping[str, str],
    ) -> None:
        self.pusher = pusher
        self.client = pusher.client
        self.result = pusher.result
        self.layout = layout
        self.data_source_id = data_source_id
        self.types = types

    def lookup(self, keys: list[str], known_pages: int) -> dict[str, dict[str, Any]]:
        """Return the existing page of each key that has one, oldest if several.

        `known_pages` estimates the database's size, so a large database is not
        read whole for a few more keys than PER_KEY_LOOKUP_LIMIT.
        """
        scan_requests = known_pages // QUERY_PAGE_SIZE + 1
        if len(keys) <= max(PER_KEY_LOOKUP_LIMIT, scan_requests):
            found = {key: self.find_one(key) for key in keys}
            return {key: page for key, page in found.items() if page is not None}
        return self._scan(set(keys))

    def find_one(self, key: str) -> dict[str, Any] | None:
        """Return the oldest page whose key property equals `key`, or None."""
        pages = self.client.query_all(
            self.data_source_id, filter=self.layout.key_filter(key)
        )
        matches = [page for page in pages if self._key_of(page) == key]
        if len(matches) > 1:
            self._warn_duplicates(1, len(matches) - 1)
        return matches[0] if matches else None

    def _scan(self, keys: set[str]) -> dict[str, dict[str, Any]]:
        # Reading every page costs one request per 100 pages, fewer than one
        # query per key once many keys are new, e.g. when adopting a database.
        found: dict[str, dict[str, Any]] = {}
        duplicates: dict[str, int] = {}
        for page in self.client.query_all(self.data_source_id):
            key = self._key_of(page)
            if key not in keys:
                continue
            if key in found:
                duplicates[key] = duplicates.get(key, 0) + 1
                continue
            found[key] = page  # query_all returns the oldest page first
        if duplicates:
            self._warn_duplicates(len(duplicates), sum(duplicates.values()))
        return found

    def _key_of(self, page: Mapping[str, Any]) -> str:
        return str(self.layout.decode(page).get(self.layout.key_role) or "")

    def _warn_duplicates(self, keys: int, extra: int) -> None:
        log.warning(
            "the %s database contains %d extra page(s) for %d key(s); the oldest page "
            "of each key is kept up to date, and `gumroad-ledger rebuild-notion` "
            "removes the others",
            self.layout.kind,
            extra,
            keys,
        )

    def create(self, desired: Desired) -> None:
        """Create the page of a key, looking it up again after an unclear failure."""
        self.pusher.mark_create_started(desired)
        properties = self._encode(desired, list(desired.values))
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                self.result.writes += 1
                page = self.client.create_page(
                    self.data_source_id, properties, cover_url=desired.cover
                )
            except NotionError as error:
                if not _is_ambiguous(error) or attempt == CREATE_ATTEMPTS:
                    raise
                log.warning(
                    "creating the page of %s was not confirmed (%s); looking it up "
                    "before trying again (attempt %d of %d)",
                    desired.label,
                    error,
                    attempt + 1,
                    CREATE_ATTEMPTS,
                )
                time.sleep(self.pusher.settle_seconds)
                existing = self.find_one(desired.key)
                if existing is not None:
                    self.adopt(desired, existing)
                    return
                continue

            self.pusher.record(desired, page["id"])
            self.result.created += 1
            return

    def adopt(self, desired: Desired, page: Mapping[str, Any]) -> None:
        """Take over a page found in Notion, writing only the values that differ."""
        current = self.layout.decode(page)
        target = self.layout.round_trip(desired.values, self.types)
        roles = [role for role in desired.values if current.get(role) != target[role]]
        # Only product pages own their cover; a cover on a daily page is the user's.
        cover_changed = (
            self.layout.kind == PRODUCTS and _cover_url(page) != desired.cover
        )
        if _is_trashed(page):
            self._restore(page["id"], desired)
        if roles or cover_changed:
            self._send(page["id"], desired, roles, cover_changed)
        self.pusher.record(desired, page["id"])
        self.result.adopted += 1
        log.debug("adopted page %s for %s", page["id"], desired.label)

    def update(self, item: PageState) -> None:
        """Write the changed values of a key that has a page."""
        assert item.page_id is not None
        desired = item.desired
        try:
            self._send(
                item.page_id, desired, item.changed_roles(), item.cover_changed()
            )
        except NotionError as error:
            if error.status == 404:
                self._replace_missing(item)
                return
            if error.status != 400 or not self._restore_if_trashed(
                item.page_id, desired
            ):
                raise
            self._send(
                item.page_id, desired, item.changed_roles(), item.cover_changed()
            )
        self.pusher.record(desired, item.page_id)
        self.result.updated += 1

    def _send(
        self, page_id: str, desired: Desired, roles: list[str], cover_changed: bool
    ) -> None:
        values = {role: desired.values[role] for role in roles}
        arguments: dict[str, Any] = {}
        if values:
            arguments["properties"] = self._encode(desired, roles)
        if cover_changed and desired.cover is not None:
            arguments["cover_url"] = desired.cover
        elif cover_changed:
            arguments["remove_cover"] = True
        if not arguments:
            return
        self.result.writes += 1
        self.client.update_page(page_id, **arguments)

    def _encode(self, desired: Desired, roles: list[str]) -> dict[str, Any]:
        values = {role: desired.values[role] for role in roles}
        return self.layout.encode(values, self.types, label=desired.label)

    def _restore_if_trashed(self, page_id: str, desired: Desired) -> bool:
        page = self.client.get_page(page_id)
        if not _is_trashed(page):
            return False
        self._restore(page_id, desired)
        return True

    def _restore(self, page_id: str, desired: Desired) -> None:
        log.warning(
            "page %s of %s was in the Notion trash; restoring it",
            page_id,
            desired.label,
        )
        self.result.writes += 1
        self.client.update_page(page_id, in_trash=False)
        self.result.restored += 1

    def _replace_missing(self, item: PageState) -> None:
        desired = item.desired
        log.warning(
            "page %s of %s no longer exists in Notion; looking for another page with "
            "its key before creating a new one",
            item.page_id,
            desired.label,
        )
        existing = self.find_one(desired.key)
        if existing is not None and existing["id"] != item.page_id:
            self.adopt(desired, existing)
        else:
            self.create(desired)


def _cover_url(page: Mapping[str, Any]) -> str | None:
    cover = page.get("cover") or {}
    return (cover.get("external") or {}).get("url") or None
