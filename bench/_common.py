"""Helpers shared by the benchmark scripts: machine facts, ledgers, products, output."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy.engine import Engine, make_url

from ledger.gumroad.products import Product, parse_product
from ledger.store.db import create_ledger_engine, ensure_current

SUMMARY_PREFIX = "BENCH "
LEDGER_TABLES = ("polls", "product_snapshots", "sales_deltas")


def parse_args(description: str, extra: Callable[[Any], None] | None = None) -> Any:
    """Parse the flags every script takes (`--quick`) plus the script's own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes that finish in under two minutes",
    )
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def machine() -> dict[str, Any]:
    """Return the facts that a reader needs to compare figures across machines."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_total_ram_bytes() / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _total_ram_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def emit_summary(name: str, mode: str, passed: bool, **figures: Any) -> None:
    """Print the one machine-readable line: `BENCH ` and a JSON object."""
    summary = {"bench": name, "mode": mode, "pass": passed, **figures}
    summary["machine"] = machine()
    print(SUMMARY_PREFIX + json.dumps(summary, sort_keys=True), flush=True)


def new_ledger(path: Path) -> Engine:
    """Create a ledger file at head, as `gumroad-ledger init` would."""
    engine = create_ledger_engine(make_url(f"sqlite:///{path}"))
    ensure_current(engine)
    return engine


def count_rows(engine: Engine, tables: Iterable[str] = LEDGER_TABLES) -> int:
    """Return the total number of rows in the given ledger tables."""
    with engine.connect() as connection:
        return sum(
            connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
            for table in tables
        )


def product_payload(
    index: int, sales_count: int, *, name: str | None = None
) -> dict[str, Any]:
    """Build a GET /v2/products payload with the fields Gumroad sends for a product."""
    product_id = f"bench{index:07d}=="
    return {
        "id": product_id,
        "name": name or f"Benchmark product {index}",
        "price": 1500,
        "currency": "usd",
        "published": True,
        "deleted": False,
        "is_tiered_membership": False,
        "subscription_duration": None,
        "preview_url": f"https://public-files.gumroad.com/{product_id}.png",
        "short_url": f"https://seller.gumroad.com/l/b{index}",
        "description": f"<p>Product {index}, a benchmark fixture.</p>",
        "custom_permalink": None,
        "formatted_price": "$15",
        "tags": ["bench"],
        "sales_count": sales_count,
        "sales_usd_cents": sales_count * 1500,
    }


def parse_all(payloads: Iterable[dict[str, Any]]) -> list[Product]:
    return [parse_product(body) for body in payloads]


@dataclass
class Listing:
    """What `GumroadClient.list_products()` returns, built without HTTP."""

    products: list[Product]
    pages: int = 1
    complete: bool = True


@dataclass
class FixedSource:
    """A product source that returns whatever listing was set last."""

    listing: Listing = field(default_factory=lambda: Listing([]))

    def show(self, products: list[Product]) -> None:
        self.listing = Listing(products, pages=max(1, -(-len(products) // 10)))

    def list_products(self) -> Listing:
        return self.listing


class FakeClock:
    """A UTC clock that the benchmark moves; reading it does not advance it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Run `function` once after a garbage collection; return (seconds, result)."""
    gc.collect()
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def human_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"
