"""Make both Notion databases equal to the ledger's projection, whatever their state.

Sellers edit, delete and duplicate rows, and sometimes delete a whole database. A
rebuild reads every page of both databases (past Notion's 10,000-row query limit),
and for each key the ledger projects it keeps the oldest page, restores it from the
trash or creates it, and writes the owned properties that differ. It trashes younger
duplicates and pages whose key the ledger does not project. Pages without a key and
properties the tool does not own are never written.

Each write is recorded in `notion_pages` at once, in its own transaction. The plan is
made from what Notion contains, so a rebuild that was interrupted finishes the job when
run again, and a rebuild right after another sends no write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from ledger.config import Settings
from ledger.errors import NotionConfigError, NotionError
from ledger.notion.ids import canonical_id
from ledger.notion.layout import layouts
from ledger.notion.projection import DAILY, Desired, desired_daily, desired_products
from ledger.notion.rebuild_plan import (
    KeyPlan,
    Page,
    Snapshot,
    claim_strays,
    group_by_key,
    plan_kind,
    read_pages,
    unprojected_pages,
)
from ledger.notion.rebuild_records import (
    forget_other_keys,
    mark_create_started,
    record,
    record_unchanged,
    stored_rows,
)
from ledger.notion.rebuild_targets import Target, prepare_targets
from ledger.store.db import session_factory
from ledger.store.models import NotionPage

if TYPE_CHECKING:
    from ledger.notion.client import NotionClient

log = logging.getLogger(__name__)

# Called with a stage ("reading products", "writing daily"), the count done so far
# and the total when it is known.
Progress = Callable[[str, int, int | None], None]


@dataclass
class RebuildResult:
    """Counts of one rebuild. In a dry run they count the planned changes."""

    read: int = 0  # pages read from Notion, trashed ones included
    matched: int = 0  # projected keys that already had a page
    updated: int = 0
    created: int = 0
    restored: int = 0  # pages taken out of the trash
    trashed: int = 0  # duplicates and pages of keys the ledger does not project
    left_alone: int = 0  # pages without a key
    failed: int = 0  # keys whose write Notion rejected
    skipped: int = 0  # daily keys whose product page could not be written
    writes: int = 0  # page creates and updates sent
    duration: float = 0.0
    dry_run: bool = False
    databases: list[str] = field(default_factory=list)  # database changes, one a line
    planned: list[str] = field(default_factory=list)  # dry run: one line per write


def rebuild(
    engine: Engine,
    settings: Settings,
    client: NotionClient,
    *,
    dry_run: bool = False,
    recreate_missing: bool = False,
    progress: Progress | None = None,
) -> RebuildResult:
    """Make the Notion databases equal to the ledger's projection.

    A database that is gone is re-created under the parent page only with
    `recreate_missing`, otherwise NotionConfigError names it and the fix. With
    `dry_run`, nothing is written to Notion or the ledger and `planned` lists the
    writes. Raises NotionError when Notion fails; running again finishes the job.
    """
    started = time.monotonic()
    result = RebuildResult(dry_run=dry_run)
    prepared = prepare_targets(
        engine,
        settings,
        client,
        layouts(settings),
        dry_run=dry_run,
        recreate_missing=recreate_missing,
    )
    result.databases = prepared.lines
    products, daily = prepared.targets

    rebuilder = _Rebuilder(engine, client, result, progress, dry_run=dry_run)
    completed = False
    try:
        product_pages = rebuilder.rebuild_target(products, {})
        rebuilder.rebuild_target(daily, product_pages)
        rebuilder.raise_for_failures()
        completed = True
    finally:
        result.duration = time.monotonic() - started
        _log_result(result, completed=completed)
    return result


def _log_result(result: RebuildResult, *, completed: bool) -> None:
    if result.dry_run:
        return
    log.info(
        "%s: %d read, %d matched, %d updated, %d created, %d restored, %d trashed, "
        "%d left alone, %d failed, %d writes in %.1fs",
        "rebuild-notion" if completed else "rebuild-notion stopped by an error",
        result.read,
        result.matched,
        result.updated,
        result.created,
        result.restored,
        result.trashed,
        result.left_alone,
        result.failed,
        result.writes,
        result.duration,
    )


def _is_fatal(error: NotionError) -> bool:
    """Return whether an error stops the rebuild instead of failing one key."""
    return isinstance(error, NotionConfigError) or error.transient


class _Rebuilder:
    """Plans and applies the rebuild of each database in turn."""

    def __init__(
        self,
        engine: Engine,
        client: NotionClient,
        result: RebuildResult,
        progress: Progress | None,
        *,
        dry_run: bool,
    ) -> None:
        self.engine = engine
        self.client = client
        self.result = result
        self.progress = progress
        self.dry_run = dry_run
        self.errors: list[str] = []

    def rebuild_target(
        self, target: Target, product_pages: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """Rebuild one database and return its page id per key (None: no page).

        `product_pages` maps product ids to their pages, for the daily Product relation.
        """
        stored = stored_rows(self.engine, target.page_kind)
        stored_ids = {key: row.page_id for key, row in stored.items() if row.page_id}
        owners = {
            (canonical_id(page_id) or page_id): key
            for key, page_id in stored_ids.items()
        }
        snapshot = self._read(target, stored_ids)
        grouped, keyless = group_by_key(target.layout, snapshot.live, owners)
        found = set(grouped) | set(snapshot.trashed)
        desired = self._desired(target, found, product_pages)
        desired_keys = {entry.key for entry in desired}
        grouped = claim_strays(grouped, desired_keys, owners)
        plans = plan_kind(
            target.layout, desired, grouped, snapshot.trashed, stored_ids, target.types
        )
        unprojected = unprojected_pages(grouped, desired_keys)

        self.result.read += snapshot.read
        self.result.left_alone += keyless
        self.result.matched += sum(plan.page is not None for plan in plans)
        if self.dry_run:
            _describe(self.result, target, plans, unprojected)
            return {plan.desired.key: plan.page_id for plan in plans}

        _Writer(self, target, stored).apply(plans, unprojected)
        return {
            key: row.page_id
            for key, row in stored_rows(self.engine, target.page_kind).items()
        }

    def raise_for_failures(self) -> None:
        if self.errors:
            raise NotionError(
                f"{len(self.errors)} page(s) could not be written; first error: "
                f"{self.errors[0]}. Fix the cause and run `gumroad-ledger "
                "rebuild-notion` again"
            )

    def report(self, stage: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def _read(self, target: Target, stored_ids: Mapping[str, str]) -> Snapshot:
        if target.data_source_id is None:
            return Snapshot([], {})  # a dry run that would create this database
        stage = f"reading {target.layout.kind}"
        self.report(stage, 0, None)
        return read_pages(
            self.client,
            target.data_source_id,
            stored_ids,
            lambda done: self.report(stage, done, None),
        )

    def _desired(
        self,
        target: Target,
        found_keys: set[str],
        product_pages: Mapping[str, str | None],
    ) -> list[Desired]:
        with session_factory(self.engine)() as session:
            if target.layout.kind == "products":
                return desired_products(session)
            # A day that netted out to zero keeps its page, as a push keeps it, but
            # only while the page exists.
            pages = {key: page for key, page in product_pages.items() if page}
            return desired_daily(session, pages, found_keys)


class _Writer:
    """Sends the writes of one database and records each in the ledger at once."""

    def __init__(
        self, rebuilder: _Rebuilder, target: Target, stored: Mapping[str, NotionPage]
    ) -> None:
        self.rebuilder = rebuilder
        self.engine = rebuilder.engine
        self.client = rebuilder.client
        self.result = rebuilder.result
        self.target = target
        self.stored = stored
        self.stage = f"writing {target.layout.kind}"
        self.total = 0
        self.done = 0

    def apply(self, plans: list[KeyPlan], unprojected: list[tuple[str, Page]]) -> None:
        """Write every planned change, then forget keys the ledger does not project."""
        self.total = sum(_write_count(plan) for plan in plans) + len(unprojected)
        unchanged = []
        for plan in plans:
            label = plan.desired.label
            if self._is_orphan(plan.desired):
                continue
            wrote = self._guarded(label, partial(self._write_key, plan))
            if not wrote and plan.page_id is not None:
                unchanged.append((plan.desired, plan.page_id))
        for key, page in unprojected:
            label = f"{self.target.page_kind} {key}"
            reason = f"{label} is not projected by the ledger"
            self._guarded(label, partial(self._trash, page, reason))

        record_unchanged(self.engine, self.target.page_kind, unchanged, self.stored)
        desired_keys = {plan.desired.key for plan in plans}
        forget_other_keys(self.engine, self.target.page_kind, desired_keys)

    def _is_orphan(self, desired: Desired) -> bool:
        if desired.kind != DAILY or desired.values.get("product") is not None:
            return False
        self.result.skipped += 1
        log.warning(
            "%s waits for its product page, which failed; skipped", desired.label
        )
        return True

    def _guarded(self, label: str, write: Callable[[], bool | None]) -> bool:
        """Run one key's writes; a rejected write fails the key, not the rebuild.

        Returns whether the key counts as written (or failed), so that the caller
        does not record it as unchanged.
        """
        try:
            return bool(write())
        except NotionError as error:
            if _is_fatal(error):
                raise _with_resume_hint(error) from error
            self.result.failed += 1
            self.rebuilder.errors.append(f"{label}: {error}")
            log.error("could not rebuild %s: %s", label, error)
            return True

    def _write_key(self, plan: KeyPlan) -> bool:
        desired = plan.desired
        if plan.page_id is None:
            self._create(desired)
            return True

        if plan.restore:
            self._send(plan.page_id, in_trash=False)
            self.result.restored += 1
        if plan.needs_update:
            self._send(plan.page_id, **self._update_arguments(plan))
            self.result.updated += 1
        if plan.restore or plan.needs_update:
            record(self.engine, desired, plan.page_id)
        for duplicate in plan.duplicates:
            self._trash(duplicate, f"a younger duplicate of {desired.label}")
        return plan.restore or plan.needs_update

    def _create(self, desired: Desired) -> None:
        assert self.target.data_source_id is not None
        properties = self.target.layout.encode(
            desired.values, self.target.types, label=desired.label
        )
        mark_create_started(self.engine, desired)
        self.result.writes += 1
        page = self.client.create_page(
            self.target.data_source_id, properties, cover_url=desired.cover
        )
        record(self.engine, desired, str(page["id"]))
        self.result.created += 1
        self._advance()

    def _update_arguments(self, plan: KeyPlan) -> dict[str, Any]:
        desired = plan.desired
        arguments: dict[str, Any] = {}
        if plan.roles:
            values = {role: desired.values[role] for role in plan.roles}
            arguments["properties"] = self.target.layout.encode(
                values, self.target.types, label=desired.label
            )
        if plan.cover_changed and desired.cover is not None:
            arguments["cover_url"] = desired.cover
        elif plan.cover_changed:
            arguments["remove_cover"] = True
        return arguments

    def _trash(self, page: Page, reason: str) -> None:
        page_id = str(page["id"])
        try:
            self._send(page_id, in_trash=True)
        except NotionError as error:
            if error.status != 404:
                raise
            log.debug("page %s is already gone", page_id)
        log.debug("trashed page %s: %s", page_id, reason)
        self.result.trashed += 1

    def _send(self, page_id: str, **arguments: Any) -> None:
        self.result.writes += 1
        self.client.update_page(page_id, **arguments)
        self._advance()

    def _advance(self) -> None:
        self.done += 1
        self.rebuilder.report(self.stage, self.done, max(self.total, self.done))


def _write_count(plan: KeyPlan) -> int:
    own = 1 if plan.page is None else int(plan.restore) + int(plan.needs_update)
    return own + len(plan.duplicates)


def _with_resume_hint(error: NotionError) -> NotionError:
    if isinstance(error, NotionConfigError):
        return error
    return type(error)(
        f"{error}; run `gumroad-ledger rebuild-notion` again to finish the rebuild",
        status=error.status,
        code=error.code,
        request_id=error.request_id,
        url=error.url,
        transient=error.transient,
    )


def _describe(
    result: RebuildResult,
    target: Target,
    plans: list[KeyPlan],
    unprojected: list[tuple[str, Page]],
) -> None:
    """Count the planned writes of a dry run and describe each on one line."""
    layout = target.layout
    for plan in plans:
        desired = plan.desired
        head = f"{desired.kind} {desired.key} {str(desired.values.get('name', ''))!r}"
        if plan.page_id is None:
            result.created += 1
            result.planned.append(f"create {head}")
        if plan.restore:
            result.restored += 1
            result.planned.append(f"restore {head} from the trash: page {plan.page_id}")
        if plan.needs_update:
            names = [layout.name(role) for role in plan.roles]
            names += ["cover"] if plan.cover_changed else []
            result.updated += 1
            result.planned.append(f"update {head}: {', '.join(names)}")
        for duplicate in plan.duplicates:
            result.trashed += 1
            result.planned.append(
                f"trash {desired.kind} {desired.key} page {duplicate['id']}: a "
                f"younger duplicate of page {plan.page_id}"
            )
    for key, page in unprojected:
        result.trashed += 1
        result.planned.append(
            f"trash {target.page_kind} {key} page {page['id']}: the ledger does not "
            "project this key"
        )
