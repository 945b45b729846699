"""`gumroad-ledger init`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@click.command("init")
@click.option(
    "--skip-notion",
    is_flag=True,
    help="Only create or upgrade the ledger; leave Notion alone.",
)
@click.pass_obj
def init_command(app: AppContext, skip_notion: bool) -> None:
    """Create or upgrade the ledger, then set up the two Notion databases.

    With NOTION_PARENT_PAGE_ID set, the databases are created under that page;
    with NOTION_PRODUCTS_DATABASE_ID and NOTION_DAILY_DATABASE_ID set, existing
    databases are adopted and missing properties added. The ids are stored in the
    ledger, so later commands need only the two tokens. Running init again changes
    nothing.

    Example: NOTION_PARENT_PAGE_ID=<page url> gumroad-ledger init
    """
    from ledger.config import describe_database_url
    from ledger.store.db import create_ledger_engine, upgrade

    settings = app.settings()
    engine = create_ledger_engine(settings.database_url)
    before, head = upgrade(engine)
    location = describe_database_url(settings.database_url)
    if before == head:
        echo(f"ledger {location} is at schema revision {head}")
    else:
        echo(f"ledger {location} upgraded from {before or 'empty'} to {head}")

    echo(_pin_timezone(engine, settings.timezone.key))

    if skip_notion:
        return
    _init_notion(app, engine)


def _pin_timezone(engine: Engine, zone: str) -> str:
    """Store the zone that dates deltas; later commands warn when theirs differs."""
    from ledger.store import keys
    from ledger.store.db import get_meta, session_factory, set_meta

    with session_factory(engine).begin() as session:
        stored = get_meta(session, keys.LEDGER_TIMEZONE)
        if stored != zone:
            set_meta(session, keys.LEDGER_TIMEZONE, zone)
    if stored is None or stored == zone:
        return f"days are counted in {zone}"
    return (
        f"days are now counted in {zone}, was {stored}; days already recorded "
        "keep their dates"
    )


def _init_notion(app: AppContext, engine: Engine) -> None:
    settings = app.settings()
    configured = (
        settings.notion_parent_page_id
        or settings.notion_products_database_id
        or settings.notion_daily_database_id
    )
    from ledger.notion.setup import init_notion, stored_targets

    if not configured and not stored_targets(engine):
        echo(
            "notion: not configured; set NOTION_TOKEN and NOTION_PARENT_PAGE_ID "
            "(or the two NOTION_*_DATABASE_ID variables) and run init again"
        )
        return
    for line in init_notion(engine, settings):
        echo(f"notion: {line}")
