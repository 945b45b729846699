"""`gumroad-ledger report`: local days, bars, product filter and the PNG chart."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledger.cli.report_command import render_bar
from tests.conftest import CliResult, run_cli
from tests.ledger_fixture import LedgerBuilder, make_product
from tests.test_cli_sql import invoke


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


@pytest.fixture
def today(ledger_file: Path) -> date:
    """Build a ledger whose deltas sit 3 days ago, yesterday and today (UTC).

    ebook +2 +$20.00 three days ago, ebook -1 -$10.00 (a refund) yesterday,
    course +1 +$50.00 today. The baseline was 40 days ago.
    """
    current = datetime.now(UTC).date()
    builder = LedgerBuilder(ledger_file)
    catalogue = builder.catalogue
    catalogue.add(
        make_product(
            "ebook", "Ebook", price_cents=1000, sales_count=10, revenue_usd_cents=10000
        )
    )
    catalogue.add(make_product("course", "Course", price_cents=5000))
    builder.poll_at(noon(current - timedelta(days=40)))

    catalogue.change("ebook", sales_count=12, revenue_usd_cents=12000)
    builder.poll_at(noon(current - timedelta(days=3)))
    catalogue.change("ebook", sales_count=11, revenue_usd_cents=11000)
    builder.poll_at(noon(current - timedelta(days=1)))
    catalogue.change("course", sales_count=1, revenue_usd_cents=5000)
    builder.poll_at(noon(current))
    builder.close()
    return current


def report(capsys: pytest.CaptureFixture[str], today: date, *args: str) -> CliResult:
    result = invoke(capsys, "report", *args)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC date changed while the test ran")
    return result


def day_rows(output: str) -> dict[str, list[str]]:
    """Map each table row's day to its other cells (weekday, sales, revenue, bar)."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if cells and len(cells[0]) == 10 and cells[0][:4].isdigit():
            rows[cells[0]] = cells[1:]
    return rows


def ago(today: date, days: int) -> str:
    return (today - timedelta(days=days)).isoformat()


