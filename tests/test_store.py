"""Ledger schema: Alembic upgrades, downgrades, drift and version checks."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from ledger.errors import SchemaTooNewError, StoreError
from ledger.poller import poll
from ledger.store.db import (
    alembic_config,
    check_schema,
    create_ledger_engine,
    ensure_current,
    head_revision,
    migrations_path,
    require_current,
)
from ledger.store.models import Base
from tests.ledger_helpers import ScriptedSource, StepClock, new_ledger, payload, rows


def populated_ledger(path: Path):  # type: ignore[no-untyped-def]
    engine = new_ledger(path)
    source = ScriptedSource()
    source.set(payload("AAA==", sales_count=1, sales_usd_cents=500))
    clock = StepClock()
    poll(engine, source, ZoneInfo("UTC"), clock=clock)
    source.set(payload("AAA==", sales_count=3, sales_usd_cents=1500))
    poll(engine, source, ZoneInfo("UTC"), clock=clock)
    return engine


def test_empty_ledger_upgrades_to_head(tmp_path: Path) -> None:
    engine = new_ledger(tmp_path / "ledger.sqlite")

    assert check_schema(engine) == head_revision()


def test_wal_and_busy_timeout_enabled(tmp_path: Path) -> None:
    engine = new_ledger(tmp_path / "ledger.sqlite")

    with engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert journal == "wal"
    assert timeout >= 5000


def test_every_revision_downgrades_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    engine = populated_ledger(path)
    config = alembic_config(engine.url)
    revisions = list(ScriptDirectory(str(migrations_path())).walk_revisions())

    for _ in revisions[:-1]:
        command.downgrade(config, "-1")
        command.upgrade(config, "head")

    assert check_schema(engine) == head_revision()
    assert rows(engine, "SELECT sales_count FROM product_totals") == [(3,)]
    assert rows(engine, "SELECT sales_delta FROM daily_sales") == [(2,)]


def test_downgrade_to_base_then_upgrade(tmp_path: Path) -> None:
    engine = populated_ledger(tmp_path / "ledger.sqlite")
    config = alembic_config(engine.url)

    command.downgrade(config, "base")
    assert check_schema(engine) is None
    command.upgrade(config, "head")

    assert check_schema(engine) == head_revision()
    assert rows(engine, "SELECT COUNT(*) FROM polls") == [(0,)]


def test_models_match_migrations(tmp_path: Path) -> None:
    engine = new_ledger(tmp_path / "ledger.sqlite")

    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_newer_schema_rejected_naming_both(tmp_path: Path) -> None:
    engine = new_ledger(tmp_path / "ledger.sqlite")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(SchemaTooNewError) as raised:
        ensure_current(engine)

    assert "9999" in str(raised.value)
    assert head_revision() in str(raised.value)


def test_require_current_names_init(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    engine = create_ledger_engine(url)

    with pytest.raises(StoreError, match="gumroad-ledger init"):
        require_current(engine)


def test_read_only_engine_rejects_writes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    new_ledger(path)
    reader = create_ledger_engine(make_url(f"sqlite:///{path}"), read_only=True)

    with (
        pytest.raises(Exception, match="readonly|read-only|query_only"),
        reader.begin() as connection,
    ):
        connection.exec_driver_sql("DELETE FROM polls")


def test_unwritable_directory_is_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = make_url(f"sqlite:///{blocker / 'sub' / 'ledger.sqlite'}")

    with pytest.raises(StoreError, match="LEDGER_DATABASE_URL"):
        create_ledger_engine(url)


@pytest.mark.parametrize("kind", ["text-file", "directory"])
def test_non_sqlite_path_is_clear_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "ledger.sqlite"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_text("these are my notes, not a database\n" * 100)

    with pytest.raises(StoreError, match="LEDGER_DATABASE_URL"):
        ensure_current(create_ledger_engine(make_url(f"sqlite:///{path}")))
