"""`gumroad-ledger report`: net sales and revenue per day, as a table and a chart."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo, format_table, format_usd
from ledger.errors import ConfigError, LedgerError, StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

MAX_DAYS = 3660
BAR_WIDTH = 40
FULL_BLOCK = "█"
# Left-aligned partial blocks, index n is n eighths of a cell wide.
EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
# Negative days are drawn in a shade, so they read differently even without colour.
NEGATIVE_BLOCK = "░"
CHART_INSTALL = "pip install 'gumroad-ledger[chart]'"


@dataclass(frozen=True)
class DayTotal:
    """Net change of one local day: sales count and revenue in USD cents."""

    day: date
    sales: int
    revenue_usd_cents: int


@click.command("report")
@click.option(
    "--days",
    type=click.IntRange(1, MAX_DAYS),
    default=30,
    show_default=True,
    help="Number of days to show, ending today in LEDGER_TIMEZONE.",
)
@click.option(
    "--product",
    "product_id",
    metavar="ID",
    help="Show one product, by its Gumroad product id.",
)
@click.option(
    "--png",
    "png_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Also draw the chart into this PNG file (needs matplotlib: {CHART_INSTALL}).",
)
@click.pass_obj
def report_command(
    app: AppContext, days: int, product_id: str | None, png_path: Path | None
) -> None:
    """Show net sales and revenue per day, with a bar chart of revenue.

    Days are local dates in LEDGER_TIMEZONE; the last DAYS days end today, and a day
    without a change shows zero. Revenue is net of refunds, in USD. Bars show
    revenue: full blocks for days that gained, light shade for days that lost.
    The ledger is opened read-only.

    Example: gumroad-ledger report --days 14 --product ebook --png sales.png
    """
    if png_path is not None:
        _check_png_target(png_path)
    settings = app.settings()
    end = datetime.now(settings.timezone).date()
    start = end - timedelta(days=days - 1)

    engine = _open_ledger(app)
    try:
        title = _title(engine, product_id, start, end, settings.timezone.key)
        totals = collect_days(engine, start, end, product_id)
    finally:
        engine.dispose()

    echo(render_report(title, totals))
    if png_path is not None:
        draw_png(png_path, title, totals)
        log.info("wrote the chart to %s", png_path)


def _check_png_target(path: Path) -> None:
    load_figure_class()
    if not path.parent.is_dir():
        raise click.BadParameter(
            f"directory {path.parent} does not exist: create it or choose another path",
            param_hint="--png",
        )


def load_figure_class() -> Any:
    """Import matplotlib's Figure, or raise ConfigError naming the install command."""
    # matplotlib logs its font cache rebuild at INFO, which is noise on stderr here.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ConfigError(
            f"--png needs matplotlib, which is not installed: run {CHART_INSTALL}"
        ) from error
    return Figure


def _open_ledger(app: AppContext) -> Engine:
    from ledger.store.db import check_schema, create_ledger_engine

    engine = create_ledger_engine(app.settings().database_url, read_only=True)
    if check_schema(engine) is None:
        engine.dispose()
        raise StoreError(
            f"ledger {app.ledger_path()} has no schema yet: run `gumroad-ledger init`"
        )
    return engine


def _title(
    engine: Engine, product_id: str | None, start: date, end: date, zone: str
) -> str:
    span = f"{start.isoformat()} to {end.isoformat()} ({zone})"
    if product_id is None:
        return f"All products, net change per day, {span}"
    name = find_product(engine, product_id)
    return f"{name} ({product_id}), net change per day, {span}"


def find_product(engine: Engine, product_id: str) -> str:
    """Return the product's latest name; raise BadParameter listing close matches."""
    from sqlalchemy import func, select

    from ledger.store.models import ProductSnapshot

    latest = (
        select(func.max(ProductSnapshot.id))
        .group_by(ProductSnapshot.product_id)
        .scalar_subquery()
    )
    query = select(ProductSnapshot.product_id, ProductSnapshot.name).where(
        ProductSnapshot.id.in_(latest)
    )
    with engine.connect() as connection:
        names = {row.product_id: row.name for row in connection.execute(query)}
    if product_id in names:
        return names[product_id]
    raise click.BadParameter(
        _unknown_product(product_id, names), param_hint="--product"
    )


