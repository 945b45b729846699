"""`gumroad-ledger poll`."""

from __future__ import annotations

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo, format_usd


@click.command("poll")
@click.pass_obj
def poll_command(app: AppContext) -> None:
    """Poll Gumroad once and append what changed to the ledger.

    Every page of the product list is read; products whose state changed get a
    snapshot, and moved totals get a signed delta. A failed poll is recorded with
    its error and exits 1.

    Example: gumroad-ledger poll
    """
    from ledger.poller import poll

    settings = app.settings()
    settings.require_gumroad_token()
    engine = app.engine()
    with app.sync_lock(), app.gumroad_client() as client:
        result = poll(engine, client, settings.timezone)
    echo(describe_poll(result))


def describe_poll(result: object) -> str:
    """Return the one-line summary of a poll for stdout."""
    from ledger.poller import PollResult

    assert isinstance(result, PollResult)
    if result.baseline:
        return (
            f"poll {result.poll_id}: baseline recorded for {result.products_seen} "
            f"products ({_plural(result.pages, 'API page')})"
        )
    return (
        f"poll {result.poll_id}: {result.products_seen} products seen, "
        f"{result.products_changed} changed ({result.products_new} new, "
        f"{result.products_deleted} deleted), net sales {result.sales_delta:+d}, "
        f"net revenue {format_usd(result.revenue_usd_cents_delta, signed=True)}"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
