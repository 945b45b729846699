"""`gumroad-ledger demo`."""

from __future__ import annotations

import logging
import shlex
import tempfile
from pathlib import Path
from typing import Any

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo, format_table, format_usd

EXAMPLE_QUERY = (
    "SELECT day, product_name, sales_delta, revenue_usd_cents_delta "
    "FROM daily_sales ORDER BY day"
)


@click.command("demo")
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ledger file to create; it must not exist yet [default: a new temporary "
    "directory].",
)
@click.option(
    "--cycles",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="Number of sync cycles.",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=2.0,
    show_default=True,
    help="Seconds between two sync cycles.",
)
@click.pass_obj
def demo_command(
    app: AppContext, ledger_path: Path | None, cycles: int, pause: float
) -> None:
    """Run the whole pipeline against local Gumroad and Notion sandboxes.

    Starts both sandboxes on 127.0.0.1, seeds a small store, runs `init`, then
    several sync cycles with sales and a refund in between, and prints what the
    ledger and the Notion databases hold. No account or token is needed: tokens
    and URLs from the environment are ignored, and only the new ledger file (kept
    so you can query it) is written.

    Example: gumroad-ledger demo --cycles 3 --pause 1
    """
    from ledger.config import parse_timezone
    from ledger.demo import check_demo_ledger, run_demo

    zone = app.overrides.get("LEDGER_TIMEZONE")
    timezone = parse_timezone(zone, name="--timezone") if zone else None
    path = _ledger_path(ledger_path)
    if app.verbosity <= 0:
        # The demo prints its own progress; -v shows the log lines as well.
        logging.getLogger().setLevel(logging.WARNING)

    echo(f"ledger: {path}")
    result = run_demo(
        check_demo_ledger(path),
        cycles=cycles,
        pause=pause,
        timezone=timezone,
        progress=echo,
    )
    echo()
    echo(_render(result))


def _ledger_path(requested: Path | None) -> Path:
    if requested is not None:
        return requested
    directory = Path(tempfile.mkdtemp(prefix="gumroad-ledger-demo-"))
    return directory / "ledger.sqlite"


def _render(result: Any) -> str:
    sections = [
        "ledger: product_totals",
        _products_table(result.product_totals),
        "",
        "ledger: sales_deltas (one row per product per poll that moved its totals)",
        _deltas_table(result.sales_deltas),
        "",
        "ledger: daily_sales",
        _daily_table(result.daily_sales),
        "",
        f"notion: products database ({len(result.notion_products)} pages)",
        _notion_products_table(result.notion_products),
        "",
        f"notion: daily database ({len(result.notion_daily)} pages)",
        _notion_daily_table(result.notion_daily),
        "",
        f"notion: {result.notion_writes} page writes in {len(result.cycles)} cycles",
        "",
        f"The ledger is kept at {result.ledger_path}. Query it with:",
        "  gumroad-ledger --database-url "
        f"{shlex.quote(result.database_url)} sql {shlex.quote(EXAMPLE_QUERY)}",
    ]
    return "\n".join(sections)


def _products_table(rows: list[dict[str, Any]]) -> str:
    from ledger.notion.projection import major_units

    return format_table(
        ["product_id", "name", "price", "sales", "revenue"],
        [
            [
                row["product_id"],
                row["name"] + (" (membership)" if row["is_membership"] else ""),
                _price(major_units(row["price_cents"], row["currency"]))
                + f" {row['currency'].upper()}",
                row["sales_count"],
                format_usd(row["revenue_usd_cents"]),
            ]
            for row in rows
        ],
    )


def _price(amount: int | float) -> str:
    # Whole-unit currencies such as JPY come back as int, the others as float.
    return f"{amount:,}" if isinstance(amount, int) else f"{amount:,.2f}"


def _deltas_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        ["poll", "product", "sales", "revenue"],
        [
            [
                row["poll_id"],
                row["product_name"],
                row["sales_delta"],
                format_usd(row["revenue_usd_cents_delta"], signed=True),
            ]
            for row in rows
        ],
    )


def _daily_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        ["day", "product", "sales", "revenue"],
        [
            [
                str(row["day"]),
                row["product_name"],
                row["sales_delta"],
                format_usd(row["revenue_usd_cents_delta"], signed=True),
            ]
            for row in rows
        ],
    )


def _notion_products_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        ["Name", "Price", "Currency", "Sales Count", "Revenue", "Status", "cover"],
        [
            [
                row.get("name"),
                row.get("price"),
                row.get("currency"),
                row.get("sales_count"),
                row.get("revenue"),
                row.get("status"),
                "yes" if row.get("cover") else "",
            ]
            for row in rows
        ],
    )


def _notion_daily_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        ["Name", "Date", "Sales", "Revenue"],
        [
            [row.get("name"), row.get("date"), row.get("sales"), row.get("revenue")]
            for row in rows
        ],
    )
