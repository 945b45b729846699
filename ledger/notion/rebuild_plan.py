"""Read one database's pages and decide, per key, what a rebuild changes in Notion.

The plan compares each page's property values as Notion returns them with the
ledger's projection, so cells a user edited are found even when the stored pushed
state still matches the ledger. Planning reads Notion and the ledger only, so a
rebuild that was interrupted plans the remaining work again from where Notion is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ledger.errors import NotionError
from ledger.notion.client import is_trashed
from ledger.notion.ids import canonical_id
from ledger.notion.layout import DatabaseLayout
from ledger.notion.projection import PRODUCT, Desired

if TYPE_CHECKING:
    from ledger.notion.client import NotionClient

log = logging.getLogger(__name__)

Page = dict[str, Any]
ReadProgress = Callable[[int], None]  # called with the number of pages read so far

# Pages read between two progress reports: one query response.
REPORT_EVERY = 100
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass
class Snapshot:
    """The pages of one database as the rebuild read them."""

    live: list[Page]  # pages not in the trash
    trashed: dict[str, Page]  # key -> its page stored by the ledger, now in the trash
    read: int = 0  # pages read, trashed ones included


@dataclass
class KeyPlan:
    """The changes a rebuild makes for one projected key."""

    desired: Desired
    page: Page | None  # the page kept for the key, or None to create one
    restore: bool = False  # the kept page is in the trash
    roles: tuple[str, ...] = ()  # owned properties whose value differs
    cover_changed: bool = False
    duplicates: list[Page] = field(default_factory=list)  # younger pages to trash

    @property
    def page_id(self) -> str | None:
        """Return the id of the page kept for the key, if it has one."""
        return None if self.page is None else str(self.page["id"])

    @property
    def needs_update(self) -> bool:
        """Return whether the kept page's owned values or cover must be written."""
        return bool(self.roles) or self.cover_changed


def read_pages(
    client: NotionClient,
    data_source_id: str,
    stored_ids: Mapping[str, str],
    progress: ReadProgress | None = None,
) -> Snapshot:
    """Read every page of a data source, and the trashed pages stored for a key.

    `stored_ids` maps keys to the page ids stored in the ledger. A stored page that
    the query did not return is read by id: a trashed one can then be restored
    instead of created again. Stored pages deleted for good, or moved to another
    database, are skipped.
    """
    live = []
    for page in client.query_all(data_source_id):
        live.append(page)
        if progress is not None and len(live) % REPORT_EVERY == 0:
            progress(len(live))

    seen = {canonical_id(str(page["id"])) for page in live}
    snapshot = Snapshot(live, {})
    for key, page_id in stored_ids.items():
        if canonical_id(page_id) in seen:
            continue
        found = _get_page(client, page_id)
        if found is None or not _belongs_to(found, data_source_id):
            continue
        if is_trashed(found):
            snapshot.trashed[key] = found
        else:
            # Notion's query may lag behind a page written moments ago.
            live.append(found)
            seen.add(canonical_id(page_id))

    snapshot.read = len(live) + len(snapshot.trashed)
    if progress is not None:
        progress(len(live))
    return snapshot


def page_key(layout: DatabaseLayout, page: Mapping[str, Any]) -> str:
    """Return the key written in a page's key property, or "" when it has none.

    The key is compared exactly, as push and the ledger store it: product ids
    "abc" and "abc " are two keys.
    """
    key = str(layout.decode(page).get(layout.key_role) or "")
    return key if key.strip() else ""


def group_by_key(
    layout: DatabaseLayout, pages: Iterable[Page], owners: Mapping[str, str]
) -> tuple[dict[str, list[Page]], int]:
    """Return the pages grouped by key, and how many have no key.

    `owners` maps page ids (canonical form) to the key the ledger stored them for.
    A page whose key cell is empty keeps that key, so a cleared cell is written
    again instead of a second page being created.
    """
    grouped: dict[str, list[Page]] = {}
    keyless = 0
    for page in pages:
        key = page_key(layout, page) or owners.get(_page_id(page), "")
        if key:
            grouped.setdefault(key, []).append(page)
        else:
            keyless += 1
    return grouped, keyless


