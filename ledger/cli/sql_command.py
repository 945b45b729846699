"""`gumroad-ledger sql`: read-only SQL over the ledger."""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo, format_table
from ledger.errors import LedgerError, StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# SQLite authorizer action codes that change a database or its schema. The
# read-only connection rejects these anyway; the authorizer only notes them, so the
# error message can name the write that the statement attempted.
WRITE_ACTIONS = {
    sqlite3.SQLITE_INSERT: "insert into",
    sqlite3.SQLITE_UPDATE: "update",
    sqlite3.SQLITE_DELETE: "delete from",
    sqlite3.SQLITE_CREATE_TABLE: "create table",
    sqlite3.SQLITE_CREATE_TEMP_TABLE: "create table",
    sqlite3.SQLITE_CREATE_INDEX: "create index",
    sqlite3.SQLITE_CREATE_TEMP_INDEX: "create index",
    sqlite3.SQLITE_CREATE_VIEW: "create view",
    sqlite3.SQLITE_CREATE_TEMP_VIEW: "create view",
    sqlite3.SQLITE_CREATE_TRIGGER: "create trigger",
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER: "create trigger",
    sqlite3.SQLITE_DROP_TABLE: "drop table",
    sqlite3.SQLITE_DROP_TEMP_TABLE: "drop table",
    sqlite3.SQLITE_DROP_INDEX: "drop index",
    sqlite3.SQLITE_DROP_TEMP_INDEX: "drop index",
    sqlite3.SQLITE_DROP_VIEW: "drop view",
    sqlite3.SQLITE_DROP_TEMP_VIEW: "drop view",
    sqlite3.SQLITE_DROP_TRIGGER: "drop trigger",
    sqlite3.SQLITE_DROP_TEMP_TRIGGER: "drop trigger",
    sqlite3.SQLITE_ALTER_TABLE: "alter table",
    sqlite3.SQLITE_REINDEX: "reindex",
    sqlite3.SQLITE_ANALYZE: "analyze",
}

# PRAGMAs whose argument names a table or index to read, so `PRAGMA x(arg)` is a
# query. Every other PRAGMA with an argument sets a value and is rejected.
READING_PRAGMAS = frozenset(
    {
        "foreign_key_check",
        "foreign_key_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "quick_check",
        "table_info",
        "table_list",
        "table_xinfo",
    }
)


class QueryError(LedgerError):
    """SQLite could not run the query: a syntax error, an unknown table or column."""


class RejectedQueryError(LedgerError):
    """The query is not allowed: it writes, attaches or sets a PRAGMA, or contains two
    statements."""

    exit_code = 2


@click.command("sql")
@click.argument("query")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header row.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list of row objects."
)
@click.pass_obj
def sql_command(app: AppContext, query: str, as_csv: bool, as_json: bool) -> None:
    """Run one read-only SQL QUERY over the ledger and print the rows.

    QUERY is one SQLite statement; `-` reads it from standard input. The ledger is
    opened read-only, so INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH, VACUUM and
    PRAGMA assignments are rejected (exit 2) and the file stays as it was. An
    error in the SQL prints SQLite's message on one line and exits 1. Output is
    an aligned table unless --csv or --json is given. Tables and views are
    described in docs/schema.md.

    Example: gumroad-ledger sql "SELECT * FROM store_daily_totals ORDER BY day"
    """
    if as_csv and as_json:
        raise click.UsageError("--csv and --json cannot be combined: choose one")
    text = _read_query(query)
    result = run_query(app, text)
    if as_json:
        echo(render_json(result))
    elif as_csv:
        click.echo(render_csv(result), nl=False)
    elif result.columns:
        echo(format_table(result.columns, [list(row) for row in result.rows]))


