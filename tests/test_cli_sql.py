"""`gumroad-ledger sql`: read-only queries, output formats and error lines."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import make_url

from ledger.cli import main
from ledger.store.db import alembic_config, create_ledger_engine
from tests.conftest import CliResult, run_cli
from tests.ledger_fixture import build_reference_ledger


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("sql") / "reference.sqlite"
    build_reference_ledger(path).close()
    yield path


@pytest.fixture
def ledger(reference: Path, ledger_file: Path) -> Path:
    """A private copy of the reference ledger at LEDGER_DATABASE_URL."""
    shutil.copyfile(reference, ledger_file)
    return ledger_file


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run the CLI in this process, as `python -m ledger ARGS` would."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliResult(code if isinstance(code, int) else 1, captured.out, captured.err)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_select_prints_aligned_table(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "SELECT * FROM store_monthly_totals ORDER BY month")
    assert result.returncode == 0
    assert result.stdout == (
        "month    products_changed  sales_delta  revenue_usd_cents_delta\n"
        "-------  ----------------  -----------  -----------------------\n"
        "2026-01                 1            2                     2000\n"
        "2026-02                 4            4                     3100\n"
        "2026-03                 4           11                     6850\n"
    )


def test_empty_result_prints_header(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "SELECT id, status FROM polls WHERE id < 0")
    assert result.stdout == "id  status\n--  ------\n"


def test_csv_output_has_header(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(
        capsys,
        "sql",
        "--csv",
        "SELECT id, error, is_baseline FROM polls WHERE id IN (1, 10) ORDER BY id",
    )
    assert result.returncode == 0
    assert result.stdout == (
        "id,error,is_baseline\n1,,1\n10,Gumroad returned HTTP 502,0\n"
    )


def test_json_output_is_list_of_objects(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(
        capsys,
        "sql",
        "--json",
        "SELECT product_id, name, sales_count, preview_url FROM product_totals "
        "WHERE product_id IN ('ebook', 'stickers') ORDER BY product_id",
    )
    assert result.returncode == 0
    assert json.loads(result.stdout) == [
        {
            "product_id": "ebook",
            "name": "Ebook",
            "sales_count": 17,
            "preview_url": None,
        },
        {
            "product_id": "stickers",
            "name": "Sticker pack",
            "sales_count": 5,
            "preview_url": None,
        },
    ]


def test_json_renames_repeated_columns(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "--json", "SELECT 1 AS a, 2 AS a, 3 AS a_2")
    assert json.loads(result.stdout) == [{"a": 1, "a_2": 2, "a_2_2": 3}]


def test_blob_rendered_as_hex(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, "sql", "--csv", "SELECT x'00ff10' AS data")
    assert result.stdout == "data\n00ff10\n"


def test_csv_and_json_together_rejected(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "--csv", "--json", "SELECT 1")
    assert result.returncode == 2
    assert "--csv and --json cannot be combined" in result.stderr


def test_empty_query_is_usage_error(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "  ")
    assert result.returncode == 2
    assert "QUERY is empty" in result.stderr


def test_reading_pragma_allowed(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "--json", "PRAGMA table_info(polls)")
    assert result.returncode == 0
    assert json.loads(result.stdout)[0]["name"] == "id"


WRITES = [
    ("insert", "INSERT INTO polls (id) VALUES (99)", "insert into polls"),
    ("update", "UPDATE polls SET status = 'ok'", "update polls"),
    ("delete", "DELETE FROM sales_deltas", "delete from sales_deltas"),
    (
        "replace",
        "REPLACE INTO meta VALUES ('k', 'v', '2026-01-01')",
        "insert into meta",
    ),
    (
        "insert-in-cte",
        "WITH x AS (SELECT 1) INSERT INTO meta SELECT 'k', 'v', '2026' FROM x",
        "insert into meta",
    ),
    ("drop-table", "DROP TABLE polls", "drop table polls"),
    ("drop-view", "DROP VIEW product_history", "drop view product_history"),
    ("create-table", "CREATE TABLE notes (text TEXT)", "create table notes"),
    ("create-temp-table", "CREATE TEMP TABLE notes (text TEXT)", "create table notes"),
    (
        "create-index",
        "CREATE INDEX ix_status ON polls (status)",
        "create index ix_status",
    ),
    ("alter", "ALTER TABLE polls ADD COLUMN note TEXT", "alter table polls"),
    ("reindex", "REINDEX", "reindex"),
    ("analyze", "ANALYZE", "analyze"),
    ("attach", "ATTACH 'other.sqlite' AS other", "ATTACH, DETACH and VACUUM"),
    ("vacuum", "VACUUM", "ATTACH, DETACH and VACUUM"),
    ("vacuum-into", "VACUUM INTO 'copy.sqlite'", "ATTACH, DETACH and VACUUM"),
    ("pragma-user-version", "PRAGMA user_version = 7", "PRAGMA user_version = 7"),
    ("pragma-query-only", "PRAGMA query_only = off", "PRAGMA query_only = off"),
    ("pragma-journal-mode", "PRAGMA journal_mode = delete", "PRAGMA journal_mode"),
]


@pytest.mark.parametrize(
    ("query", "named"),
    [write[1:] for write in WRITES],
    ids=[write[0] for write in WRITES],
)
def test_write_rejected_ledger_unchanged(
    ledger: Path, capsys: pytest.CaptureFixture[str], query: str, named: str
) -> None:
    before = digest(ledger)
    result = invoke(capsys, "sql", query)

    assert result.returncode == 2
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert named in result.stderr
    assert "read-only" in result.stderr
    assert result.stdout == ""
    assert digest(ledger) == before


@pytest.mark.parametrize(
    "query",
    ["ATTACH 'other.sqlite' AS other", "VACUUM INTO 'other.sqlite'"],
    ids=["attach", "vacuum-into"],
)
def test_rejected_query_creates_no_file(
    ledger: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    invoke(capsys, "sql", query)
    assert not (Path.cwd() / "other.sqlite").exists()


def test_several_statements_rejected(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "SELECT 1; DELETE FROM polls")
    assert result.returncode == 2
    assert "more than one statement" in result.stderr


def test_syntax_error_is_one_line(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "SELECT *\nFORM polls")
    assert result.returncode == 1
    assert result.stderr == 'Error: near "FORM": syntax error\n'


def test_unknown_column_names_it(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "SELECT revenue FROM polls")
    assert result.stderr == "Error: no such column: revenue\n"


def test_unknown_table_lists_how_to_find(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "sql", "SELECT * FROM sales")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no such table: sales; ")
    assert "sqlite_master" in result.stderr


def test_old_schema_hint_names_init(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_url(f"sqlite:///{ledger_file}")
    engine = create_ledger_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()

    result = invoke(capsys, "sql", "SELECT * FROM store_daily_totals")
    assert "schema revision 0001" in result.stderr
    assert "gumroad-ledger init" in result.stderr
    revision = invoke(capsys, "sql", "--csv", "SELECT version_num FROM alembic_version")
    assert revision.stdout == "version_num\n0001\n"


def test_not_a_database_is_clear(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_file.write_text("not sqlite, just text\n" * 100)
    result = invoke(capsys, "sql", "SELECT 1 FROM polls")
    assert result.returncode == 1
    assert "is not a SQLite database" in result.stderr


def test_missing_ledger_names_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "absent" / "ledger.sqlite"
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{path}")
    result = invoke(capsys, "sql", "SELECT 1")

    assert result.returncode == 1
    assert "gumroad-ledger init" in result.stderr
    assert not path.parent.exists()


def test_query_from_stdin_subprocess(ledger: Path) -> None:
    result = run_cli("sql", "--csv", "-", input="SELECT COUNT(*) AS polls FROM polls\n")
    assert result.returncode == 0
    assert result.stdout == "polls\n10\n"


def test_write_rejected_subprocess(ledger: Path) -> None:
    before = digest(ledger)
    result = run_cli("sql", "DELETE FROM sales_deltas")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: the query would delete from sales_deltas")
    assert digest(ledger) == before


def test_sigint_stops_long_query(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.ledger_helpers import new_ledger

    path = tmp_path / "ledger.sqlite"
    new_ledger(path).dispose()
    endless = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
        "SELECT COUNT(*) FROM n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", "sql", endless],
        env={**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{path}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    try:
        _out, err = process.communicate(timeout=5)
    finally:
        process.kill()

    assert process.returncode == 130
    assert "interrupted" in err
