"""`init`, `poll` and `status` run as a user runs them, against the Gumroad sandbox."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.sandbox.gumroad import GumroadSandbox
from tests.conftest import GUMROAD_TOKEN, run_cli


@pytest.fixture
def gumroad() -> Iterator[GumroadSandbox]:
    with GumroadSandbox(token=GUMROAD_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def env(gumroad: GumroadSandbox, ledger_file: Path) -> dict[str, str]:
    return {"GUMROAD_ACCESS_TOKEN": GUMROAD_TOKEN, "GUMROAD_API_URL": gumroad.url}


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def seed(gumroad: GumroadSandbox, count: int) -> list[str]:
    return [
        gumroad.add_product(
            name=f"Product {index}", sales_count=index, revenue_usd_cents=index * 1000
        )
        for index in range(count)
    ]


def test_poll_walks_three_pages(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 25)

    result = run_cli("poll", env=env)

    assert result.returncode == 0, result.stderr
    assert "baseline recorded for 25 products (3 API pages)" in result.stdout
    assert query(ledger_file, "SELECT COUNT(*) FROM product_snapshots") == [(25,)]
    assert query(ledger_file, "SELECT pages_fetched, status FROM polls") == [(3, "ok")]


def test_init_then_poll_fills_tables(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    ids = seed(gumroad, 3)
    assert run_cli("init", "--skip-notion", env=env).returncode == 0
    assert run_cli("poll", env=env).returncode == 0
    gumroad.sell(ids[1], 2)
    gumroad.refund(ids[2], 1, usd_cents=1000)

    result = run_cli("poll", env=env)

    assert result.returncode == 0, result.stderr
    assert "net sales +1" in result.stdout
    deltas = query(
        ledger_file,
        "SELECT product_id, sales_delta, revenue_usd_cents_delta FROM sales_deltas "
        "ORDER BY sales_delta",
    )
    assert deltas == [(ids[2], -1, -1000), (ids[1], 2, 2000)]
    assert query(ledger_file, "SELECT SUM(sales_delta) FROM daily_sales") == [(1,)]


def test_unchanged_poll_only_adds_poll_row(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 12)
    run_cli("poll", env=env)

    result = run_cli("poll", env=env)

    assert result.returncode == 0
    assert query(ledger_file, "SELECT COUNT(*) FROM polls") == [(2,)]
    assert query(ledger_file, "SELECT COUNT(*) FROM product_snapshots") == [(12,)]


def test_new_and_deleted_products_recorded(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    ids = seed(gumroad, 2)
    run_cli("poll", env=env)
    gumroad.delete_product(ids[0])
    new = gumroad.add_product(name="Fresh", sales_count=2, revenue_usd_cents=3000)

    result = run_cli("poll", env=env)

    assert "(1 new, 1 deleted)" in result.stdout
    assert query(
        ledger_file, f"SELECT deleted FROM product_totals WHERE product_id='{ids[0]}'"
    ) == [(1,)]
    assert query(ledger_file, "SELECT product_id, sales_delta FROM sales_deltas") == [
        (new, 2)
    ]


FAULTS = [
    ("success_false", "success false"),
    ("bad_request", "Invalid"),
    ("unauthorized", "GUMROAD_ACCESS_TOKEN"),
    ("forbidden", "view_sales"),
    ("truncated", "JSON"),
    ("repeat_page_key", "page key"),
]


@pytest.mark.parametrize(("kind", "hint"), FAULTS, ids=[kind for kind, _ in FAULTS])
def test_gumroad_fault_records_failed_poll(
    gumroad, env, ledger_file, kind, hint
) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 15)
    gumroad.fail_next(kind, times=10, on_page=2 if kind == "repeat_page_key" else None)

    result = run_cli("poll", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert hint.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert GUMROAD_TOKEN not in result.output
    assert query(ledger_file, "SELECT status FROM polls") == [("failed",)]
    assert query(ledger_file, "SELECT COUNT(*) FROM product_snapshots") == [(0,)]


def test_missing_view_sales_fails_not_zero(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 3)
    gumroad.scopes.discard("view_sales")

    result = run_cli("poll", env=env)

    assert result.returncode == 1
    assert "view_sales" in result.stderr
    assert query(ledger_file, "SELECT COUNT(*) FROM product_snapshots") == [(0,)]


def test_transient_fault_retried_then_recorded(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 3)
    gumroad.fail_next("html_530", times=1)

    result = run_cli("poll", env=env)

    assert result.returncode == 0, result.stderr
    assert "retry" in result.stderr.lower()
    assert query(ledger_file, "SELECT status FROM polls") == [("ok",)]


def test_missing_token_exits_2(gumroad, ledger_file) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("poll", env={"GUMROAD_API_URL": gumroad.url})

    assert result.returncode == 2
    assert "GUMROAD_ACCESS_TOKEN is not set" in result.stderr


BAD_SETTINGS = [
    ("LEDGER_TIMEZONE", "Nowhere/Town"),
    ("LEDGER_POLL_INTERVAL", "soon"),
    ("GUMROAD_API_URL", "gopher://x"),
    ("LEDGER_DATABASE_URL", "mysql://u:p@h/db"),
]


@pytest.mark.parametrize(
    ("name", "value"), BAD_SETTINGS, ids=[n for n, _ in BAD_SETTINGS]
)
def test_bad_setting_exits_2_with_one_line(env, name, value) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("poll", env={**env, name: value})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert name in lines[0]


def test_status_json_lists_polls(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 4)
    run_cli("poll", env=env)

    result = run_cli("status", "--json", env=env)

    report = json.loads(result.stdout)
    assert report["ledger"]["path"] == str(ledger_file)
    assert report["ledger"]["revision"] == report["ledger"]["head"]
    assert report["polls"][0]["status"] == "ok"
    assert report["totals"]["products"] == 4


def test_status_hides_database_password(env) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "status", env={**env, "LEDGER_DATABASE_URL": "postgresql://u:pw1234@db/x"}
    )

    assert "pw1234" not in result.output


def test_status_before_init_creates_nothing(tmp_path, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("status", env=env)

    assert result.returncode == 0
    assert "gumroad-ledger init" in result.stdout
    assert not ledger_file.exists()


def test_token_never_in_ledger_bytes(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 3)
    run_cli("poll", env=env)
    gumroad.fail_next("unauthorized")
    run_cli("poll", env=env)

    for path in ledger_file.parent.glob("ledger.sqlite*"):
        assert GUMROAD_TOKEN.encode() not in path.read_bytes()


def test_init_switches_pinned_timezone(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 1)
    run_cli("poll", env={**env, "LEDGER_TIMEZONE": "Europe/Berlin"})

    warned = run_cli("poll", env={**env, "LEDGER_TIMEZONE": "Asia/Tokyo"})
    switched = run_cli(
        "init", "--skip-notion", env={**env, "LEDGER_TIMEZONE": "Asia/Tokyo"}
    )
    quiet = run_cli("poll", env={**env, "LEDGER_TIMEZONE": "Asia/Tokyo"})

    assert "counts days in Europe/Berlin" in warned.stderr
    assert "now counted in Asia/Tokyo, was Europe/Berlin" in switched.stdout
    assert "counts days in" not in quiet.stderr


@pytest.mark.parametrize("command", ["init", "status", "sql"])
def test_text_file_as_ledger_is_one_line(tmp_path, env, command) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    args = [command] + (["select * from polls"] if command == "sql" else [])

    result = run_cli(*args, env={**env, "LEDGER_DATABASE_URL": f"sqlite:///{notes}"})

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "not a SQLite database" in result.stderr


def test_listing_glitch_marks_nothing_deleted(gumroad, env, ledger_file) -> None:  # type: ignore[no-untyped-def]
    seed(gumroad, 3)
    run_cli("poll", env=env)
    gumroad.fail_next("empty_listing")

    result = run_cli("poll", env=env)

    assert result.returncode == 0, result.stderr
    assert "Gumroad still has it" in result.stderr
    assert query(ledger_file, "SELECT COUNT(*) FROM product_totals WHERE deleted") == [
        (0,)
    ]
