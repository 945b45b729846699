"""The scheduler, its sync cycle and its heartbeat, in-process.

Scheduler tests drive `Scheduler.run()` in the test's main thread with small cycle
functions, so signals reach the real handlers. SyncCycle tests run real polls
against the Gumroad sandbox and a real SQLite ledger.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import lock
from ledger.cli.context import AppContext
from ledger.notion.setup import init_notion, stored_targets
from ledger.poller import PollResult, poll
from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox
from ledger.scheduler import CycleReport, Heartbeat, Scheduler, SyncCycle
from ledger.store import keys
from ledger.store.db import all_meta, session_factory
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN
from tests.ledger_helpers import new_ledger, rows


def finished_report(number: int, status: str = "ok") -> CycleReport:
    now = datetime.now(UTC)
    report = CycleReport(number=number, started_at=now, finished_at=now)
    report.status = status
    return report


def poll_result(**counts: int | bool) -> PollResult:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    return PollResult(
        poll_id=7,
        status="ok",
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        **counts,  # type: ignore[arg-type]
    )


@pytest.fixture
def gumroad() -> Iterator[GumroadSandbox]:
    with GumroadSandbox(token=GUMROAD_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def app(
    gumroad: GumroadSandbox, ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> AppContext:
    monkeypatch.setenv("GUMROAD_ACCESS_TOKEN", GUMROAD_TOKEN)
    monkeypatch.setenv("GUMROAD_API_URL", gumroad.url)
    return AppContext()


# Scheduler


def test_first_cycle_runs_at_once() -> None:
    started = time.monotonic()
    delays: list[float] = []

    def cycle(number: int) -> CycleReport:
        delays.append(time.monotonic() - started)
        scheduler.request_stop()
        return finished_report(number)

    scheduler = Scheduler(cycle, interval=3600)
    scheduler.run()

    assert len(delays) == 1
    assert delays[0] < 1.0


def test_overrun_cycles_do_not_stack() -> None:
    running = 0
    most_running = 0
    starts: list[float] = []
    ends: list[float] = []
    guard = threading.Lock()

    def cycle(number: int) -> CycleReport:
        nonlocal running, most_running
        with guard:
            running += 1
            most_running = max(most_running, running)
        starts.append(time.monotonic())
        time.sleep(1.2)  # longer than the interval
        ends.append(time.monotonic())
        with guard:
            running -= 1
        if number == 2:
            scheduler.request_stop()
        return finished_report(number)

    scheduler = Scheduler(cycle, interval=1)
    scheduler.run()

    # The run due while cycle 1 was busy is dropped, so cycle 2 waits for the
    # next due time instead of starting the moment cycle 1 ends.
    assert scheduler.cycles_run == 2
    assert most_running == 1
    assert starts[1] - ends[0] > 0.3


def test_crashed_cycle_is_followed_by_next(caplog: pytest.LogCaptureFixture) -> None:
    def cycle(number: int) -> CycleReport:
        if number == 1:
            raise RuntimeError("bug in cycle 1")
        scheduler.request_stop()
        return finished_report(number)

    scheduler = Scheduler(cycle, interval=1)
    with caplog.at_level(logging.INFO, logger="ledger.scheduler"):
        scheduler.run()

    crashes = [r for r in caplog.records if "bug in cycle 1" in r.getMessage()]
    assert scheduler.cycles_run == 2
    assert scheduler.last_report is not None
    assert scheduler.last_report.status == "ok"
    assert len(crashes) == 1
    assert crashes[0].exc_info is not None


def test_failures_in_a_row_are_counted() -> None:
    def cycle(number: int) -> CycleReport:
        if number == 3:
            scheduler.request_stop()
        report = finished_report(number, status="failed")
        report.error = "Gumroad is down"
        return report

    scheduler = Scheduler(cycle, interval=1)
    scheduler.run()

    assert scheduler.last_report is not None
    assert scheduler.last_report.consecutive_failures == 3
    assert "[3 failed cycles in a row]" in scheduler.last_report.describe()


def test_sigterm_lets_cycle_finish() -> None:
    finished = threading.Event()

    def cycle(number: int) -> CycleReport:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
        finished.set()
        return finished_report(number)

    scheduler = Scheduler(cycle, interval=60)
    scheduler.run()

    assert finished.is_set()
    assert scheduler.cycles_run == 1
    assert scheduler.stop_signal == "SIGTERM"


def test_signal_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)

    def cycle(number: int) -> CycleReport:
        scheduler.request_stop()
        return finished_report(number)

    scheduler = Scheduler(cycle, interval=60)
    scheduler.run()

    assert signal.getsignal(signal.SIGTERM) is before


def test_misfire_grace_is_whole_seconds() -> None:
    scheduler = Scheduler(lambda number: finished_report(number), interval=90.5)

    assert scheduler.misfire_grace_time == 91


# Heartbeat


def test_heartbeat_writes_scheduler_keys(tmp_path: Path) -> None:
    engine = new_ledger(tmp_path / "ledger.sqlite")
    report = finished_report(4)

    Heartbeat(engine, 600).write(report)

    with session_factory(engine)() as session:
        meta = all_meta(session)
    beat = datetime.fromisoformat(meta[keys.SCHEDULER_HEARTBEAT_AT])
    assert abs((datetime.now(UTC) - beat).total_seconds()) < 5
    assert meta[keys.SCHEDULER_PID] == str(os.getpid())
    assert meta[keys.SCHEDULER_INTERVAL_SECONDS] == "600"
    assert json.loads(meta[keys.SCHEDULER_LAST_CYCLE])["number"] == 4


def test_heartbeat_without_cycle_keeps_last(tmp_path: Path) -> None:
    engine = new_ledger(tmp_path / "ledger.sqlite")
    Heartbeat(engine, 60).write(finished_report(9))

    Heartbeat(engine, 60).write()

    with session_factory(engine)() as session:
        meta = all_meta(session)
    assert json.loads(meta[keys.SCHEDULER_LAST_CYCLE])["number"] == 9


# Cycle reports


@pytest.mark.parametrize(
    ("counts", "push_skipped", "expected"),
    [
        (
            {"baseline": True, "products_seen": 4},
            "NOTION_TOKEN is not set",
            "cycle 2: baseline of 4 products recorded, no Notion push "
            "(NOTION_TOKEN is not set), 1.5s",
        ),
        (
            {
                "products_seen": 5,
                "products_changed": 2,
                "sales_delta": 3,
                "revenue_usd_cents_delta": 123456,
            },
            "NOTION_TOKEN is not set",
            "cycle 2: 5 products seen, 2 changed, net sales +3, net revenue "
            "+1,234.56 USD, no Notion push (NOTION_TOKEN is not set), 1.5s",
        ),
        (
            {
                "products_seen": 5,
                "products_changed": 1,
                "sales_delta": -1,
                "revenue_usd_cents_delta": -900,
            },
            "NOTION_TOKEN is not set",
            "cycle 2: 5 products seen, 1 changed, net sales -1, net revenue "
            "-9.00 USD, no Notion push (NOTION_TOKEN is not set), 1.5s",
        ),
    ],
    ids=["baseline", "sales", "refund"],
)
def test_report_describes_cycle(
    counts: dict[str, int | bool], push_skipped: str, expected: str
) -> None:
    started = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    report = CycleReport(
        number=2,
        started_at=started,
        finished_at=started + timedelta(seconds=1.5),
        poll=poll_result(**counts),
        push_skipped=push_skipped,
    )

    assert report.describe() == expected


def test_report_names_failed_step() -> None:
    started = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    report = CycleReport(
        number=5,
        started_at=started,
        finished_at=started + timedelta(seconds=2),
        step="push",
        poll=poll_result(products_changed=2),
    )
    report.fail(RuntimeError("Notion is down"))

    assert report.describe() == (
        "cycle 5 failed in push after 2.0s (poll 7 recorded, 2 products changed): "
        "Notion is down"
    )


# SyncCycle


def test_sync_cycle_polls_gumroad(app: AppContext, gumroad: GumroadSandbox) -> None:
    gumroad.add_product(name="Icons", sales_count=2, revenue_usd_cents=2000)

    report = SyncCycle(app)(1)

    assert report.status == "ok"
    assert report.poll is not None
    assert report.poll.products_seen == 1
    assert report.push_skipped == "NOTION_TOKEN is not set"


def test_sync_cycle_reports_gumroad_failure(
    app: AppContext, gumroad: GumroadSandbox, ledger_file: Path
) -> None:
    gumroad.add_product(name="Icons")
    gumroad.fail_next("success_false", message="The store is closed")

    report = SyncCycle(app)(1)

    assert report.status == "failed"
    assert report.step == "poll"
    assert "The store is closed" in (report.error or "")
    assert report.error_type == "GumroadError"
    assert rows(app.engine(), "SELECT status FROM polls") == [("failed",)]


def test_sync_cycle_times_out_on_lock(app: AppContext, ledger_file: Path) -> None:
    with lock.hold(lock.lock_path(ledger_file, "sync")):
        report = SyncCycle(app, lock_wait=0.6)(1)

    assert report.status == "failed"
    assert report.step == "lock"
    assert f"process {os.getpid()}" in (report.error or "")


def test_sync_cycle_cancelled_by_stop(app: AppContext, ledger_file: Path) -> None:
    with lock.hold(lock.lock_path(ledger_file, "sync")):
        report = SyncCycle(app, lock_wait=60, stop_requested=lambda: True)(1)

    assert report.status == "cancelled"
    assert report.poll is None


@pytest.fixture
def notion_app(
    app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[AppContext, NotionSandbox]]:
    """The app with Notion set up by `init` in a fresh Notion sandbox."""
    with NotionSandbox(token=NOTION_TOKEN) as notion:
        monkeypatch.setenv("NOTION_TOKEN", NOTION_TOKEN)
        monkeypatch.setenv("NOTION_API_URL", notion.url)
        monkeypatch.setenv("NOTION_PARENT_PAGE_ID", notion.create_parent_page())
        notion_app = AppContext()
        init_notion(notion_app.engine(), notion_app.settings())
        yield notion_app, notion


def product_pages(app: AppContext, notion: NotionSandbox) -> int:
    data_source = stored_targets(app.engine())["products_data_source_id"]
    return len(notion.pages(data_source))


def test_sync_cycle_pushes_to_notion(notion_app, gumroad: GumroadSandbox) -> None:  # type: ignore[no-untyped-def]
    app, notion = notion_app
    gumroad.add_product(name="Icons", sales_count=2, revenue_usd_cents=2000)

    report = SyncCycle(app)(1)

    assert report.status == "ok", report.error
    assert report.pages_written == 1
    assert product_pages(app, notion) == 1


def test_failed_poll_still_pushes_pending(  # type: ignore[no-untyped-def]
    notion_app, gumroad: GumroadSandbox
) -> None:
    app, notion = notion_app
    gumroad.add_product(name="Icons")
    with app.gumroad_client() as client:
        poll(app.engine(), client, app.settings().timezone)
    gumroad.fail_next("success_false", message="The store is closed")

    report = SyncCycle(app)(1)

    assert report.status == "failed"
    assert report.step == "poll"
    assert report.pages_written == 1
    assert product_pages(app, notion) == 1


def test_push_failure_names_poll_failure(  # type: ignore[no-untyped-def]
    notion_app, gumroad: GumroadSandbox
) -> None:
    app, notion = notion_app
    gumroad.add_product(name="Icons")
    with app.gumroad_client() as client:
        poll(app.engine(), client, app.settings().timezone)
    gumroad.fail_next("success_false", message="The store is closed")
    notion.unshare(stored_targets(app.engine())["products_database_id"])

    report = SyncCycle(app)(1)

    assert report.status == "failed"
    assert report.step == "push", report.describe()
    assert "the poll failed too" in (report.error or "")
    assert "The store is closed" in (report.error or "")
