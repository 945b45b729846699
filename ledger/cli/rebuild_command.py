"""`gumroad-ledger rebuild-notion`."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo

if TYPE_CHECKING:
    from ledger.notion.rebuild import RebuildResult

# Seconds between two redraws of the progress line.
REDRAW_INTERVAL = 0.1


@click.command("rebuild-notion")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print each write a rebuild would make, one a line, and change nothing "
    "in Notion or the ledger.",
)
@click.option(
    "--recreate-missing",
    is_flag=True,
    help="Create a new database under the parent page (NOTION_PARENT_PAGE_ID, or "
    "the page init used) for each database that was deleted or is no longer shared "
    "with the integration.",
)
@click.pass_obj
def rebuild_command(app: AppContext, dry_run: bool, recreate_missing: bool) -> None:
    """Make the Notion databases equal to the ledger, whatever state they are in.

    Every page of both databases is read. For each product and day the ledger
    projects, the oldest page is kept (or restored from the trash, or created) and
    the cells the tool owns are rewritten where they differ. Duplicate pages and
    pages whose key the ledger does not project go to the trash. Pages without a
    key, and properties the tool does not own, are left alone. An interrupted
    rebuild finishes when run again.

    Example: gumroad-ledger rebuild-notion --dry-run
    """
    from ledger.notion.rebuild import rebuild
    from ledger.notion.setup import require_targets
    from ledger.store.db import require_current

    settings = app.settings()
    settings.require_notion_token()
    engine = app.engine(upgrade=not dry_run)
    if dry_run:
        require_current(engine)
    require_targets(engine)

    progress = TerminalProgress.for_stderr()
    with app.sync_lock(), app.notion_client() as client:
        try:
            result = rebuild(
                engine,
                settings,
                client,
                dry_run=dry_run,
                recreate_missing=recreate_missing,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.close()

    for line in result.databases + result.planned:
        echo(line)
    echo(describe_rebuild(result))


def describe_rebuild(result: RebuildResult) -> str:
    """Return the one-line summary of a rebuild for stdout."""
    read = f"{result.read} read, {result.matched} matched"
    alone = f"{result.left_alone} left alone"
    if result.dry_run:
        return (
            f"rebuild-notion (dry run): {read}, {result.updated} to update, "
            f"{result.created} to create, {result.restored} to restore, "
            f"{result.trashed} to trash, {alone}; nothing was changed"
        )

    parts = [
        read,
        f"{result.updated} updated",
        f"{result.created} created",
        f"{result.restored} restored",
        f"{result.trashed} trashed",
        alone,
    ]
    if result.skipped:
        parts.append(f"{result.skipped} waiting for their product page")
    return (
        f"rebuild-notion: {', '.join(parts)} "
        f"({result.writes} writes in {result.duration:.1f}s)"
    )


class TerminalProgress:
    """A status line on a terminal that each report overwrites in place."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0
        self.stage = ""
        self.drawn_at = 0.0

    @classmethod
    def for_stderr(cls) -> TerminalProgress | None:
        """Return a progress line on stderr, or None when stderr is not a terminal."""
        return cls(sys.stderr) if sys.stderr.isatty() else None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        recent = now - self.drawn_at < REDRAW_INTERVAL
        if stage == self.stage and recent and not finished:
            return
        self.stage, self.drawn_at = stage, now
        text = f"{stage}: {done} pages" if total is None else f"{stage}: {done}/{total}"
        self._draw(text)

    def close(self) -> None:
        """Erase the line, so that the output that follows starts clean."""
        if self.width:
            self._draw("")
            self.stream.write("\r")
            self.stream.flush()
            self.width = 0

    def _draw(self, text: str) -> None:
        # Padding to the longest line drawn so far erases the rest of a longer one.
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(text))
