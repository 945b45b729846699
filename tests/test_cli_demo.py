"""`demo` as a user runs it.

Most checks share one short run (three cycles, no pause); one slow test runs the
demo with its defaults against the time limit.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli

DEMO_LIMIT_SECONDS = 60
# Environment values the demo must ignore: it uses the sandboxes' own tokens.
USER_TOKENS = {
    "GUMROAD_ACCESS_TOKEN": "user-gumroad-token-must-not-be-used",
    "NOTION_TOKEN": "user-notion-token-must-not-be-used",
}


def run_demo(temp: Path, *args: str) -> tuple[CliResult, float]:
    """Run `demo ARGS` with a private TMPDIR and user tokens it must ignore."""
    started = time.monotonic()
    result = run_cli(
        "demo",
        *args,
        env={"TMPDIR": str(temp), **USER_TOKENS},
        timeout=DEMO_LIMIT_SECONDS + 30,
    )
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliResult, Path]:
    """Run a three-cycle demo once for the whole module."""
    temp = tmp_path_factory.mktemp("demo-tmp")
    result, _ = run_demo(temp, "--cycles", "3", "--pause", "0")
    return result, temp


def section(stdout: str, title: str) -> list[list[str]]:
    """Return the rows of the table printed under `title`, split into cells."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def printed_ledger(stdout: str) -> Path:
    match = re.search(r"^The ledger is kept at (\S+)\. Query it with:$", stdout, re.M)
    assert match, stdout
    return Path(match.group(1))


def cents(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    return sign * int(text.lstrip("+-$").replace(",", "").replace(".", ""))


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.slow
def test_default_demo_finishes_in_time(tmp_path: Path) -> None:
    result, seconds = run_demo(tmp_path)

    assert result.returncode == 0, result.output
    assert seconds < DEMO_LIMIT_SECONDS
    assert printed_ledger(result.stdout).is_file()


def test_demo_exits_0(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run

    assert result.returncode == 0, result.output


def test_demo_prints_one_line_per_cycle(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run

    cycle_lines = [
        line for line in result.stdout.splitlines() if line.startswith("cycle ")
    ]
    assert [line.split(":")[0] for line in cycle_lines] == [
        "cycle 1",
        "cycle 2",
        "cycle 3",
    ]
    assert "failed" not in " ".join(cycle_lines)


def test_demo_ledger_is_in_tmpdir(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, temp = demo_run

    path = printed_ledger(result.stdout)
    assert path.is_file()
    assert path.is_relative_to(temp)
    assert f"--database-url sqlite:///{path} sql" in result.stdout


def test_demo_totals_match_ledger(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run
    path = printed_ledger(result.stdout)

    printed = {
        row[0]: (int(row[3]), cents(row[4]))
        for row in section(result.stdout, "ledger: product_totals")
    }
    stored = {
        product_id: (sales, revenue)
        for product_id, sales, revenue in query(
            path,
            "SELECT product_id, sales_count, revenue_usd_cents FROM product_totals",
        )
    }
    assert len(stored) == 6
    assert printed == stored


def test_demo_daily_sales_match_ledger(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run
    path = printed_ledger(result.stdout)

    printed = sorted(
        (row[0], row[1], int(row[2]), cents(row[3]))
        for row in section(result.stdout, "ledger: daily_sales")
    )
    stored = sorted(
        query(
            path,
            "SELECT day, product_name, sales_delta, revenue_usd_cents_delta "
            "FROM daily_sales",
        )
    )
    assert printed == stored


def test_demo_records_the_refund(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run
    path = printed_ledger(result.stdout)

    assert query(path, "SELECT COUNT(*) FROM sales_deltas WHERE sales_delta < 0") == [
        (1,)
    ]


def test_demo_notion_matches_ledger(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run
    path = printed_ledger(result.stdout)

    notion = {
        row[0]: (int(row[3]), round(float(row[4]) * 100))
        for row in section(result.stdout, "notion: products database")
    }
    stored = dict(
        (name, (sales, revenue))
        for name, sales, revenue in query(
            path, "SELECT name, sales_count, revenue_usd_cents FROM product_totals"
        )
    )
    daily_pages = section(result.stdout, "notion: daily database")
    daily_rows = query(path, "SELECT COUNT(*) FROM daily_sales")[0][0]
    assert notion == stored
    assert len(daily_pages) == daily_rows


def test_demo_ignores_user_tokens(demo_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = demo_run
    path = printed_ledger(result.stdout)

    for token in USER_TOKENS.values():
        assert token not in result.output
        assert token.encode() not in path.read_bytes()


def test_demo_rejects_existing_ledger(tmp_path: Path) -> None:
    existing = tmp_path / "ledger.sqlite"
    existing.write_bytes(b"not a demo ledger")

    result = run_cli("demo", "--ledger", str(existing))

    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert existing.read_bytes() == b"not a demo ledger"
