"""The `run` scheduler: one sync cycle every interval until SIGTERM or SIGINT.

APScheduler 3 fires the cycles in one worker thread (max_instances=1, coalesce=True),
so cycles never overlap and a cycle that overruns the interval delays the next one
instead of stacking runs. The main thread only waits for a stop request, so the
first signal never interrupts a cycle: the cycle in flight finishes, then `run()`
returns. Only a second signal ends the process at once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import GumroadError, LedgerError, LockedError, StoreError
from ledger.store import keys
from ledger.store.db import describe_store_error, session_factory, set_meta

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ledger.config import Settings
    from ledger.poller import PollResult

log = logging.getLogger(__name__)

# Exit status after a second SIGINT or SIGTERM, as a shell reports death by SIGINT.
FORCED_EXIT_STATUS = 130
STOP_POLL_SECONDS = 0.2
LOCK_RETRY_SECONDS = 0.5
MIN_LOCK_WAIT_SECONDS = 30.0
MIN_MISFIRE_GRACE_SECONDS = 30


class SyncResources(Protocol):
    """Resources a sync cycle takes from the command's context (`AppContext`)."""

    def settings(self) -> Settings: ...

    def engine(self) -> Engine: ...

    def sync_lock(
        self, *, wait: float | None = None
    ) -> AbstractContextManager[None]: ...

    def gumroad_client(self) -> Any: ...

    def notion_client(self) -> Any: ...


class _Cancelled(Exception):
    """The scheduler is stopping, so a cycle still waiting for the lock gives up."""


@dataclass
class CycleReport:
    """Outcome of one sync cycle: the poll, the push, or the error that ended it."""

    number: int
    started_at: datetime
    finished_at: datetime | None = None
    # "ok", "failed", or "cancelled" (stopped before the poll began).
    status: str = "ok"
    # The step that was running when the cycle ended: "lock", "poll" or "push".
    step: str | None = None
    poll: PollResult | None = None
    push: Any | None = None
    push_skipped: str | None = None
    error: str | None = None
    error_type: str | None = None
    consecutive_failures: int = 0
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        """Seconds from start to finish (0 while the cycle is still running)."""
        if self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def pages_written(self) -> int:
        """Notion pages created or updated by the push."""
        if self.push is None:
            return 0
        return int(self.push.created) + int(self.push.updated)

    @property
    def unexpected(self) -> bool:
        """Tell whether the cycle failed on a bug rather than a LedgerError."""
        return self.exception is not None and not isinstance(
            self.exception, LedgerError
        )

    def fail(self, error: BaseException) -> None:
        self.status = "failed"
        self.exception = error
        notes = getattr(error, "__notes__", [])
        self.error = "; ".join([str(error) or type(error).__name__, *notes])
        self.error_type = type(error).__name__

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready summary stored as the scheduler's last cycle."""
        poll = self.poll
        return {
            "number": self.number,
            "status": self.status,
            "step": self.step,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": (
                self.finished_at.isoformat(timespec="seconds")
                if self.finished_at
                else None
            ),
            "duration_seconds": round(self.duration, 3),
            "poll_id": poll.poll_id if poll else None,
            "baseline": poll.baseline if poll else None,
            "products_seen": poll.products_seen if poll else None,
            "products_changed": poll.products_changed if poll else None,
            "sales_delta": poll.sales_delta if poll else None,
            "revenue_usd_cents_delta": poll.revenue_usd_cents_delta if poll else None,
            "pages_written": self.pages_written if self.push is not None else None,
            "push_skipped": self.push_skipped,
            "error": self.error,
            "error_type": self.error_type,
            "consecutive_failures": self.consecutive_failures,
        }

    def describe(self) -> str:
        """Return the one-line summary logged for the cycle."""
        if self.status == "cancelled":
            return f"cycle {self.number} cancelled: the scheduler is stopping"
        if self.status == "failed":
            return self._describe_failure()
        return f"cycle {self.number}: {self._describe_work()}, {self.duration:.1f}s"

    def _describe_work(self) -> str:
        poll = self.poll
        assert poll is not None
        if poll.baseline:
            done = f"baseline of {poll.products_seen} products recorded"
        else:
            done = (
                f"{poll.products_seen} products seen, {poll.products_changed} "
                f"changed, net sales {poll.sales_delta:+d}, net revenue "
                f"{_usd(poll.revenue_usd_cents_delta)}"
            )
        if self.push is not None:
            return f"{done}, {self.pages_written} Notion pages written"
        return f"{done}, no Notion push ({self.push_skipped})"

    def _describe_failure(self) -> str:
        done = []
        if self.poll is not None:
            done.append(
                f"poll {self.poll.poll_id} recorded, "
                f"{self.poll.products_changed} products changed"
            )
        if self.push is not None:
            done.append(f"{self.pages_written} Notion pages written")
        recorded = f" ({', '.join(done)})" if done else ""
        streak = ""
        if self.consecutive_failures > 1:
            streak = f" [{self.consecutive_failures} failed cycles in a row]"
        where = f" in {self.step}" if self.step else ""
        return (
            f"cycle {self.number} failed{where} after "
            f"{self.duration:.1f}s{recorded}: {self.error}{streak}"
        )


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else "+"
    return f"{sign}{abs(cents) / 100:,.2f} USD"


