"""Log handlers and user-facing output shared by the commands."""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

import click

REDACTED = "***"


class SecretSource(Protocol):
    def secrets(self) -> list[str]: ...


class RedactingFilter(logging.Filter):
    """Replaces any configured token in a log record by `***`.

    The clients never log tokens; this filter is the second line of defence.
    """

    def __init__(self, source: SecretSource) -> None:
        super().__init__()
        self.source = source

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [secret for secret in self.source.secrets() if secret]
        if not secrets:
            return True
        message = record.getMessage()
        for secret in secrets:
            message = message.replace(secret, REDACTED)
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), secrets
            )
            record.exc_info = None
        return True


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def configure_logging(verbosity: int, source: SecretSource) -> None:
    """Send log records to stderr.

    One-shot commands print their result on stdout, so by default the log shows
    warnings (retries, waits) and errors only; -v adds INFO, -vv DEBUG, -q leaves
    errors only. `run` raises its default to INFO, see `log_cycles`.
    """
    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    level = levels.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactingFilter(source))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_gumroad_ledger", False):
            root.removeHandler(existing)
    handler._gumroad_ledger = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    library_level = logging.DEBUG if verbosity >= 2 else logging.WARNING
    for noisy in ("urllib3", "alembic", "apscheduler", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(library_level)
    logging.getLogger("alembic.runtime.migration").setLevel(library_level)


def log_cycles(verbosity: int) -> None:
    """Show the INFO line of each scheduler cycle unless -q was given."""
    if verbosity == 0:
        logging.getLogger().setLevel(logging.INFO)


def print_error(message: str) -> None:
    click.echo(f"Error: {message}", err=True)


def echo(message: Any = "") -> None:
    click.echo(message)


def format_usd(cents: int, *, signed: bool = False) -> str:
    """Format integer cents as dollars, e.g. 123456 -> `$1,234.56`."""
    sign = ""
    if cents < 0:
        sign = "-"
    elif signed and cents > 0:
        sign = "+"
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """Render rows as an aligned text table; numbers are right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))
    numeric = [
        all(isinstance(row[index], int | float) or row[index] is None for row in rows)
        and bool(rows)
        for index in range(len(headers))
    ]
    lines = [_line(headers, widths, [False] * len(headers))]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(_line(row, widths, numeric) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def _line(values: list[str], widths: list[int], right: list[bool]) -> str:
    return "  ".join(
        value.rjust(width) if align else value.ljust(width)
        for value, width, align in zip(values, widths, right, strict=True)
    )


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
