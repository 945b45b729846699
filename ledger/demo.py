"""The `demo` pipeline: both sandboxes, a small store, `init` and a few sync cycles.

Everything runs in this process against GumroadSandbox and NotionSandbox on
127.0.0.1, with settings built here from the sandboxes' own URLs and tokens, so no
environment variable, config file or real ledger is read or written. Each cycle is
the `run` scheduler's SyncCycle: a real poll, then a real push.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from ledger.cli.context import AppContext
from ledger.config import Secret, Settings
from ledger.errors import ConfigError
from ledger.notion.client import NotionClient
from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox
from ledger.scheduler import CycleReport, SyncCycle

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

DEFAULT_CYCLES = 4
DEFAULT_PAUSE_SECONDS = 2.0

PRODUCT_TOTALS_SQL = (
    "SELECT product_id, name, currency, price_cents, is_membership, sales_count, "
    "revenue_usd_cents FROM product_totals ORDER BY name"
)
SALES_DELTAS_SQL = (
    "SELECT d.poll_id, s.name AS product_name, d.sales_delta, "
    "d.revenue_usd_cents_delta FROM sales_deltas AS d "
    "JOIN product_totals AS s USING (product_id) ORDER BY d.poll_id, s.name"
)
DAILY_SALES_SQL = (
    "SELECT day, product_name, sales_delta, revenue_usd_cents_delta "
    "FROM daily_sales ORDER BY day, product_name"
)


@dataclass
class DemoResult:
    """Outcome of the demo: the ledger file and the rows both sides contain."""

    ledger_path: Path
    cycles: list[CycleReport]
    product_totals: list[dict[str, Any]]
    sales_deltas: list[dict[str, Any]]
    daily_sales: list[dict[str, Any]]
    notion_products: list[dict[str, Any]]
    notion_daily: list[dict[str, Any]]
    notion_writes: int

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.ledger_path}"


def check_demo_ledger(path: Path) -> Path:
    """Return `path` made absolute, or raise ConfigError when the file exists."""
    path = path.expanduser().resolve()
    if path.exists():
        raise ConfigError(
            f"--ledger {path} already exists: the demo writes only to a new file, "
            "so give a path that does not exist yet, or leave --ledger out to use "
            "a temporary directory"
        )
    return path


def run_demo(
    ledger_path: Path,
    *,
    cycles: int = DEFAULT_CYCLES,
    pause: float = DEFAULT_PAUSE_SECONDS,
    timezone: ZoneInfo | None = None,
    progress: Progress = lambda line: None,
) -> DemoResult:
    """Run init and `cycles` sync cycles against fresh sandboxes; return the outcome.

    `ledger_path` must not exist yet. Sales and a refund happen between cycles, and
    `pause` seconds pass before each cycle after the first.
    """
    with _sandboxes() as (gumroad, notion):
        store = seed_store(gumroad)
        progress(f"sandbox store: {len(store)} products on {gumroad.url}")
        app = _DemoContext(_settings=_settings(ledger_path, gumroad, notion, timezone))

        for line in _init(app):
            progress(line)
        reports = _sync_cycles(app, gumroad, store, cycles, pause, progress)
        return _collect(app, notion, ledger_path, reports)


class _DemoContext(AppContext):
    """The CLI's context, with a Notion client that does not pace its requests."""

    def notion_client(self) -> NotionClient:
        # The sandbox enforces no rate limit, so pacing at Notion's 3 requests per
        # second would only make the demo slower.
        settings = self.settings()
        return NotionClient(
            settings.notion_api_url,
            settings.require_notion_token(),
            requests_per_second=None,
        )


@contextmanager
def _sandboxes() -> Iterator[tuple[GumroadSandbox, NotionSandbox]]:
    with GumroadSandbox() as gumroad, NotionSandbox() as notion:
        yield gumroad, notion


def _settings(
    ledger_path: Path,
    gumroad: GumroadSandbox,
    notion: NotionSandbox,
    timezone: ZoneInfo | None,
) -> Settings:
    parent_page_id = notion.create_parent_page("Gumroad demo")
    return Settings(
        database_url=make_url(f"sqlite:///{ledger_path}"),
        timezone=timezone or ZoneInfo("UTC"),
        poll_interval=DEFAULT_PAUSE_SECONDS,
        gumroad_api_url=gumroad.url,
        notion_api_url=notion.url,
        gumroad_token=Secret(gumroad.token),
        notion_token=Secret(notion.token),
        notion_parent_page_id=parent_page_id,
    )