def test_report_lists_every_day(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    result = report(capsys, today, "--days", "5")
    assert result.returncode == 0
    assert list(day_rows(result.stdout)) == [ago(today, n) for n in (4, 3, 2, 1, 0)]


def test_report_days_without_change_zero(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = day_rows(report(capsys, today, "--days", "5").stdout)
    assert rows[ago(today, 2)][1:] == ["0", "$0.00"]


@pytest.mark.parametrize(
    ("days_ago", "sales", "revenue"),
    [(3, "2", "+$20.00"), (1, "-1", "-$10.00"), (0, "1", "+$50.00")],
    ids=["sale", "refund", "today"],
)
def test_report_day_values(
    today: date,
    capsys: pytest.CaptureFixture[str],
    days_ago: int,
    sales: str,
    revenue: str,
) -> None:
    rows = day_rows(report(capsys, today, "--days", "5").stdout)
    assert rows[ago(today, days_ago)][1:3] == [sales, revenue]


def test_report_bars_scale_to_largest_day(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = day_rows(report(capsys, today, "--days", "5").stdout)
    assert rows[ago(today, 0)][3] == "█" * 40
    assert rows[ago(today, 3)][3] == "█" * 16


def test_report_negative_day_shaded(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = day_rows(report(capsys, today, "--days", "5").stdout)
    assert rows[ago(today, 1)][3] == "░" * 8


def test_report_totals_line(today: date, capsys: pytest.CaptureFixture[str]) -> None:
    output = report(capsys, today, "--days", "5").stdout
    assert "total over 5 days: net sales +2, net revenue +$60.00" in output


def test_report_title_names_span_and_zone(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    output = report(capsys, today, "--days", "5").stdout
    assert output.splitlines()[0] == (
        f"All products, net change per day, {ago(today, 4)} to {ago(today, 0)} (UTC)"
    )


def test_report_default_30_days(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = day_rows(report(capsys, today).stdout)
    assert list(rows)[0] == ago(today, 29)
    assert len(rows) == 30


def test_report_maximum_days_accepted(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    result = report(capsys, today, "--days", "3660")
    assert result.returncode == 0
    assert len(day_rows(result.stdout)) == 3660


@pytest.mark.parametrize("days", ["0", "-1", "3661", "ten"])
def test_report_days_out_of_range(
    today: date, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    result = report(capsys, today, "--days", days)
    assert result.returncode == 2
    assert "--days" in result.stderr


def test_report_one_product(today: date, capsys: pytest.CaptureFixture[str]) -> None:
    output = report(capsys, today, "--days", "5", "--product", "ebook").stdout
    rows = day_rows(output)
    assert output.startswith("Ebook (ebook), net change per day")
    assert rows[ago(today, 0)][1:3] == ["0", "$0.00"]
    assert rows[ago(today, 3)][1:3] == ["2", "+$20.00"]


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [("ebok", "ebook (Ebook)"), ("the course", "course (Course)")],
    ids=["misspelt-id", "name-instead-of-id"],
)
def test_unknown_product_lists_close_matches(
    today: date, capsys: pytest.CaptureFixture[str], typed: str, suggested: str
) -> None:
    result = report(capsys, today, "--product", typed)
    assert result.returncode == 2
    assert f"product {typed!r} is not in the ledger" in result.stderr
    assert f"close matches: {suggested}" in result.stderr


def test_unknown_product_without_match(
    today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    result = report(capsys, today, "--product", "zzzzzz")
    assert result.returncode == 2
    assert "SELECT product_id, name FROM product_totals" in result.stderr


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_report_ends_today_in_ledger_zone(
    today: date,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
) -> None:
    # UTC+14 and UTC-11: at any moment at least one is on another date than UTC.
    monkeypatch.setenv("LEDGER_TIMEZONE", zone)
    expected = datetime.now(ZoneInfo(zone)).date()
    rows = day_rows(report(capsys, today, "--days", "3").stdout)
    if datetime.now(ZoneInfo(zone)).date() != expected:
        pytest.skip(f"the date in {zone} changed while the test ran")
    assert list(rows)[-1] == expected.isoformat()


def test_png_chart_written(
    today: date, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "chart.png"
    result = report(capsys, today, "--days", "5", "--png", str(target))
    assert result.returncode == 0
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert len(day_rows(result.stdout)) == 5


def test_png_without_matplotlib_names_extra(
    today: date,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # A None entry in sys.modules makes `import matplotlib` raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    target = tmp_path / "chart.png"
    result = report(capsys, today, "--png", str(target))

    assert result.returncode == 2
    assert "pip install 'gumroad-ledger[chart]'" in result.stderr
    assert result.stdout == ""
    assert not target.exists()


def test_png_missing_directory_rejected(
    today: date, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "absent" / "chart.png"
    result = report(capsys, today, "--png", str(target))
    assert result.returncode == 2
    assert f"directory {target.parent} does not exist" in result.stderr


def test_missing_ledger_names_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "absent" / "ledger.sqlite"
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{path}")
    result = invoke(capsys, "report")

    assert result.returncode == 1
    assert "gumroad-ledger init" in result.stderr
    assert not path.parent.exists()


def test_ledger_without_schema_names_init(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_file.touch()
    result = invoke(capsys, "report")
    assert result.returncode == 1
    assert "has no schema yet: run `gumroad-ledger init`" in result.stderr


def test_report_subprocess_exit_code(today: date) -> None:
    result = run_cli("report", "--days", "2")
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC date changed while the test ran")
    assert result.returncode == 0
    assert "+$50.00" in result.stdout


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        (0, 100, ""),
        (100, 0, ""),
        (100, 100, "█" * 40),
        (50, 100, "█" * 20),
        (51, 100, "█" * 20 + "▍"),
        (1, 100_000, "▏"),
        (-50, 100, "░" * 20),
        (-1, 100_000, "░"),
    ],
    ids=[
        "zero",
        "zero-scale",
        "full",
        "half",
        "eighths",
        "tiny-positive-visible",
        "negative-shaded",
        "tiny-negative-visible",
    ],
)
def test_render_bar(value: int, scale: int, expected: str) -> None:
    assert render_bar(value, scale) == expected
