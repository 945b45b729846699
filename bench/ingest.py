"""Time one poll into the ledger against a plain `executemany` of the same rows.

For each catalogue size and share of changed products, a fresh ledger file gets a
baseline poll (untimed), then a few timed polls through the real `ledger.poller.poll`.
Products come from an in-process source. They are parsed with `parse_product` before
the clock starts, so the figures time the ledger, not JSON parsing or HTTP.

The comparison runs in the same process on a second ledger file with the same schema
and pragmas: one transaction that inserts the poll row, then the snapshot rows and the
delta rows with one `sqlite3` `executemany` each. It is timed twice. "executemany"
gets its rows built before the clock starts. "build+executemany" starts, like the
poller, from the parsed Product objects, and builds the same rows inside the timed
part: the raw payload serialized as JSON and the state hash. The 2x target is checked
against build+executemany, because then both sides start from the same input and end
with the same committed rows.

    python -m bench.ingest            # 100, 1,000 and 10,000 products, 9 polls each
    python -m bench.ingest --quick    # the same sizes, 3 polls each
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench._common import (
    FakeClock,
    FixedSource,
    count_rows,
    emit_summary,
    human_seconds,
    median,
    new_ledger,
    parse_all,
    parse_args,
    product_payload,
    timed,
)
from ledger.gumroad.products import Product
from ledger.poller import poll, state_hash
from ledger.store.models import ProductSnapshot, SalesDelta

SIZES = (100, 1_000, 10_000)
CHANGED_SHARES = (0.0, 0.01, 1.0)
MAX_RATIO_ALL_CHANGED = 2.0
UTC_ZONE = ZoneInfo("UTC")

SNAPSHOTS = [c.name for c in ProductSnapshot.__table__.c if c.name != "id"]
DELTAS = [c.name for c in SalesDelta.__table__.c if c.name != "id"]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _add_flags)
    repeats = args.repeats or (3 if args.quick else 9)
    sizes = args.sizes or list(SIZES)

    cases = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as workdir:
        for size in sizes:
            for share in CHANGED_SHARES:
                case = run_case(Path(workdir), size, share, repeats)
                cases.append(case)
                _print_case(case)

    verdict = judge(cases)
    emit_summary(
        "ingest",
        "quick" if args.quick else "full",
        verdict["pass"],
        repeats=repeats,
        checks=verdict["checks"],
        cases=cases,
    )


def _add_flags(parser: Any) -> None:
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="catalogue sizes to run (default: 100 1000 10000)",
    )
    parser.add_argument(
        "--repeats", type=int, help="timed polls per case (default: 9, quick: 3)"
    )


def changed_indexes(size: int, share: float) -> set[int]:
    """Pick `share` of the catalogue, spread evenly; at least one if share > 0."""
    changed = round(size * share)
    if share > 0:
        changed = max(1, changed)
    if changed == 0:
        return set()
    step = size / changed
    return {int(position * step) for position in range(changed)}


def catalogue(size: int, changed: set[int], generation: int) -> list[Product]:
    """Return the parsed catalogue in which each changed product sold `generation`."""
    return parse_all(
        product_payload(index, 10 + (generation if index in changed else 0))
        for index in range(size)
    )


def run_case(workdir: Path, size: int, share: float, repeats: int) -> dict[str, Any]:
    """Time `repeats` polls and the same rows through executemany; return figures.

    The three writers take turns on each generation of the catalogue, so a change
    in the machine's load affects all of them alike. Ratios are the medians of the
    per-generation ratios.
    """
    changed = sorted(changed_indexes(size, share))
    generations = [catalogue(size, set(changed), g) for g in range(repeats + 1)]
    poller = _PollerWriter(workdir / f"poller-{size}-{share}.sqlite", generations[0])
    plain = _PlainWriter(workdir / f"plain-{size}-{share}.sqlite", generations[0])
    built = _PlainWriter(workdir / f"built-{size}-{share}.sqlite", generations[0])

    times: dict[str, list[float]] = {"poll": [], "plain": [], "built": []}
    written = []
    for products in generations[1:]:
        before = count_rows(poller.engine)
        times["poll"].append(poller.write(products))
        written.append(count_rows(poller.engine) - before)
        times["plain"].append(plain.write(products, changed, prebuilt=True))
        times["built"].append(built.write(products, changed, prebuilt=False))
    poller.close()
    plain.close()
    built.close()
    return _case_figures(size, len(changed), times, written)


def _case_figures(
    size: int, changed: int, times: dict[str, list[float]], written: list[int]
) -> dict[str, Any]:
    pairs = list(zip(times["poll"], times["plain"], times["built"], strict=True))
    return {
        "products": size,
        "changed": changed,
        "poll_s": round(median(times["poll"]), 5),
        "executemany_s": round(median(times["plain"]), 5),
        "build_and_executemany_s": round(median(times["built"]), 5),
        "ratio_to_executemany": round(median(p / e for p, e, _ in pairs), 2),
        "ratio_to_build_and_executemany": round(median(p / b for p, _, b in pairs), 2),
        "rows_written_per_poll": max(written),
    }


class _PollerWriter:
    """A ledger written by the real poller, after an untimed baseline poll."""

    def __init__(self, path: Path, first: list[Product]) -> None:
        self.engine = new_ledger(path)
        self.source = FixedSource()
        self.clock = FakeClock()
        self.source.show(first)
        poll(self.engine, self.source, UTC_ZONE, clock=self.clock)

    def write(self, products: list[Product]) -> float:
        self.source.show(products)
        self.clock.advance(timedelta(minutes=5))
        seconds, _ = timed(
            lambda: poll(self.engine, self.source, UTC_ZONE, clock=self.clock)
        )
        return seconds

    def close(self) -> None:
        self.engine.dispose()


class _PlainWriter:
    """A ledger file written with sqlite3 executemany, seeded like the poller's."""

    def __init__(self, path: Path, first: list[Product]) -> None:
        new_ledger(path).dispose()
        self.connection = _plain_connection(path)
        self.poll_id = 1
        _insert(self.connection, 1, _rows(first, range(len(first)), 1))

    def write(
        self, products: list[Product], changed: list[int], prebuilt: bool
    ) -> float:
        self.poll_id += 1
        build = _builder(products, changed, self.poll_id)
        if prebuilt:
            rows = build()
            seconds, _ = timed(lambda: _insert(self.connection, self.poll_id, rows))
        else:
            seconds, _ = timed(lambda: _insert(self.connection, self.poll_id, build()))
        return seconds

    def close(self) -> None:
        self.connection.close()


