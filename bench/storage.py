"""Simulate a year of polling and measure the ledger's size and the bytes per poll.

The year: 100 products, a poll every 5 minutes (105,120 polls) and 50 sales a day
spread at random over the catalogue and the day. Every poll goes through the real
`ledger.poller.poll` on a real SQLite file, with a fake clock, so the simulated year
runs as fast as the poller does. Products come from an in-process source, not HTTP.

Quick mode simulates 7 days and extrapolates the year linearly from the growth after
the baseline poll; full mode simulates all 365 days.

After the simulation, a run of unchanged polls measures what one of them costs on
disk: the WAL bytes it appends (the I/O of the commit) and the growth of the
checkpointed database file.

The simplest alternative, a table that gets every product's row at every poll, is
measured in the same run: a sample of polls with the same snapshot rows goes into a
second file with the same schema, and its growth per poll is extrapolated to the year.

    python -m bench.storage            # 365 days (about 10 minutes)
    python -m bench.storage --quick    # 7 days, extrapolated
"""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench._common import (
    FakeClock,
    FixedSource,
    emit_summary,
    median,
    new_ledger,
    parse_args,
    product_payload,
)
from ledger.gumroad.products import Product, parse_product
from ledger.poller import poll, state_hash
from ledger.store.models import ProductSnapshot

PRODUCTS = 100
POLL_INTERVAL = timedelta(minutes=5)
POLLS_PER_DAY = 24 * 60 // 5
SALES_PER_DAY = 50
DAYS_PER_YEAR = 365
TIMEZONE = ZoneInfo("UTC")
SNAPSHOT_COLUMNS = [c.name for c in ProductSnapshot.__table__.c if c.name != "id"]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _add_flags)
    days = args.days or (7 if args.quick else DAYS_PER_YEAR)
    unchanged_polls = 200 if args.quick else 1000

    with tempfile.TemporaryDirectory(prefix="bench-storage-") as workdir:
        year = simulate_year(Path(workdir) / "ledger.sqlite", days)
        unchanged = measure_unchanged_polls(year, unchanged_polls)
        append_all = measure_append_all(Path(workdir), unchanged_polls)

    figures = summarize(year, unchanged, append_all)
    _print_figures(figures)
    emit_summary(
        "storage",
        "quick" if args.quick else "full",
        figures["unchanged_poll_rows"] == 1,
        **figures,
    )


def _add_flags(parser: Any) -> None:
    parser.add_argument(
        "--days", type=int, help="days to simulate (default: 365, quick: 7)"
    )


@dataclass
class Year:
    """A simulated ledger and what happened while it was written."""

    path: Path
    engine: Any
    source: FixedSource
    clock: FakeClock
    days: int
    polls: int = 0
    sales: int = 0
    baseline_bytes: int = 0
    final_bytes: int = 0
    poll_seconds: list[float] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)


class Catalogue:
    """100 products whose sales counts the simulation raises one sale at a time."""

    def __init__(self) -> None:
        self.sales = [0] * PRODUCTS
        self.products = [parse_product(product_payload(i, 0)) for i in range(PRODUCTS)]

    def sell(self, index: int) -> None:
        self.sales[index] += 1
        self.products[index] = parse_product(product_payload(index, self.sales[index]))


def sale_slots(rng: random.Random) -> dict[int, list[int]]:
    """Return the products sold in each 5-minute slot of one day."""
    slots: dict[int, list[int]] = {}
    for _ in range(SALES_PER_DAY):
        slot = rng.randrange(POLLS_PER_DAY)
        slots.setdefault(slot, []).append(rng.randrange(PRODUCTS))
    return slots


def simulate_year(path: Path, days: int) -> Year:
    """Poll every 5 simulated minutes for `days` days; return the ledger and counts."""
    engine = new_ledger(path)
    catalogue = Catalogue()
    year = Year(path, engine, FixedSource(), FakeClock(), days)
    year.source.show(catalogue.products)
    poll(engine, year.source, TIMEZONE, clock=year.clock)
    year.baseline_bytes = checkpointed_size(path)

    rng = random.Random(20260101)
    started = time.monotonic()
    for day in range(days):
        for sold in _day(rng):
            for index in sold:
                catalogue.sell(index)
            year.sales += len(sold)
            year.source.show(catalogue.products)
            year.clock.advance(POLL_INTERVAL)
            year.poll_seconds.append(_timed_poll(year))
        if (day + 1) % 30 == 0:
            print(f"day {day + 1}: {time.monotonic() - started:.0f} s", flush=True)

    year.polls = len(year.poll_seconds)
    year.final_bytes = checkpointed_size(path)
    year.rows = row_counts(path)
    year.tables = table_bytes(path)
    return year


def _day(rng: random.Random) -> Iterator[list[int]]:
    slots = sale_slots(rng)
    for slot in range(POLLS_PER_DAY):
        yield slots.get(slot, [])


def _timed_poll(year: Year) -> float:
    started = time.perf_counter()
    poll(year.engine, year.source, TIMEZONE, clock=year.clock)
    return time.perf_counter() - started


