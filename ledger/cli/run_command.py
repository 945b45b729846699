"""`gumroad-ledger run`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ledger.cli.context import AppContext
from ledger.cli.output import log_cycles

if TYPE_CHECKING:
    from ledger.scheduler import SyncCycle

log = logging.getLogger(__name__)


@click.command("run")
@click.option(
    "--interval",
    metavar="DURATION",
    help=(
        "Time between syncs: seconds (600) or a duration such as 90s, 10m, 1h "
        "[env: LEDGER_POLL_INTERVAL; default: 10m]."
    ),
)
@click.pass_obj
def run_command(app: AppContext, interval: str | None) -> None:
    """Sync now and then every interval, until SIGTERM or SIGINT.

    Each cycle polls Gumroad and, when `init` stored Notion databases in the
    ledger and NOTION_TOKEN is set, pushes the changes to Notion. A failed cycle
    is logged and the next one runs on time. On SIGTERM or Ctrl-C the cycle in
    flight finishes and the command exits 0; a second signal exits at once
    with 130. Only one `run` per ledger: a second one exits 1 and names the
    process that is running.

    Example: gumroad-ledger run --interval 10m
    """
    from ledger.config import describe_database_url, parse_interval
    from ledger.scheduler import (
        MIN_LOCK_WAIT_SECONDS,
        Heartbeat,
        Scheduler,
        SyncCycle,
    )

    settings = app.settings()
    seconds = (
        parse_interval(interval, name="--interval")
        if interval is not None
        else settings.poll_interval
    )
    settings.require_gumroad_token()
    log_cycles(app.verbosity)
    _one_line_per_cycle(app.verbosity)

    with _one_scheduler_per_ledger(app.ledger_path()):
        engine = app.engine()
        cycle = SyncCycle(app, lock_wait=max(seconds, MIN_LOCK_WAIT_SECONDS))
        scheduler = Scheduler(cycle, seconds, heartbeat=Heartbeat(engine, seconds))
        # A cycle still waiting for a hand-run sync gives up when a signal arrives.
        cycle.stop_requested = scheduler.stopping
        log.info(
            "scheduler started: ledger %s, a sync every %s; %s",
            describe_database_url(settings.database_url),
            _describe_seconds(seconds),
            _describe_notion(cycle),
        )
        scheduler.run()


def _one_line_per_cycle(verbosity: int) -> None:
    """Leave the per-cycle INFO line to the scheduler unless -v is given.

    The poller and the projector each log their own summary at INFO, which the
    scheduler's cycle line repeats. Their warnings and errors still show.
    """
    if verbosity <= 0:
        for name in ("ledger.poller", "ledger.notion.projector"):
            logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def _one_scheduler_per_ledger(path: Path | None) -> Iterator[None]:
    from ledger import lock
    from ledger.errors import LockedError

    if path is None:
        # An in-memory ledger lives and dies with this process.
        yield
        return
    scheduler_lock = lock.lock_path(path, "scheduler")
    with ExitStack() as stack:
        try:
            stack.enter_context(lock.hold(scheduler_lock, wait=0, what="the scheduler"))
        except LockedError:
            owner = lock.describe_owner(lock.read_owner(scheduler_lock))
            raise LockedError(
                f"a scheduler is already running for ledger {path}: {owner}. "
                "Stop it first, because only one `gumroad-ledger run` may run "
                "per ledger"
            ) from None
        yield


def _describe_seconds(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _describe_notion(cycle: SyncCycle) -> str:
    reason = cycle.notion_skip_reason()
    if reason is None:
        return "each sync pushes to Notion"
    return f"no Notion push for now ({reason})"
