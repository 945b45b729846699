"""Count the Notion requests of each sync, and measure push throughput at 3 per second.

Part 1 runs the real poller and `ledger.notion.projector.push` against the Notion
sandbox (`ledger/sandbox/notion.py`) for a simulated day: 100 products, a sync every
5 minutes (288 syncs), 50 sales at random times. Every sync's requests are counted
at the sandbox and checked against what changed in that sync:

- writes (POST /v1/pages, PATCH /v1/pages/{id}) equal the pages whose values changed:
  each product that sold updates its product page and creates or updates its daily
  page;
- look-ups (data source queries) are at most one per new key;
- a sync in which nothing changed sends no request at all.

The tutorial script's pattern, one page write per product per cycle, is counted in
the same run as products x cycles: it sends its writes whether anything changed or
not.

Part 2 pushes a batch of new product pages, with the client's default pacing, to a
sandbox that allows 3 requests a second (a token bucket of 3). It reports the share of
that budget the push used and the 429 responses the sandbox sent.

Products come from an in-process source, so no Gumroad sandbox is involved.

    python -m bench.notion_requests            # 100 products, 288 syncs, 150 pages
    python -m bench.notion_requests --quick    # the same day, 30 pages in part 2
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench._common import (
    FakeClock,
    FixedSource,
    emit_summary,
    new_ledger,
    parse_args,
    product_payload,
)
from ledger.config import Settings, load_settings
from ledger.gumroad.products import parse_product
from ledger.notion.client import NotionClient
from ledger.notion.projector import push
from ledger.notion.setup import init_notion
from ledger.poller import poll
from ledger.sandbox.notion import NotionSandbox, RequestRecord

TOKEN = "bench-notion-token"
UTC_ZONE = ZoneInfo("UTC")
PRODUCTS = 100
SYNC_INTERVAL = timedelta(minutes=5)
SYNCS_PER_DAY = 24 * 60 // 5
SALES_PER_DAY = 50
NOTION_RATE = 3.0
MIN_BUDGET_SHARE = 0.9


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _add_flags)
    products = args.products or PRODUCTS
    syncs = args.syncs or SYNCS_PER_DAY
    pages = args.pages or (30 if args.quick else 150)

    with tempfile.TemporaryDirectory(prefix="bench-notion-") as workdir:
        day = count_day(Path(workdir) / "day.sqlite", products, syncs)
        throughput = measure_throughput(Path(workdir) / "rate.sqlite", pages)

    _print_day(day)
    _print_throughput(throughput)
    checks = {
        "writes_equal_changed_pages": day["syncs_with_wrong_writes"] == 0,
        "lookups_at_most_new_keys": day["syncs_with_extra_lookups"] == 0,
        "unchanged_syncs_send_nothing": day["unchanged_syncs_with_requests"] == 0,
        "budget_share_at_least_90_percent": throughput["budget_share"]
        >= MIN_BUDGET_SHARE,
        "no_429": throughput["responses_429"] == 0,
    }
    emit_summary(
        "notion_requests",
        "quick" if args.quick else "full",
        all(checks.values()),
        checks=checks,
        day=day,
        throughput=throughput,
    )


def _add_flags(parser: Any) -> None:
    parser.add_argument("--products", type=int, help="catalogue size (default 100)")
    parser.add_argument("--syncs", type=int, help="syncs in part 1 (default 288)")
    parser.add_argument("--pages", type=int, help="pages pushed in part 2")


@dataclass
class Ledger:
    """A ledger wired to a Notion sandbox, with an in-process product source."""

    engine: Any
    settings: Settings
    client: NotionClient
    source: FixedSource = field(default_factory=FixedSource)
    clock: FakeClock = field(default_factory=FakeClock)

    def sync(self, products: list[Any]) -> Any:
        self.source.show(products)
        self.clock.advance(SYNC_INTERVAL)
        poll(self.engine, self.source, UTC_ZONE, clock=self.clock)
        return push(self.engine, self.settings, self.client)


def connect(path: Path, sandbox: NotionSandbox, **client_options: Any) -> Ledger:
    """Create a ledger and both Notion databases under a new parent page."""
    engine = new_ledger(path)
    environ = {
        "LEDGER_DATABASE_URL": f"sqlite:///{path}",
        "LEDGER_TIMEZONE": "UTC",
        "NOTION_TOKEN": TOKEN,
        "NOTION_API_URL": sandbox.url,
        "NOTION_PARENT_PAGE_ID": sandbox.create_parent_page(),
    }
    settings = load_settings(environ=environ)
    client = NotionClient(sandbox.url, TOKEN, **client_options)
    init_notion(engine, settings, client=client)
    return Ledger(engine, settings, client)


def classify(record: RequestRecord) -> str:
    """Name a request's kind: write, lookup, schema_read or other."""
    if record.method == "POST" and record.path == "/v1/pages":
        return "write"
    if record.method == "PATCH" and record.path.startswith("/v1/pages/"):
        return "write"
    if record.method == "POST" and record.path.endswith("/query"):
        return "lookup"
    if record.method == "GET" and record.path.startswith("/v1/data_sources/"):
        return "schema_read"
    return "other"