def _unknown_product(product_id: str, names: dict[str, str]) -> str:
    if not names:
        return (
            f"product {product_id!r} is not in the ledger, which has no products yet: "
            "run `gumroad-ledger poll`"
        )
    by_id = difflib.get_close_matches(product_id, list(names), n=5, cutoff=0.5)
    lowered = product_id.casefold()
    by_name = [
        key
        for key, name in names.items()
        if lowered in name.casefold() or name.casefold() in lowered
    ]
    matches = list(dict.fromkeys(by_id + by_name))[:5]
    if not matches:
        return (
            f"product {product_id!r} is not in the ledger and no id or name is close: "
            'list the ids with gumroad-ledger sql "SELECT product_id, name FROM '
            'product_totals"'
        )
    listed = ", ".join(f"{key} ({names[key]})" for key in matches)
    return f"product {product_id!r} is not in the ledger; close matches: {listed}"


def collect_days(
    engine: Engine, start: date, end: date, product_id: str | None = None
) -> list[DayTotal]:
    """Sum the deltas of each day from `start` to `end`; days without one are zero."""
    from sqlalchemy import func, select

    from ledger.store.models import SalesDelta

    query = (
        select(
            SalesDelta.day,
            func.sum(SalesDelta.sales_delta),
            func.sum(SalesDelta.revenue_usd_cents_delta),
        )
        .where(SalesDelta.day.between(start, end))
        .group_by(SalesDelta.day)
    )
    if product_id is not None:
        query = query.where(SalesDelta.product_id == product_id)
    with engine.connect() as connection:
        found = {
            day: (sales, revenue) for day, sales, revenue in connection.execute(query)
        }

    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return [DayTotal(day, *found.get(day, (0, 0))) for day in days]


def render_report(title: str, totals: list[DayTotal]) -> str:
    """Render the title, one table row per day with its bar, and the totals line."""
    scale = max((abs(total.revenue_usd_cents) for total in totals), default=0)
    revenues = [format_usd(total.revenue_usd_cents, signed=True) for total in totals]
    # format_table right-aligns only numbers, so money text is padded here.
    width = max([len("revenue"), *(len(text) for text in revenues)])
    rows = [
        [
            total.day.isoformat(),
            total.day.strftime("%a"),
            total.sales,
            revenue.rjust(width),
            render_bar(total.revenue_usd_cents, scale),
        ]
        for total, revenue in zip(totals, revenues, strict=True)
    ]
    table = format_table(["day", "", "sales", "revenue".rjust(width), "chart"], rows)

    sales = sum(total.sales for total in totals)
    revenue = sum(total.revenue_usd_cents for total in totals)
    summary = (
        f"total over {len(totals)} days: net sales {sales:+d}, "
        f"net revenue {format_usd(revenue, signed=True)}"
    )
    legend = f"chart: {FULL_BLOCK} revenue gained, {NEGATIVE_BLOCK} revenue lost"
    return "\n".join([title, "", table, "", summary, legend])


def render_bar(value: int, scale: int, width: int = BAR_WIDTH) -> str:
    """Draw `value` as a bar `width` cells long at `scale`, to 1/8 cell when positive.

    A non-zero value is never drawn empty, so a small refund stays visible.
    """
    if value == 0 or scale <= 0:
        return ""
    cells = abs(value) / scale * width
    if value < 0:
        return NEGATIVE_BLOCK * max(1, round(cells))
    eighths = max(1, round(cells * 8))
    return FULL_BLOCK * (eighths // 8) + EIGHTHS[eighths % 8]


def draw_png(path: Path, title: str, totals: list[DayTotal]) -> None:
    """Draw revenue and sales per day as two bar charts into a PNG file."""
    figure = load_figure_class()(figsize=(10, 6), layout="constrained")
    revenue_axes, sales_axes = figure.subplots(2, 1, sharex=True)
    days = [total.day for total in totals]

    revenue = [total.revenue_usd_cents / 100 for total in totals]
    revenue_axes.bar(days, revenue, color=_colours(revenue))
    revenue_axes.axhline(0, color="black", linewidth=0.8)
    revenue_axes.set_ylabel("net revenue (USD)")

    sales = [total.sales for total in totals]
    sales_axes.bar(days, sales, color=_colours(sales))
    sales_axes.axhline(0, color="black", linewidth=0.8)
    sales_axes.set_ylabel("net sales")
    sales_axes.yaxis.get_major_locator().set_params(integer=True)

    figure.suptitle(title)
    figure.autofmt_xdate()
    try:
        figure.savefig(path, format="png", dpi=100)
    except OSError as error:
        raise LedgerError(
            f"cannot write the chart to {path}: {error.strerror or error}"
        ) from error


def _colours(values: list[float] | list[int]) -> list[str]:
    return ["tab:red" if value < 0 else "tab:blue" for value in values]