def claim_strays(
    grouped: Mapping[str, list[Page]],
    desired_keys: set[str],
    owners: Mapping[str, str],
) -> dict[str, list[Page]]:
    """Return `grouped` with pages of unprojected keys moved to their stored key.

    A page whose key cell was edited to a key the ledger does not project, but
    whose id the ledger stored for a projected key, is that key's page: its key is
    written back instead of the page being trashed.
    """
    claimed: dict[str, list[Page]] = {}
    for key, pages in grouped.items():
        for page in pages:
            owner = owners.get(_page_id(page))
            stray = key not in desired_keys and owner in desired_keys
            claimed.setdefault(owner if stray and owner else key, []).append(page)
    return claimed


def plan_kind(
    layout: DatabaseLayout,
    desired: Iterable[Desired],
    grouped: Mapping[str, list[Page]],
    trashed: Mapping[str, Page],
    stored_ids: Mapping[str, str],
    types: Mapping[str, str],
) -> list[KeyPlan]:
    """Return the plan of each desired key: which page to keep, restore or create.

    The oldest page of a key (by created_time) is kept and the others become
    duplicates. A key without a live page restores its trashed page, if any.
    """
    plans = []
    for entry in desired:
        pages = _oldest_first(grouped.get(entry.key, []), stored_ids.get(entry.key))
        if pages:
            plan = KeyPlan(entry, pages[0], duplicates=pages[1:])
        elif entry.key in trashed:
            plan = KeyPlan(entry, trashed[entry.key], restore=True)
        else:
            plans.append(KeyPlan(entry, None))
            continue
        plan.roles, plan.cover_changed = differences(
            layout, entry, plan.page or {}, types
        )
        plans.append(plan)
    return plans


def unprojected_pages(
    grouped: Mapping[str, list[Page]], desired_keys: set[str]
) -> list[tuple[str, Page]]:
    """Return (key, page) for every page whose key the ledger does not project."""
    return [
        (key, page)
        for key, pages in grouped.items()
        if key not in desired_keys
        for page in pages
    ]


def differences(
    layout: DatabaseLayout,
    desired: Desired,
    page: Mapping[str, Any],
    types: Mapping[str, str],
) -> tuple[tuple[str, ...], bool]:
    """Return the owned roles whose value on `page` differs, and if the cover does."""
    current = layout.decode(page)
    target = layout.round_trip(desired.values, types)
    roles = tuple(
        role
        for role in desired.values
        if not _same_value(types.get(role), current.get(role), target.get(role))
    )
    # Daily pages never get a cover from the tool, so one a user set is theirs.
    cover_changed = desired.kind == PRODUCT and cover_url(page) != desired.cover
    return roles, cover_changed


def cover_url(page: Mapping[str, Any]) -> str | None:
    """Return the URL of a page's external cover, or None."""
    cover = page.get("cover") or {}
    return (cover.get("external") or {}).get("url") or None


def _same_value(kind: str | None, current: Any, target: Any) -> bool:
    if kind == "relation" and isinstance(current, str) and isinstance(target, str):
        return canonical_id(current) == canonical_id(target)
    return bool(current == target)


def _oldest_first(pages: list[Page], stored_id: str | None) -> list[Page]:
    # NOTE: Notion reports created_time to the minute, so duplicates made in the
    # same minute tie. The page the ledger already stores wins a tie, and the
    # query's order decides among the others.
    stored = canonical_id(stored_id) if stored_id else None

    def age(page: Page) -> tuple[datetime, bool]:
        return _created(page), canonical_id(str(page["id"])) != stored

    return sorted(pages, key=age)


def _created(page: Mapping[str, Any]) -> datetime:
    text = page.get("created_time")
    if not isinstance(text, str):
        return _NEVER
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_id(page: Mapping[str, Any]) -> str:
    return canonical_id(str(page["id"])) or str(page["id"])


def _get_page(client: NotionClient, page_id: str) -> Page | None:
    try:
        page: Page = client.get_page(page_id)
    except NotionError as error:
        if error.status == 404:
            log.debug("stored page %s no longer exists in Notion", page_id)
            return None
        raise
    return page


def _belongs_to(page: Mapping[str, Any], data_source_id: str) -> bool:
    parent = page.get("parent") or {}
    found = parent.get("data_source_id")
    return bool(found) and canonical_id(str(found)) == canonical_id(data_source_id)