class Catalogue:
    """The products of the simulated day and which of them sold in each sync."""

    def __init__(self, size: int, seed: int = 4) -> None:
        self.rng = random.Random(seed)
        self.sales = [0] * size
        self.products = [parse_product(product_payload(i, 0)) for i in range(size)]
        self.sold_today: set[int] = set()

    def sell(self, count: int) -> tuple[set[int], set[int]]:
        """Sell `count` times at random; return (products sold, first sales today)."""
        sold: set[int] = set()
        for _ in range(count):
            index = self.rng.randrange(len(self.sales))
            self.sales[index] += 1
            sold.add(index)
        for index in sold:
            self.products[index] = parse_product(
                product_payload(index, self.sales[index])
            )
        new = sold - self.sold_today
        self.sold_today |= sold
        return sold, new


def count_day(path: Path, products: int, syncs: int) -> dict[str, Any]:
    """Run a day of syncs and compare each sync's requests with what changed."""
    with NotionSandbox(token=TOKEN) as sandbox:
        ledger = connect(path, sandbox, requests_per_second=None)
        catalogue = Catalogue(products)
        sales_per_sync = _sales_schedule(catalogue.rng, syncs)

        sandbox.clear_requests()
        ledger.sync(catalogue.products)
        first = Counter(classify(r) for r in sandbox.requests)

        tally = _DayTally()
        for sales in sales_per_sync:
            sandbox.clear_requests()
            sold, new = catalogue.sell(sales)
            ledger.sync(catalogue.products)
            tally.add(Counter(classify(r) for r in sandbox.requests), sold, new)
        ledger.client.close()

    return {
        "products": products,
        "first_sync": dict(first),
        **tally.figures(syncs, products),
    }


def _sales_schedule(rng: random.Random, syncs: int) -> list[int]:
    # 50 sales a day at random times, scaled to the number of 5-minute syncs run.
    sales = [0] * syncs
    for _ in range(round(SALES_PER_DAY * syncs / SYNCS_PER_DAY)):
        sales[rng.randrange(syncs)] += 1
    return sales


@dataclass
class _DayTally:
    requests: Counter[str] = field(default_factory=Counter)
    changed_syncs: int = 0
    unchanged_syncs: int = 0
    unchanged_with_requests: int = 0
    wrong_writes: int = 0
    extra_lookups: int = 0
    expected_writes: int = 0

    def add(self, counts: Counter[str], sold: set[int], new: set[int]) -> None:
        self.requests.update(counts)
        if not sold:
            self.unchanged_syncs += 1
            self.unchanged_with_requests += sum(counts.values()) > 0
            return
        self.changed_syncs += 1
        # Each product that sold: one product page update, one daily page write.
        expected = 2 * len(sold)
        self.expected_writes += expected
        self.wrong_writes += counts["write"] != expected
        self.extra_lookups += counts["lookup"] > len(new)

    def figures(self, syncs: int, products: int) -> dict[str, Any]:
        return {
            "syncs": syncs,
            "changed_syncs": self.changed_syncs,
            "unchanged_syncs": self.unchanged_syncs,
            "requests": dict(self.requests),
            "writes": self.requests["write"],
            "expected_writes": self.expected_writes,
            "tutorial_writes": syncs * products,
            "syncs_with_wrong_writes": self.wrong_writes,
            "syncs_with_extra_lookups": self.extra_lookups,
            "unchanged_syncs_with_requests": self.unchanged_with_requests,
        }


def measure_throughput(path: Path, pages: int) -> dict[str, Any]:
    """Push `pages` new product pages under a 3-per-second limit; return the rate."""
    with NotionSandbox(token=TOKEN, rate_limit=NOTION_RATE) as sandbox:
        ledger = connect(path, sandbox)
        products = [parse_product(product_payload(i, 1)) for i in range(pages)]
        ledger.source.show(products)
        poll(ledger.engine, ledger.source, UTC_ZONE, clock=ledger.clock)

        sandbox.clear_requests()
        started = time.monotonic()
        result = push(ledger.engine, ledger.settings, ledger.client)
        elapsed = time.monotonic() - started
        records = list(sandbox.requests)
        ledger.client.close()

    return {
        "pages": pages,
        "created": result.created,
        "requests": len(records),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(records) / elapsed, 3),
        "budget_share": round(len(records) / (elapsed * NOTION_RATE), 3),
        "responses_429": sum(1 for record in records if record.status == 429),
    }


def _print_day(day: dict[str, Any]) -> None:
    print(
        f"day of {day['syncs']} syncs, {day['products']} products: "
        f"{day['changed_syncs']} with sales, {day['unchanged_syncs']} without"
    )
    print(f"  first sync: {day['first_sync']}")
    print(
        f"  later syncs: {day['requests']}; writes {day['writes']} "
        f"(expected {day['expected_writes']}); tutorial pattern "
        f"{day['tutorial_writes']} writes"
    )
    print(
        f"  syncs with wrong writes {day['syncs_with_wrong_writes']}, "
        f"with more look-ups than new keys {day['syncs_with_extra_lookups']}, "
        f"unchanged syncs with requests {day['unchanged_syncs_with_requests']}"
    )


def _print_throughput(figures: dict[str, Any]) -> None:
    print(
        f"push of {figures['pages']} new pages at 3 requests/s: "
        f"{figures['requests']} requests in {figures['seconds']} s = "
        f"{figures['requests_per_second']}/s ({figures['budget_share']:.0%} of the "
        f"budget), {figures['responses_429']} responses with 429"
    )


if __name__ == "__main__":
    main()