def measure_unchanged_polls(year: Year, polls: int) -> dict[str, float]:
    """Run unchanged polls; return the WAL bytes and file growth of one, averaged."""
    rows_before = row_counts(year.path)
    before = checkpointed_size(year.path)
    wal_bytes = []
    for _ in range(polls):
        year.clock.advance(POLL_INTERVAL)
        poll(year.engine, year.source, TIMEZONE, clock=year.clock)
        wal_bytes.append(_wal_size(year.path))
        checkpointed_size(year.path)
    after = checkpointed_size(year.path)
    rows_after = row_counts(year.path)
    return {
        "wal_bytes": median(wal_bytes),
        "db_growth_bytes": (after - before) / polls,
        "rows_per_poll": (sum(rows_after.values()) - sum(rows_before.values())) / polls,
    }


def measure_append_all(workdir: Path, polls: int) -> dict[str, float]:
    """Write every product's snapshot row at each of `polls` polls; return growth."""
    path = workdir / "append-all.sqlite"
    new_ledger(path).dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    products = [parse_product(product_payload(i, 0)) for i in range(PRODUCTS)]
    connection.execute(
        "INSERT INTO polls (id, started_at, status, is_baseline, pages_fetched, "
        "products_seen, products_changed, products_new, products_deleted, "
        "sales_delta, revenue_usd_cents_delta) "
        "VALUES (1, '2026-01-01 00:00:00', 'ok', 0, 0, 0, 0, 0, 0, 0, 0)"
    )
    before = checkpointed_size(path)
    columns = ", ".join(SNAPSHOT_COLUMNS)
    marks = ", ".join("?" for _ in SNAPSHOT_COLUMNS)
    sql = f"INSERT INTO product_snapshots ({columns}) VALUES ({marks})"
    for number in range(polls):
        observed = f"2026-01-01 {number // 12 % 24:02d}:{number % 12 * 5:02d}:00"
        rows = [_snapshot_row(product, observed) for product in products]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
    connection.close()
    return {"db_growth_bytes": (checkpointed_size(path) - before) / polls}


def _snapshot_row(product: Product, observed: str) -> tuple[Any, ...]:
    return (
        1,
        product.product_id,
        observed,
        product.name,
        product.price_cents,
        product.currency,
        product.sales_count,
        product.revenue_usd_cents,
        product.published,
        product.deleted,
        product.is_membership,
        product.preview_url,
        product.short_url,
        state_hash(product),
        json.dumps(dict(product.raw), sort_keys=True, default=str),
    )


def checkpointed_size(path: Path) -> int:
    """Move the WAL into the database file, empty the WAL; return the file's size."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError(f"checkpoint of {path} was blocked by a reader")
    finally:
        connection.close()
    return path.stat().st_size


def _wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def row_counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("polls", "product_snapshots", "sales_deltas")
        }
    finally:
        connection.close()


def table_bytes(path: Path) -> dict[str, int]:
    """Return bytes per table and index, from SQLite's dbstat virtual table."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        connection.close()
    return dict(rows)


def summarize(
    year: Year, unchanged: dict[str, float], append_all: dict[str, float]
) -> dict[str, Any]:
    """Turn the measurements into the year's figures, extrapolating a short run."""
    growth_per_day = (year.final_bytes - year.baseline_bytes) / year.days
    year_bytes = year.baseline_bytes + growth_per_day * DAYS_PER_YEAR
    polls_per_year = POLLS_PER_DAY * DAYS_PER_YEAR
    append_all_bytes = append_all["db_growth_bytes"] * polls_per_year
    return {
        "days_simulated": year.days,
        "extrapolated": year.days != DAYS_PER_YEAR,
        "polls": year.polls,
        "sales": year.sales,
        "rows": year.rows,
        "table_bytes": year.tables,
        "baseline_bytes": year.baseline_bytes,
        "ledger_bytes": year.final_bytes,
        "year_ledger_bytes": round(year_bytes),
        "poll_median_s": round(median(year.poll_seconds), 5),
        "year_poll_cpu_s": round(sum(year.poll_seconds) * DAYS_PER_YEAR / year.days),
        "unchanged_poll_rows": unchanged["rows_per_poll"],
        "unchanged_poll_wal_bytes": unchanged["wal_bytes"],
        "unchanged_poll_db_growth_bytes": round(unchanged["db_growth_bytes"], 1),
        "append_all_poll_bytes": round(append_all["db_growth_bytes"]),
        "append_all_year_bytes": round(append_all_bytes),
    }


def _print_figures(figures: dict[str, Any]) -> None:
    mib = 2**20
    how = "extrapolated from" if figures["extrapolated"] else "simulated"
    print(
        f"year ({how} {figures['days_simulated']} days, {figures['polls']} polls, "
        f"{figures['sales']} sales): ledger {figures['year_ledger_bytes'] / mib:.1f} "
        f"MiB, poll CPU {figures['year_poll_cpu_s']} s, "
        f"median poll {figures['poll_median_s'] * 1000:.1f} ms"
    )
    print(
        f"unchanged poll: {figures['unchanged_poll_wal_bytes']:.0f} WAL bytes, "
        f"{figures['unchanged_poll_db_growth_bytes']} bytes of database growth"
    )
    print(
        f"append every product every poll: {figures['append_all_poll_bytes']} bytes "
        f"a poll, {figures['append_all_year_bytes'] / mib:.0f} MiB a year"
    )


if __name__ == "__main__":
    main()