def seed_store(gumroad: GumroadSandbox) -> dict[str, str]:
    """Add five products with some sales history; return their ids by short name."""
    store: dict[str, str] = {}
    store["icons"] = gumroad.add_product(
        name="Pixel Icon Pack",
        price_cents=1200,
        sales_count=14,
        revenue_usd_cents=16800,
    )
    # Gumroad reports every product's revenue in USD cents, whatever its currency.
    store["notes"] = gumroad.add_product(
        name="Field Notes (EU edition)",
        price_cents=900,
        currency="eur",
        sales_count=6,
        revenue_usd_cents=5850,
    )
    store["sketchbook"] = gumroad.add_product(
        name="Tokyo Sketchbook",
        price_cents=1500,
        currency="jpy",
        sales_count=4,
        revenue_usd_cents=4040,
    )
    store["studio"] = gumroad.add_product(
        name="Studio Membership",
        price_cents=500,
        membership=True,
        sales_count=20,
        revenue_usd_cents=10000,
    )
    store["poster"] = gumroad.add_product(
        name="Type Specimen Poster",
        price_cents=2500,
        preview_url=f"{gumroad.url}/demo/type-specimen-poster.png",
        sales_count=3,
        revenue_usd_cents=7500,
    )
    return store


def _init(app: AppContext) -> list[str]:
    from ledger.notion.setup import init_notion
    from ledger.store.db import upgrade

    engine = app.engine(upgrade=False)
    _, head = upgrade(engine)
    lines = [f"init: ledger {app.ledger_path()} created at schema revision {head}"]
    lines.extend(
        f"init: notion: {line}" for line in init_notion(engine, app.settings())
    )
    return lines


def _sync_cycles(
    app: AppContext,
    gumroad: GumroadSandbox,
    store: dict[str, str],
    cycles: int,
    pause: float,
    progress: Progress,
) -> list[CycleReport]:
    sync = SyncCycle(app)
    reports = []
    for number in range(1, cycles + 1):
        if number > 1:
            time.sleep(pause)
        report = sync(number)
        if report.unexpected and report.exception is not None:
            raise report.exception
        progress(report.describe())
        reports.append(report)
        if number < cycles:
            progress(f"  store: {_store_events(gumroad, store, number)}")
    return reports


def _store_events(
    gumroad: GumroadSandbox, ids: dict[str, str], after_cycle: int
) -> str:
    """Make the sales, refunds and changes that the next cycle will see."""
    step = (after_cycle - 1) % 3
    if step == 0:
        gumroad.sell(ids["icons"], 3)
        gumroad.sell(ids["notes"], 2, usd_cents=1960)
        gumroad.sell(ids["studio"], 1)
        return "3 sales of Pixel Icon Pack, 2 of Field Notes (EUR), 1 membership"
    if step == 1:
        gumroad.refund(ids["icons"], 1)
        gumroad.sell(ids["sketchbook"], 2, usd_cents=2020)
        brushes = "2 sales of Brush Set"
        if "brushes" not in ids:
            ids["brushes"] = gumroad.add_product(name="Brush Set", price_cents=800)
            brushes = "new product Brush Set with 2 sales"
        gumroad.sell(ids["brushes"], 2)
        return (
            f"1 refund of Pixel Icon Pack, 2 sales of Tokyo Sketchbook (JPY), {brushes}"
        )
    gumroad.sell(ids["poster"], 2)
    gumroad.sell(ids["studio"], 2)
    return "2 sales of Type Specimen Poster, 2 memberships"


def _collect(
    app: AppContext,
    notion: NotionSandbox,
    ledger_path: Path,
    reports: list[CycleReport],
) -> DemoResult:
    engine = app.engine()
    with engine.connect() as connection:
        totals = _query(connection, PRODUCT_TOTALS_SQL)
        deltas = _query(connection, SALES_DELTAS_SQL)
        daily = _query(connection, DAILY_SALES_SQL)
    notion_products, notion_daily = read_notion_rows(app)
    engine.dispose()
    return DemoResult(
        ledger_path=ledger_path,
        cycles=reports,
        product_totals=totals,
        sales_deltas=deltas,
        daily_sales=daily,
        notion_products=notion_products,
        notion_daily=notion_daily,
        notion_writes=notion.write_count(succeeded_only=True),
    )


def _query(connection: Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(text(sql))]


def read_notion_rows(
    app: AppContext,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read both Notion databases back through the client, as role -> value rows."""
    from ledger.notion.layout import layouts
    from ledger.notion.setup import require_targets

    targets = require_targets(app.engine())
    products_layout, daily_layout = layouts(app.settings())
    with app.notion_client() as client:
        products = [
            _row(products_layout.decode(page), page)
            for page in client.query_all(targets["products_data_source_id"])
        ]
        daily = [
            _row(daily_layout.decode(page), page)
            for page in client.query_all(targets["daily_data_source_id"])
        ]
    products.sort(key=lambda row: str(row.get("name")))
    daily.sort(key=lambda row: (str(row.get("date")), str(row.get("name"))))
    return products, daily


def _row(values: dict[str, Any], page: Mapping[str, Any]) -> dict[str, Any]:
    cover = page.get("cover") or {}
    values["cover"] = (cover.get("external") or {}).get("url")
    return values
