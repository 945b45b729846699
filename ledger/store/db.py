"""Opening the ledger database and keeping its schema at the Alembic head."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DatabaseError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

import ledger
from ledger.config import describe_database_url, sqlite_path
from ledger.errors import SchemaTooNewError, StoreError
from ledger.store.models import Meta

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# SQLite's wording of storage failures, and the fix that describe_store_error adds.
STORAGE_FIXES = {
    "readonly database": (
        "the ledger file or its directory is read-only: make both writable for "
        "this user, or set LEDGER_DATABASE_URL to a writable location"
    ),
    "unable to open database file": (
        "check that the ledger's directory exists and is writable for this user, "
        "because SQLite creates the -wal and -shm files next to the ledger, or set "
        "LEDGER_DATABASE_URL to a writable location"
    ),
    "database or disk is full": (
        "free space on the disk that holds the ledger, or move the ledger and set "
        "LEDGER_DATABASE_URL"
    ),
    "disk I/O error": (
        "the disk may be full or failing: free space on it, or move the ledger and "
        "set LEDGER_DATABASE_URL"
    ),
}


def migrations_path() -> Path:
    """Return the Alembic script directory, in a checkout or an installed wheel."""
    package_dir = Path(ledger.__file__).resolve().parent
    for candidate in (package_dir.parent / "migrations", package_dir / "_migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise StoreError(f"Alembic migrations not found next to {package_dir}: reinstall")


def alembic_config(url: URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    # Alembic's config is an INI parser, which treats % as interpolation.
    rendered = url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    return config


def head_revision() -> str:
    script = ScriptDirectory(str(migrations_path()))
    head = script.get_current_head()
    assert head is not None
    return head


def create_ledger_engine(url: URL, *, read_only: bool = False) -> Engine:
    """Create an engine with WAL, a busy timeout and foreign keys on SQLite."""
    path = sqlite_path(url)
    if path is not None:
        _reject_non_file(path)
    if path is not None and not read_only:
        _ensure_directory(path)
    if read_only:
        engine = _read_only_engine(url, path)
    else:
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _configure_sqlite(read_only))
    event.listen(engine, "begin", _begin_sqlite(read_only))
    return engine


def _reject_non_file(path: Path) -> None:
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise StoreError(
            f"ledger path {path} is {kind}: set LEDGER_DATABASE_URL to a SQLite "
            "file, for example sqlite:///path/to/ledger.sqlite"
        )


def _read_only_engine(url: URL, path: Path | None) -> Engine:
    if path is None:
        raise StoreError("an in-memory ledger cannot be opened read-only")
    if not path.is_file():
        raise StoreError(
            f"ledger {path} does not exist: run `gumroad-ledger init` and "
            "`gumroad-ledger poll` first, or set LEDGER_DATABASE_URL"
        )
    uri = f"file:{path.resolve().as_posix()}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)

    return create_engine("sqlite://", creator=connect)


def _ensure_directory(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the ledger directory {path.parent}: {error.strerror}; "
            "set LEDGER_DATABASE_URL to a writable location"
        ) from error


def _configure_sqlite(read_only: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (see _begin_sqlite);
        # the driver's implicit BEGIN would start transactions too late.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if read_only:
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    return on_connect


def _begin_sqlite(read_only: bool) -> Any:
    # A writer takes SQLite's write lock before its first read, so two processes
    # polling at once cannot both derive deltas from the same previous state.
    statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(statement)

    return on_begin


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> str | None:
    """Return the ledger's revision; raise when a newer tool wrote it."""
    with _translate_errors(engine), engine.connect() as connection:
        found = current_revision(connection)
    if found is None:
        return None
    script = ScriptDirectory(str(migrations_path()))
    try:
        script.get_revision(found)
    except Exception as error:  # alembic raises several types for unknown revisions
        raise SchemaTooNewError(found, head_revision()) from error
    return found


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the ledger to head; return (revision before, revision after)."""
    before = check_schema(engine)
    head = head_revision()
    if before != head:
        log.info("upgrading ledger schema from %s to %s", before or "empty", head)
        config = alembic_config(engine.url)
        with _translate_errors(engine), engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return before, head


def ensure_current(engine: Engine) -> None:
    """Upgrade an older or empty ledger to head; reject one that is newer."""
    upgrade(engine)


def require_current(engine: Engine) -> str:
    """Raise unless the ledger is at head; for commands that must not write."""
    found = check_schema(engine)
    head = head_revision()
    if found != head:
        raise StoreError(
            f"ledger {describe_database_url(engine.url)} is at schema revision "
            f"{found or 'none'}, expected {head}: run `gumroad-ledger init`"
        )
    return found


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def _translate_errors(engine: Engine) -> Iterator[None]:
    try:
        yield
    except DatabaseError as error:
        location = describe_database_url(engine.url)
        if "file is not a database" in str(error.orig):
            raise StoreError(
                f"ledger {location} is not a SQLite database: check "
                "LEDGER_DATABASE_URL, or move that file away and run "
                "`gumroad-ledger init`"
            ) from error
        raise StoreError(
            f"ledger {location} cannot be used: {describe_store_error(error)}"
        ) from error


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return None if row is None else row.value


def set_meta(session: Session, key: str, value: str) -> None:
    now = datetime.now(UTC)
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now


def all_meta(session: Session) -> dict[str, str]:
    return {row.key: row.value for row in session.scalars(select(Meta))}


def describe_store_error(error: SQLAlchemyError) -> str:
    """Return the database's own message for an error, without SQL or parameters.

    For SQLite's storage failures (read-only, cannot open, disk full, I/O error)
    the message ends with what the user can do about it.
    """
    original = getattr(error, "orig", None)
    message = str(original) if original is not None else error.__class__.__name__
    for phrase, fix in STORAGE_FIXES.items():
        if phrase in message:
            return f"{message}; {fix}"
    return message
