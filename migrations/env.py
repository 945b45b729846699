"""Alembic environment: runs migrations on the connection the tool hands over."""

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

from ledger.store.models import Base

config = context.config
if os.environ.get("LEDGER_DATABASE_URL") and "connection" not in config.attributes:
    config.set_main_option(
        "sqlalchemy.url", os.environ["LEDGER_DATABASE_URL"].replace("%", "%%")
    )
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as new_connection:
        _run(new_connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
