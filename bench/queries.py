"""Time the documented read queries on a year of ledger rows.

The ledgers are written straight into SQLite in the shape the poller writes them: a
`polls` row every 5 minutes, and a snapshot and a delta for each product that sold
since the previous poll, with the raw payload as JSON. Running the poller 105,120
times takes minutes (bench/storage.py does that), while writing the rows directly
takes seconds. The state hashes are SHA-256 digests of the raw JSON: the same size,
but not the values the poller would compute, which no query here reads.

- a year of 100 products at 50 sales a day: `daily_sales` for one product;
- a year of 10,000 products at 50 sales a day, and (full mode) at 500 sales a day:
  `product_totals`, every row, and the store's totals summed over it.

Each query runs on a read-only connection, as the `sql` command opens one, and fetches
every row; the figure is the median of the repeats, with the first run kept apart.

    python -m bench.queries            # both catalogues, 20 repeats
    python -m bench.queries --quick    # 50 sales a day only, 10 repeats
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import emit_summary, median, new_ledger, parse_args, product_payload

TARGET_SECONDS = 0.050
POLL_INTERVAL = timedelta(minutes=5)
POLLS_PER_DAY = 24 * 60 // 5
START = datetime(2026, 1, 1, tzinfo=UTC)

DAILY_SALES_ONE_PRODUCT = (
    "SELECT day, product_id, product_name, sales_delta, revenue_usd_cents_delta "
    "FROM daily_sales WHERE product_id = ? ORDER BY day"
)
PRODUCT_TOTALS = "SELECT * FROM product_totals ORDER BY product_id"
STORE_TOTALS = (
    "SELECT COUNT(*), SUM(sales_count), SUM(revenue_usd_cents) FROM product_totals"
)
# The projector's read on every push (ledger/notion/projection.py).
DAILY_SALES_ALL = "SELECT * FROM daily_sales ORDER BY day, product_id"


@dataclass(frozen=True)
class Year:
    """The shape of a simulated year of polling."""

    products: int
    sales_per_day: int
    days: int = 365


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _add_flags)
    repeats = args.repeats or (10 if args.quick else 20)
    days = args.days or 365
    small = Year(100, 50, days)
    catalogues = [Year(10_000, 50, days)]
    if not args.quick:
        catalogues.append(Year(10_000, 500, days))

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-queries-") as workdir:
        ledger = write_year(Path(workdir) / "small.sqlite", small)
        one_product = _best_seller(ledger)
        results.append(
            measure(ledger, small, "daily_sales_one_product", repeats, one_product)
        )
        results.append(measure(ledger, small, "daily_sales_all", repeats))
        for number, year in enumerate(catalogues):
            ledger = write_year(Path(workdir) / f"large-{number}.sqlite", year)
            results.append(measure(ledger, year, "product_totals", repeats))
            results.append(measure(ledger, year, "store_totals", repeats))

    for result in results:
        _print_result(result)
    checks = {
        f"{r['query']}_{r['products']}x{r['sales_per_day']}_under_50ms": r["median_s"]
        < TARGET_SECONDS
        for r in results
        if r["query"] in ("daily_sales_one_product", "product_totals")
    }
    emit_summary(
        "queries",
        "quick" if args.quick else "full",
        all(checks.values()),
        repeats=repeats,
        checks=checks,
        results=results,
    )


def _add_flags(parser: Any) -> None:
    parser.add_argument("--repeats", type=int, help="runs per query (default: 20)")
    parser.add_argument("--days", type=int, help="days of history (default: 365)")


QUERIES = {
    "daily_sales_one_product": DAILY_SALES_ONE_PRODUCT,
    "daily_sales_all": DAILY_SALES_ALL,
    "product_totals": PRODUCT_TOTALS,
    "store_totals": STORE_TOTALS,
}


def measure(
    path: Path, year: Year, query: str, repeats: int, *params: Any
) -> dict[str, Any]:
    """Run one query `repeats` times on a read-only connection; return its times."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    sql = QUERIES[query]
    try:
        times = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            rows = connection.execute(sql, params).fetchall()
            times.append(time.perf_counter() - started)
        plan = [
            row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        ]
    finally:
        connection.close()
    return {
        "query": query,
        "products": year.products,
        "sales_per_day": year.sales_per_day,
        "days": year.days,
        "snapshots": _count(path, "product_snapshots"),
        "rows_returned": len(rows),
        "first_s": round(times[0], 5),
        "median_s": round(median(times[1:]), 5),
        "min_s": round(min(times[1:]), 5),
        "plan": plan,
    }