def _plain_connection(path: Path) -> sqlite3.Connection:
    # The same pragmas as the ledger engine, so only the writing code differs.
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _rows(products: list[Product], indexes: Any, poll_id: int) -> Rows:
    return _builder(products, indexes, poll_id)()


def _builder(products: list[Product], indexes: Any, poll_id: int) -> Callable[[], Rows]:
    chosen = [products[index] for index in indexes]
    observed = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    day = observed[:10]

    def build() -> Rows:
        snapshots = [_snapshot_row(product, poll_id, observed) for product in chosen]
        deltas = [
            (poll_id, product.product_id, observed, day, 1, 1500) for product in chosen
        ]
        return snapshots, deltas

    return build


def _snapshot_row(product: Product, poll_id: int, observed: str) -> tuple[Any, ...]:
    return (
        poll_id,
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


def _insert(connection: sqlite3.Connection, poll_id: int, rows: Rows) -> None:
    snapshots, deltas = rows
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "INSERT INTO polls (id, started_at, finished_at, status, is_baseline, "
        "pages_fetched, products_seen, products_changed, products_new, "
        "products_deleted, sales_delta, revenue_usd_cents_delta) "
        "VALUES (?, ?, ?, 'ok', 0, 0, 0, 0, 0, 0, 0, 0)",
        (poll_id, now, now),
    )
    connection.executemany(_insert_sql("product_snapshots", SNAPSHOTS), snapshots)
    connection.executemany(_insert_sql("sales_deltas", DELTAS), deltas)
    connection.execute("COMMIT")


def _insert_sql(table: str, columns: list[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def judge(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Check the two targets: the all-changed ratio and the unchanged row count."""
    checks = {}
    for case in cases:
        if case["changed"] == case["products"]:
            name = f"all_changed_{case['products']}_ratio_le_2"
            ratio = case["ratio_to_build_and_executemany"]
            checks[name] = ratio <= MAX_RATIO_ALL_CHANGED
        if case["changed"] == 0 and case["products"] == max(
            c["products"] for c in cases
        ):
            checks[f"unchanged_{case['products']}_writes_one_row"] = (
                case["rows_written_per_poll"] == 1
            )
    return {"pass": all(checks.values()), "checks": checks}


def _print_case(case: dict[str, Any]) -> None:
    print(
        f"{case['products']:>6} products, {case['changed']:>6} changed: "
        f"poll {human_seconds(case['poll_s'])}, "
        f"executemany {human_seconds(case['executemany_s'])} "
        f"(x{case['ratio_to_executemany']}), "
        f"build+executemany {human_seconds(case['build_and_executemany_s'])} "
        f"(x{case['ratio_to_build_and_executemany']}), "
        f"{case['rows_written_per_poll']} rows written",
        flush=True,
    )


if __name__ == "__main__":
    main()
