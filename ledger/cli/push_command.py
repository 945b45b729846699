"""`gumroad-ledger push` and `gumroad-ledger sync`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo, print_error

if TYPE_CHECKING:
    from ledger.notion.projector import PushResult


@click.command("push")
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the creates and updates a push would send, and send nothing.",
)
@click.pass_obj
def push_command(app: AppContext, dry_run: bool) -> None:
    """Project what changed in the ledger into the two Notion databases.

    Only pages whose values differ from what was last pushed are written; a push
    with nothing pending sends no write. Pages that fail stay pending for the next
    push.

    Example: gumroad-ledger push --dry-run
    """
    from ledger.notion.projector import push

    settings = app.settings()
    settings.require_notion_token()
    engine = app.engine()
    _require_targets(engine)
    with app.sync_lock(), app.notion_client() as client:
        result = push(engine, settings, client, dry_run=dry_run)

    if dry_run:
        for write in result.planned:
            echo(write.describe())
    echo(describe_push(result))


@click.command("sync")
@click.pass_obj
def sync_command(app: AppContext) -> None:
    """Poll Gumroad once, then push what changed into Notion.

    A failed poll is recorded, pages still pending from earlier polls are pushed
    anyway, and the command exits 1. When Notion fails, the poll stays in the ledger
    and its pages stay pending for the next push or sync.

    Example: gumroad-ledger sync
    """
    from ledger.cli.poll_command import describe_poll
    from ledger.errors import GumroadError, StoreError
    from ledger.notion.projector import push
    from ledger.poller import poll

    settings = app.settings()
    settings.require_gumroad_token()
    settings.require_notion_token()
    engine = app.engine()
    _require_targets(engine)

    with app.sync_lock():
        # A failed poll is recorded; pages left pending by earlier polls still go out.
        poll_error: GumroadError | StoreError | None = None
        try:
            with app.gumroad_client() as gumroad:
                echo(describe_poll(poll(engine, gumroad, settings.timezone)))
        except (GumroadError, StoreError) as error:
            poll_error = error

        try:
            with app.notion_client() as client:
                result = push(engine, settings, client)
        except Exception:
            if poll_error is not None:
                # main() prints only the error that ends the command.
                print_error(f"poll failed: {poll_error}")
            raise

    echo(describe_push(result))
    if poll_error is not None:
        raise poll_error


def describe_push(result: PushResult) -> str:
    """Return the one-line summary of a push for stdout."""
    if result.dry_run:
        creates = sum(write.action == "create" for write in result.planned)
        updates = len(result.planned) - creates
        return (
            f"push (dry run): {creates} to create, {updates} to update, "
            f"{result.unchanged} unchanged; nothing was sent"
        )

    parts = [
        f"{result.created} created",
        f"{result.updated} updated",
        f"{result.unchanged} unchanged",
    ]
    if result.adopted:
        parts.append(f"{result.adopted} adopted")
    if result.restored:
        parts.append(f"{result.restored} restored from the trash")
    if result.skipped:
        parts.append(f"{result.skipped} waiting for their product page")
    return (
        f"push: {', '.join(parts)} ({result.writes} writes in {result.duration:.1f}s)"
    )


def _require_targets(engine: object) -> None:
    from ledger.notion.setup import require_targets

    require_targets(engine)  # type: ignore[arg-type]