def _count(path: Path, table: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        connection.close()


def _best_seller(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            "SELECT product_id FROM sales_deltas GROUP BY product_id "
            "ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()[0]
    finally:
        connection.close()


def write_year(path: Path, year: Year) -> Path:
    """Create a ledger at head and fill it with a simulated year of polls."""
    new_ledger(path).dispose()
    started = time.monotonic()
    writer = _YearWriter(year)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("BEGIN IMMEDIATE")
        writer.write(connection)
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    print(
        f"wrote {year.days} days of {year.products} products at "
        f"{year.sales_per_day} sales a day in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return path


class _YearWriter:
    """Writer of a year's polls, snapshots and deltas, in the poller's order."""

    def __init__(self, year: Year) -> None:
        self.year = year
        self.rng = random.Random(f"{year.products}/{year.sales_per_day}")
        self.sales = [0] * year.products

    def write(self, connection: sqlite3.Connection) -> None:
        snapshots: list[tuple[Any, ...]] = []
        deltas: list[tuple[Any, ...]] = []
        polls = [self._poll_row(1, START, len(self.sales), 0, baseline=True)]
        for index in range(self.year.products):
            snapshots.append(self._snapshot(1, START, index))

        poll_id = 1
        for day in range(self.year.days):
            slots = self._sales_of_day()
            for slot in range(POLLS_PER_DAY):
                poll_id += 1
                at = START + POLL_INTERVAL * (poll_id - 1)
                sold = slots.get(slot, {})
                for index, count in sold.items():
                    self.sales[index] += count
                    snapshots.append(self._snapshot(poll_id, at, index))
                    deltas.append(self._delta(poll_id, at, index, count))
                total = sum(sold.values())
                polls.append(self._poll_row(poll_id, at, len(sold), total))
            if len(snapshots) > 50_000 or day == self.year.days - 1:
                _insert_all(connection, polls, snapshots, deltas)
                polls, snapshots, deltas = [], [], []

    def _sales_of_day(self) -> dict[int, dict[int, int]]:
        slots: dict[int, dict[int, int]] = {}
        for _ in range(self.year.sales_per_day):
            sold = slots.setdefault(self.rng.randrange(POLLS_PER_DAY), {})
            index = self.rng.randrange(self.year.products)
            sold[index] = sold.get(index, 0) + 1
        return slots

    def _poll_row(
        self, poll_id: int, at: datetime, changed: int, sales: int, baseline=False
    ) -> tuple[Any, ...]:
        stamp = _stamp(at)
        pages = -(-self.year.products // 10)
        return (
            poll_id,
            stamp,
            stamp,
            "ok",
            baseline,
            pages,
            self.year.products,
            changed,
            0,
            0,
            sales,
            sales * 1500,
        )

    def _snapshot(self, poll_id: int, at: datetime, index: int) -> tuple[Any, ...]:
        body = product_payload(index, self.sales[index])
        raw = json.dumps(body, sort_keys=True)
        return (
            poll_id,
            body["id"],
            _stamp(at),
            body["name"],
            body["price"],
            body["currency"],
            body["sales_count"],
            body["sales_usd_cents"],
            True,
            False,
            False,
            body["preview_url"],
            body["short_url"],
            hashlib.sha256(raw.encode()).hexdigest(),
            raw,
        )

    def _delta(
        self, poll_id: int, at: datetime, index: int, count: int
    ) -> tuple[Any, ...]:
        product_id = product_payload(index, 0)["id"]
        return (
            poll_id,
            product_id,
            _stamp(at),
            at.date().isoformat(),
            count,
            1500 * count,
        )


def _stamp(at: datetime) -> str:
    # UTCDateTime's storage form: naive UTC text with microseconds.
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _insert_all(
    connection: sqlite3.Connection,
    polls: list[tuple[Any, ...]],
    snapshots: list[tuple[Any, ...]],
    deltas: list[tuple[Any, ...]],
) -> None:
    connection.executemany(
        "INSERT INTO polls (id, started_at, finished_at, status, is_baseline, "
        "pages_fetched, products_seen, products_changed, products_new, "
        "products_deleted, sales_delta, revenue_usd_cents_delta) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        polls,
    )
    connection.executemany(
        "INSERT INTO product_snapshots (poll_id, product_id, observed_at, name, "
        "price_cents, currency, sales_count, revenue_usd_cents, published, deleted, "
        "is_membership, preview_url, short_url, state_hash, raw_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        snapshots,
    )
    connection.executemany(
        "INSERT INTO sales_deltas (poll_id, product_id, observed_at, day, "
        "sales_delta, revenue_usd_cents_delta) VALUES (?, ?, ?, ?, ?, ?)",
        deltas,
    )


def _print_result(result: dict[str, Any]) -> None:
    print(
        f"{result['query']:<24} {result['products']:>6} products, "
        f"{result['sales_per_day']:>4} sales/day, {result['snapshots']:>7} snapshots: "
        f"median {result['median_s'] * 1000:.1f} ms, min {result['min_s'] * 1000:.1f} "
        f"ms, first {result['first_s'] * 1000:.1f} ms, {result['rows_returned']} rows"
    )


if __name__ == "__main__":
    main()