@dataclass
class QueryResult:
    """Column names and rows of one statement; no columns for a statement like BEGIN."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class _Guard:
    """SQLite authorizer that rejects ATTACH and PRAGMA assignments and notes writes."""

    denied: str | None = None
    writes: list[str] = field(default_factory=list)

    def __call__(
        self,
        action: int,
        first: str | None,
        second: str | None,
        database: str | None,
        trigger: str | None,
    ) -> int:
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            # VACUUM attaches a database too, and VACUUM INTO would create a file.
            self.denied = "ATTACH, DETACH and VACUUM are not allowed"
            return sqlite3.SQLITE_DENY
        setting = second is not None and (first or "").lower() not in READING_PRAGMAS
        if action == sqlite3.SQLITE_PRAGMA and setting:
            self.denied = f"PRAGMA {first} = {second} sets a value"
            return sqlite3.SQLITE_DENY
        # ALTER TABLE passes the database as the first name and the table second.
        target = second if action == sqlite3.SQLITE_ALTER_TABLE else first
        if action in WRITE_ACTIONS and not (target or "").startswith("sqlite_"):
            # Schema tables are skipped: DROP TABLE t also deletes from
            # sqlite_master, and the message should name t.
            self.writes.append(f"{WRITE_ACTIONS[action]} {target}")
        return sqlite3.SQLITE_OK


def run_query(app: AppContext, query: str) -> QueryResult:
    """Run one statement on a read-only connection to the ledger."""
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.config import describe_database_url
    from ledger.store.db import create_ledger_engine, describe_store_error

    url = app.settings().database_url
    location = describe_database_url(url)
    engine = create_ledger_engine(url, read_only=True)
    try:
        with _guarded_connection(engine) as (connection, guard):
            try:
                return _execute(connection, query)
            except sqlite3.Error as error:
                raise _describe_failure(error, guard, engine, location) from error
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot open the ledger {location} read-only: "
            f"{describe_store_error(error)}"
        ) from error
    finally:
        engine.dispose()


# SQLite virtual machine steps between two checks for Ctrl-C.
PROGRESS_STEPS = 100_000


@contextmanager
def _guarded_connection(
    engine: Engine,
) -> Iterator[tuple[sqlite3.Connection, _Guard]]:
    proxy = engine.raw_connection()
    connection = proxy.driver_connection
    assert isinstance(connection, sqlite3.Connection)
    guard = _Guard()
    connection.set_authorizer(guard)
    # SQLite runs a query without returning to Python, so Ctrl-C would wait for
    # the whole query. Calling back into Python lets the pending KeyboardInterrupt
    # fire; the callback then fails, which makes SQLite abort with SQLITE_INTERRUPT.
    connection.set_progress_handler(_keep_running, PROGRESS_STEPS)
    try:
        yield connection, guard
    finally:
        connection.set_progress_handler(None, 0)
        connection.set_authorizer(None)
        proxy.close()


def _keep_running() -> int:
    return 0


def _execute(connection: sqlite3.Connection, query: str) -> QueryResult:
    try:
        cursor = connection.execute(query)
    except sqlite3.ProgrammingError as error:
        if "one statement at a time" not in str(error):
            raise
        raise RejectedQueryError(
            "QUERY contains more than one statement: run one statement per call"
        ) from error
    rows = cursor.fetchall()

    if cursor.description is None:
        return QueryResult([], [])
    columns = [description[0] for description in cursor.description]
    return QueryResult(columns, rows)


def _describe_failure(
    error: sqlite3.Error, guard: _Guard, engine: Engine, location: str
) -> LedgerError:
    # NOTE: Python 3.11's sqlite3 does not expose sqlite3_error_offset(), so the
    # message is SQLite's own (it names the token near a syntax error) and no
    # position is shown.
    code = getattr(error, "sqlite_errorname", "")
    if code == "SQLITE_INTERRUPT":
        raise KeyboardInterrupt from error
    if guard.denied is not None:
        return RejectedQueryError(
            f"{guard.denied}: `sql` opens the ledger read-only; nothing was changed"
        )
    if code.startswith("SQLITE_READONLY"):
        attempted = guard.writes[0] if guard.writes else "write to the ledger"
        return RejectedQueryError(
            f"the query would {attempted}, but `sql` opens the ledger read-only; "
            "nothing was changed"
        )
    if code == "SQLITE_NOTADB":
        return StoreError(
            f"ledger {location} is not a SQLite database: check LEDGER_DATABASE_URL"
        )
    message = " ".join(str(error).split())
    if "no such table" in message:
        message += _schema_hint(engine)
    return QueryError(message)


def _schema_hint(engine: Engine) -> str:
    """Return a hint when the ledger's schema is older than the views documented."""
    from ledger.store.db import current_revision, head_revision

    with engine.connect() as connection:
        found = current_revision(connection)
    head = head_revision()
    if found == head:
        return "; list the tables and views with: SELECT name, type FROM sqlite_master"
    return (
        f"; the ledger is at schema revision {found or 'none'} and this version "
        f"defines {head}: run `gumroad-ledger init` to upgrade it"
    )


def _read_query(query: str) -> str:
    text = sys.stdin.read() if query == "-" else query
    if not text.strip():
        source = "standard input" if query == "-" else "QUERY"
        raise click.UsageError(f"{source} is empty: give one SQL statement")
    return text


def _plain(value: Any) -> Any:
    """Convert a SQLite value for text output; BLOBs become hexadecimal text."""
    if isinstance(value, bytes):
        return value.hex()
    return value


def render_csv(result: QueryResult) -> str:
    """Render rows as CSV with a header row; NULL is an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if result.columns:
        writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if value is None else _plain(value) for value in row])
    return buffer.getvalue()


def render_json(result: QueryResult) -> str:
    """Render rows as a JSON list of objects; repeated column names get `_2`, `_3`."""
    keys = _unique_names(result.columns)
    objects = [
        {key: _plain(value) for key, value in zip(keys, row, strict=True)}
        for row in result.rows
    ]
    return json.dumps(objects, indent=2, ensure_ascii=False)


def _unique_names(columns: list[str]) -> list[str]:
    names: list[str] = []
    for column in columns:
        candidate, number = column, 1
        while candidate in names:
            number += 1
            candidate = f"{column}_{number}"
        names.append(candidate)
    return names
