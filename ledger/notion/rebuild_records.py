"""The rebuild's records in `notion_pages`: page ids and pushed state per key.

They are stored in the form the projector stores them, so a push right after a
rebuild finds nothing pending. Each write to Notion is recorded in its own
transaction, at once, so an interrupted rebuild loses at most the write in flight.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger.notion.ids import canonical_id
from ledger.notion.projection import Desired
from ledger.store.db import session_factory
from ledger.store.models import NotionPage


def stored_rows(engine: Engine, kind: str) -> dict[str, NotionPage]:
    """Return the notion_pages rows of one kind ("product" or "daily"), by key."""
    with session_factory(engine)() as session:
        rows = session.scalars(select(NotionPage).where(NotionPage.kind == kind))
        return {row.key: row for row in rows}


def record(engine: Engine, desired: Desired, page_id: str) -> None:
    """Store a key's page id and pushed state in its own transaction."""
    with session_factory(engine).begin() as session:
        row = session.get(NotionPage, (desired.kind, desired.key))
        _fill(session, row, desired, page_id)


def record_unchanged(
    engine: Engine,
    kind: str,
    entries: Iterable[tuple[Desired, str]],
    stored: Mapping[str, NotionPage],
) -> None:
    """Store, in one transaction, the pages that needed no write but differ from
    what `stored` contains (a page id or pushed state the ledger did not know)."""
    changed = [
        (desired, page_id)
        for desired, page_id in entries
        if not _is_recorded(stored.get(desired.key), desired, page_id)
    ]
    if not changed:
        return
    with session_factory(engine).begin() as session:
        rows = session.scalars(select(NotionPage).where(NotionPage.kind == kind))
        by_key = {row.key: row for row in rows}
        for desired, page_id in changed:
            _fill(session, by_key.get(desired.key), desired, page_id)


def mark_create_started(engine: Engine, desired: Desired) -> None:
    """Record that a create is about to be sent, before it leaves this machine.

    A push that runs after an interrupted rebuild then looks the key up in Notion
    before it creates the page again.
    """
    with session_factory(engine).begin() as session:
        row = session.get(NotionPage, (desired.kind, desired.key))
        if row is None:
            row = NotionPage(kind=desired.kind, key=desired.key)
            session.add(row)
        row.page_id = None
        row.create_started_at = datetime.now(UTC)


def forget_other_keys(engine: Engine, kind: str, keys: set[str]) -> None:
    """Delete the rows of one kind whose key is not in `keys`."""
    with session_factory(engine)() as session:
        query = select(NotionPage.key).where(NotionPage.kind == kind)
        stale = set(session.scalars(query)) - keys
    if not stale:
        return
    with session_factory(engine).begin() as session:
        session.execute(
            delete(NotionPage).where(NotionPage.kind == kind, NotionPage.key.in_(stale))
        )


def _is_recorded(row: NotionPage | None, desired: Desired, page_id: str) -> bool:
    if row is None or row.page_id is None or row.create_started_at is not None:
        return False
    pushed = json.loads(row.pushed_json) if row.pushed_json else None
    same_page = canonical_id(row.page_id) == canonical_id(page_id)
    return same_page and pushed == desired.state()


def _fill(
    session: Session, row: NotionPage | None, desired: Desired, page_id: str
) -> None:
    if row is None:
        row = NotionPage(kind=desired.kind, key=desired.key)
        session.add(row)
    row.page_id = page_id
    row.pushed_json = json.dumps(desired.state(), sort_keys=True)
    row.pushed_at = datetime.now(UTC)
    row.create_started_at = None
