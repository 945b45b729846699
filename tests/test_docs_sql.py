"""Every query in docs/sql.md runs on the reference ledger and returns known rows.

The queries read the current time only through SQLite's 'now'. The test replaces
'now' with a fixed instant, 2026-03-31 12:00:00 UTC, and sets TZ=UTC so that
'localtime' changes nothing, which makes the results exact. The expected rows were
worked out by hand from the timeline in tests/ledger_fixture.py.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ledger_fixture import REFERENCE_NOW, build_reference_ledger
from tests.test_cli_sql import invoke

DOC = Path(__file__).resolve().parent.parent / "docs" / "sql.md"

SECTION = re.compile(r"^## (?P<heading>.+?)\n(?P<body>.*?)(?=^## |\Z)", re.M | re.S)
SQL_BLOCK = re.compile(r"^```sql\n(?P<query>.*?)^```", re.M | re.S)

NOON = "12:00:00.000000"
EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "Revenue in the last 30 days, by product": [
        # 2026-03-02 to 2026-03-31: polls 6, 7 and 8.
        ("ebook", "Ebook", 4, 4800, "48.00"),
        ("template", "Template", 3, 2600, "26.00"),
        ("sampler", "Sampler", 5, 0, "0.00"),
        ("stickers", "Sticker pack", -1, -550, "-5.50"),
    ],
    "Best day ever": [("2026-02-10", 4, 7300)],
    "Net revenue by month": [
        ("2026-01", 2, "20.00"),
        ("2026-02", 4, "31.00"),
        ("2026-03", 11, "68.50"),
    ],
    "Refunds by month": [("2026-02", 1, 5000), ("2026-03", 1, 550)],
    "Products that stopped selling": [
        ("course", "Course", "2026-02-10"),
        ("stickers", "Sticker pack", "2026-02-10"),
    ],
    "Week over week growth": [
        # Only weeks 12 and 13 are adjacent: (1000 - 5850) / 5850 = -82.9 %.
        ("2026-W13", 1000, 5850, -4850, -82.9),
        ("2026-W12", 5850, 0, 5850, None),
        ("2026-W09", -4200, 0, -4200, None),
        ("2026-W07", 7300, 0, 7300, None),
        ("2026-W04", 2000, 0, 2000, None),
    ],
    "Top products this month": [
        ("ebook", "Ebook", 4, 4800),
        ("template", "Template", 3, 2600),
        ("sampler", "Sampler", 5, 0),
        ("stickers", "Sticker pack", -1, -550),
    ],
    "Average revenue per sale, by product": [
        ("course", "Course", 2, 10000, 5000),
        ("ebook", "Ebook", 17, 18000, 1059),
        ("template", "Template", 4, 3400, 850),
        ("stickers", "Sticker pack", 5, 2750, 550),
        ("sampler", "Sampler", 25, 0, 0),
    ],
    "When each product last changed price": [
        ("template", "Template", "2026-03-22 23:30:00.000000", 800, 1000, "usd"),
        ("ebook", "Ebook", f"2026-02-10 {NOON}", 1000, 1200, "usd"),
    ],
    "One product's history": [
        (f"2026-01-05 {NOON}", "Stickers", 4, 2200, "published", None),
        (f"2026-02-10 {NOON}", "Stickers", 6, 3300, "published", "sales_count,revenue"),
        (f"2026-03-20 {NOON}", "Sticker pack", 6, 3300, "published", "name"),
        (
            "2026-03-22 23:30:00.000000",
            "Sticker pack",
            5,
            2750,
            "published",
            "sales_count,revenue",
        ),
    ],
    "Polls that failed in the last 7 days": [
        (10, "2026-03-31 10:00:00.000000", "Gumroad returned HTTP 502"),
    ],
    "Check that the ledger adds up": [],
}


def doc_queries() -> dict[str, str]:
    """Map each section heading of docs/sql.md that has a SQL block to its query."""
    queries = {}
    for section in SECTION.finditer(DOC.read_text(encoding="utf-8")):
        blocks = SQL_BLOCK.findall(section["body"])
        if blocks:
            assert len(blocks) == 1, f"section {section['heading']!r} has two queries"
            queries[section["heading"]] = blocks[0]
    return queries


QUERIES = doc_queries()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("docs") / "reference.sqlite"
    build_reference_ledger(path).close()
    yield path


@pytest.fixture
def utc_localtime() -> Iterator[None]:
    """Make SQLite's 'localtime' modifier a no-op by running in UTC."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


def at_reference_time(query: str) -> str:
    return query.replace("'now'", f"'{REFERENCE_NOW}'")


def test_doc_has_eight_questions() -> None:
    assert len(QUERIES) >= 8


def test_every_query_has_expected_rows() -> None:
    assert sorted(QUERIES) == sorted(EXPECTED)


@pytest.mark.parametrize("query", QUERIES.values(), ids=list(QUERIES))
def test_query_reads_time_only_as_now(query: str) -> None:
    # Other clocks would escape the substitution and make the results drift.
    assert not re.search(r"current_(date|time|timestamp)|julianday\(\)", query, re.I)


@pytest.mark.parametrize("heading", list(QUERIES))
def test_doc_query_rows(reference: Path, utc_localtime: None, heading: str) -> None:
    query = at_reference_time(QUERIES[heading])
    with sqlite3.connect(f"file:{reference}?mode=ro", uri=True) as connection:
        found = connection.execute(query).fetchall()
    assert found == EXPECTED.get(heading)


@pytest.mark.parametrize("heading", list(QUERIES))
def test_doc_query_runs_through_sql_command(
    reference: Path,
    heading: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{reference}")
    result = invoke(capsys, "sql", "--json", QUERIES[heading])
    assert result.returncode == 0, result.stderr