class SyncCycle:
    """One sync: poll Gumroad, then push to Notion when it is configured.

    The whole cycle runs under the ledger's sync lock, so a hand-run `poll`, `push`
    or `sync` never interleaves with it. While another process holds that lock the
    cycle waits up to `lock_wait` seconds, and gives up early when `stop_requested`
    turns true.
    """

    def __init__(
        self,
        resources: SyncResources,
        *,
        lock_wait: float = MIN_LOCK_WAIT_SECONDS,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> None:
        self.resources = resources
        self.lock_wait = lock_wait
        self.stop_requested = stop_requested

    def __call__(self, number: int) -> CycleReport:
        """Run cycle `number`; a failure ends up in the report and is not raised.

        As in `sync`, a failed Gumroad poll still lets pages pending from earlier
        polls go out to Notion, and the cycle then fails with the poll's error.
        `report.unexpected` is true for a bug, kept in `report.exception` with its
        traceback, and false for an expected LedgerError.
        """
        report = CycleReport(number=number, started_at=datetime.now(UTC))
        try:
            with ExitStack() as stack:
                report.step = "lock"
                self._enter_sync_lock(stack)
                self._poll_then_push(report)
        except _Cancelled:
            report.status = "cancelled"
        except Exception as error:
            report.fail(error)
        finally:
            report.finished_at = datetime.now(UTC)
        return report

    def notion_skip_reason(self) -> str | None:
        """Return why this cycle cannot push to Notion, or None when it can."""
        return notion_skip_reason(self.resources.engine(), self.resources.settings())

    def _enter_sync_lock(self, stack: ExitStack) -> None:
        deadline = time.monotonic() + self.lock_wait
        announced = False
        while True:
            try:
                stack.enter_context(self.resources.sync_lock(wait=0))
                return
            except LockedError as error:
                if self.stop_requested():
                    raise _Cancelled from error
                if time.monotonic() >= deadline:
                    raise
                if not announced:
                    log.info(
                        "sync cycle waits up to %.0fs for the lock: %s",
                        self.lock_wait,
                        error,
                    )
                    announced = True
            time.sleep(LOCK_RETRY_SECONDS)

    def _poll_then_push(self, report: CycleReport) -> None:
        report.step = "poll"
        # A failed poll is recorded; pages left pending by earlier polls still go out.
        poll_error: GumroadError | StoreError | None = None
        try:
            report.poll = self._poll()
        except (GumroadError, StoreError) as error:
            poll_error = error

        report.step = "push"
        try:
            report.push, report.push_skipped = self._push()
        except LedgerError as error:
            if poll_error is not None:
                error.add_note(f"the poll failed too: {poll_error}")
            raise
        if poll_error is not None:
            report.step = "poll"
            raise poll_error

    def _poll(self) -> PollResult:
        from ledger.poller import poll

        engine = self.resources.engine()
        timezone = self.resources.settings().timezone
        with self.resources.gumroad_client() as client:
            return poll(engine, client, timezone)

    def _push(self) -> tuple[Any | None, str | None]:
        reason = self.notion_skip_reason()
        if reason is not None:
            return None, reason

        from ledger.notion.projector import push

        engine = self.resources.engine()
        settings = self.resources.settings()
        with self.resources.notion_client() as client:
            return push(engine, settings, client), None


def notion_skip_reason(engine: Engine, settings: Settings) -> str | None:
    """Return why a sync cannot push to Notion, or None when it can.

    A push needs NOTION_TOKEN, the projector in this installation, and the data
    sources that `init` stores in the ledger.
    """
    if settings.notion_token is None:
        return "NOTION_TOKEN is not set"
    try:
        from ledger.notion.projector import push  # noqa: F401
        from ledger.notion.setup import stored_targets
    except ImportError:
        return "Notion push is not available in this version"

    targets = stored_targets(engine)
    if not {"products_data_source_id", "daily_data_source_id"} <= targets.keys():
        return "no Notion databases in the ledger: run `gumroad-ledger init`"
    return None


class Heartbeat:
    """Writes the scheduler's liveness and last cycle into the ledger's meta table."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval

    def write(self, last_cycle: CycleReport | None = None) -> None:
        """Store the heartbeat; a database error is logged, not raised."""
        values = {
            keys.SCHEDULER_HEARTBEAT_AT: datetime.now(UTC).isoformat(
                timespec="seconds"
            ),
            keys.SCHEDULER_PID: str(os.getpid()),
            keys.SCHEDULER_HOST: socket.gethostname(),
            keys.SCHEDULER_INTERVAL_SECONDS: f"{self.interval:g}",
        }
        if last_cycle is not None:
            values[keys.SCHEDULER_LAST_CYCLE] = json.dumps(last_cycle.summary())

        try:
            with session_factory(self.engine).begin() as session:
                for key, value in values.items():
                    set_meta(session, key, value)
        except SQLAlchemyError as error:
            log.error(
                "could not write the scheduler heartbeat: %s",
                describe_store_error(error),
            )


class Scheduler:
    """Runs `cycle` now and then every `interval` seconds until asked to stop.

    `run()` blocks. In the main thread it handles SIGTERM and SIGINT: the first
    lets the cycle in flight finish and then returns, a second one ends the process
    at once with status 130. From other threads, `request_stop()` does the same as
    the first signal.
    """

    def __init__(
        self,
        cycle: Callable[[int], CycleReport],
        interval: float,
        *,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.cycle = cycle
        self.interval = interval
        self.heartbeat = heartbeat
        self.cycles_run = 0
        self.consecutive_failures = 0
        self.last_report: CycleReport | None = None
        self.stop_signal: str | None = None
        self._stop = threading.Event()
        self._signal_count = 0
        self._in_flight = threading.Event()

    @property
    def misfire_grace_time(self) -> int:
        # With coalesce=True the latest due run is at most one interval late, so a
        # grace of one interval runs it after a long cycle or a suspended machine.
        # APScheduler 3 accepts only whole seconds here.
        return math.ceil(max(self.interval, MIN_MISFIRE_GRACE_SECONDS))

    def stopping(self) -> bool:
        """Tell whether a stop was requested by a signal or by `request_stop()`."""
        return self._stop.is_set() or self.stop_signal is not None

    def request_stop(self) -> None:
        """Ask `run()` to return after the cycle in flight; safe from any thread."""
        self._stop.set()

    def run(self) -> None:
        """Run cycles until a stop is requested, then wait for the cycle in flight."""
        scheduler = self._build_scheduler()
        if self.heartbeat is not None:
            self.heartbeat.write()

        with self._signal_handlers():
            scheduler.start()
            try:
                self._wait_for_stop()
            finally:
                if self._in_flight.is_set():
                    log.info("waiting for the cycle in flight to finish")
                scheduler.shutdown(wait=True)
        log.info(
            "scheduler stopped after %d cycle%s",
            self.cycles_run,
            "" if self.cycles_run == 1 else "s",
        )

    def _build_scheduler(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=1)}
        )
        scheduler.add_job(
            self._run_cycle,
            IntervalTrigger(seconds=self.interval, timezone=UTC),
            id="sync",
            name="sync cycle",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.misfire_grace_time,
        )
        return scheduler

    def _wait_for_stop(self) -> None:
        # The signal handler only sets a flag, so the loop polls it. Setting the Event
        # from a handler could deadlock on the lock the interrupted wait() holds.
        while not self.stopping():
            self._stop.wait(STOP_POLL_SECONDS)
        if self.stop_signal is not None:
            log.info(
                "received %s: stopping after the cycle in flight", self.stop_signal
            )

    def _run_cycle(self) -> None:
        if self.stopping():
            return
        self.cycles_run += 1
        number = self.cycles_run
        self._in_flight.set()
        try:
            report = self._call_cycle(number)
        finally:
            self._in_flight.clear()
        self._record(report)

    def _call_cycle(self, number: int) -> CycleReport:
        started_at = datetime.now(UTC)
        try:
            return self.cycle(number)
        except Exception as error:
            # Keep the scheduler alive; _record logs the traceback.
            report = CycleReport(number=number, started_at=started_at)
            report.fail(error)
            report.finished_at = datetime.now(UTC)
            return report

    def _record(self, report: CycleReport) -> None:
        if report.status == "failed":
            self.consecutive_failures += 1
        elif report.status == "ok":
            self.consecutive_failures = 0
        report.consecutive_failures = self.consecutive_failures
        self.last_report = report

        level = logging.ERROR if report.status == "failed" else logging.INFO
        # Expected failures get one line; a bug gets its traceback too.
        traceback = report.exception if report.unexpected else None
        log.log(level, "%s", report.describe(), exc_info=traceback)
        if self.heartbeat is not None and report.status != "cancelled":
            self.heartbeat.write(report)

    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            number: signal.signal(number, self._on_signal)
            for number in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signal_count += 1
        name = signal.Signals(signum).name
        if self._signal_count > 1:
            # Logging here could block on a lock the interrupted code holds.
            os.write(2, f"received {name} again: exiting now\n".encode())
            os._exit(FORCED_EXIT_STATUS)
        self.stop_signal = name
