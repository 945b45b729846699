"""Shared helpers of the fault-injection suite (tests/test_faults_*.py).

They start the CLI as a child process and kill it at chosen points, check the
ledger's invariants on the file it left behind, and compare the Notion sandbox
with the ledger's projection. The `world` fixture is in tests/fault_world.py.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ledger.config import Settings
from ledger.notion.layout import layouts
from ledger.notion.projection import page_states
from ledger.notion.projector import pending_counts
from ledger.notion.setup import stored_targets
from ledger.sandbox.notion import NotionSandbox
from ledger.store.db import session_factory
from ledger.store.models import Poll, ProductSnapshot, SalesDelta
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN, CliResult
from tests.gumroad_fixtures import GUMROAD_SANDBOX_TOKEN
from tests.ledger_helpers import check_invariant_3
from tests.notion_fixtures import NOTION_SANDBOX_TOKEN

# Every token the suite hands to the product, by a name that is safe to print.
SECRET_TOKENS = {
    "conftest GUMROAD_TOKEN": GUMROAD_TOKEN,
    "conftest NOTION_TOKEN": NOTION_TOKEN,
    "gumroad_fixtures GUMROAD_SANDBOX_TOKEN": GUMROAD_SANDBOX_TOKEN,
    "notion_fixtures NOTION_SANDBOX_TOKEN": NOTION_SANDBOX_TOKEN,
}
WAIT_SECONDS = 60.0


def leaked_tokens(text: str | bytes) -> list[str]:
    """Return the names of the test tokens that occur in `text`."""
    if isinstance(text, bytes):
        return [name for name, token in SECRET_TOKENS.items() if token.encode() in text]
    return [name for name, token in SECRET_TOKENS.items() if token in text]


def tokens_in_file(path: Path, chunk_bytes: int = 8 * 1024 * 1024) -> set[str]:
    """Return the names of the test tokens in a file's bytes, read in chunks."""
    # Chunks overlap by the longest token, so a token across a boundary is found.
    overlap = max(len(token) for token in SECRET_TOKENS.values())
    found: set[str] = set()
    tail = b""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(chunk_bytes):
                found.update(leaked_tokens(tail + chunk))
                tail = chunk[-overlap:]
    except OSError:
        return found
    return found


def assert_no_tokens(text: str | bytes, where: str = "output") -> None:
    """Fail when any test token occurs in `text`."""
    leaked = leaked_tokens(text)
    assert not leaked, f"{where} contains {', '.join(leaked)}"


def assert_clean_cli(result: CliResult | Finished) -> None:
    """Fail when a CLI run printed a token or a traceback."""
    assert_no_tokens(result.stdout, "stdout")
    assert_no_tokens(result.stderr, "stderr")
    assert "Traceback" not in result.stderr, result.stderr


def last_error_line(result: CliResult | Finished) -> str:
    """Return the `Error: ...` line that ends a failed command's stderr."""
    lines = result.stderr.strip().splitlines()
    assert lines, "the command printed nothing on stderr"
    assert lines[-1].startswith("Error: "), result.stderr
    return lines[-1]


# Child processes


@dataclass
class Finished:
    """A child process that has ended, with its output."""

    returncode: int
    stdout: str
    stderr: str
    killed: bool  # True when the test killed it with SIGKILL


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `python -m ledger ARGS` in the background with the test's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "ledger", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], *, killed: bool = False) -> Finished:
    """Wait for a child (killing it after WAIT_SECONDS) and collect its output."""
    try:
        stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate(timeout=10)
        raise AssertionError(f"{process.args} did not end in time:\n{stderr}") from None
    return Finished(process.returncode, stdout, stderr, killed)


def kill_when(
    process: subprocess.Popen[str],
    condition: Callable[[], bool],
    *,
    interval: float = 0.001,
) -> Finished:
    """SIGKILL the child as soon as `condition()` holds, or let it end on its own.

    `condition` is checked from this thread every `interval` seconds. The result
    records whether the kill happened before the child ended by itself.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while process.poll() is None:
        if condition():
            os.kill(process.pid, signal.SIGKILL)
            return finish(process, killed=True)
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    return finish(process)


def kill_after_requests(
    process: subprocess.Popen[str], log: Sequence[Any], count: int
) -> Finished:
    """SIGKILL the child once a sandbox's request log contains `count` requests.

    The sandboxes append a request when it arrives, so the child dies while the
    sandbox may still be serving that request: both orders of "request done" and
    "client saw the reply" occur across runs.
    """
    return kill_when(process, lambda: len(log) >= count)


def write_lock_held(path: Path) -> bool:
    """Tell whether some connection holds SQLite's write lock on the ledger now.

    Another connection with a zero busy timeout fails `BEGIN IMMEDIATE` exactly
    while a writer's transaction is open. The probe itself holds the lock for
    microseconds only, which the writer's busy timeout absorbs.
    """
    # Only a ledger in WAL mode is probed: on a new file still in rollback mode,
    # the probe's lock would make the writer's switch to WAL fail at once.
    if not path.with_name(path.name + "-wal").exists():
        return False
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        return "locked" in str(error) or "busy" in str(error)
    else:
        connection.execute("ROLLBACK")
        return False
    finally:
        connection.close()


@contextmanager
def held_read_transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """Keep a read transaction open on the ledger, as a slow user query does."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.execute("SELECT COUNT(*) FROM product_snapshots").fetchone()
        yield connection
    finally:
        connection.execute("ROLLBACK")
        connection.close()


# Ledger invariants


def check_invariant_1(engine: Engine) -> None:
    """Assert every poll committed all or nothing.

    A failed poll owns no snapshot or delta, every poll row is finished, and the
    counts of an `ok` poll agree with the rows that carry its id.
    """
    with session_factory(engine)() as session:
        for poll in session.scalars(select(Poll).order_by(Poll.id)):
            assert poll.finished_at is not None, f"poll {poll.id} never finished"
            snapshots = session.scalar(
                select(func.count()).where(ProductSnapshot.poll_id == poll.id)
            )
            sales, revenue, deltas = session.execute(
                select(
                    func.coalesce(func.sum(SalesDelta.sales_delta), 0),
                    func.coalesce(func.sum(SalesDelta.revenue_usd_cents_delta), 0),
                    func.count(),
                ).where(SalesDelta.poll_id == poll.id)
            ).one()
            if poll.status == "failed":
                assert snapshots == 0, f"failed poll {poll.id} has snapshots"
                assert deltas == 0, f"failed poll {poll.id} has deltas"
                assert poll.error, f"failed poll {poll.id} has no error"
                continue
            assert poll.status == "ok", f"poll {poll.id} status {poll.status!r}"
            assert poll.products_changed == snapshots, f"poll {poll.id} snapshots"
            assert poll.sales_delta == sales, f"poll {poll.id} sales"
            assert poll.revenue_usd_cents_delta == revenue, f"poll {poll.id} revenue"


def check_ledger(engine: Engine) -> dict[str, tuple[int, int]]:
    """Assert invariants 1 and 3; return each product's latest totals."""
    check_invariant_1(engine)
    return check_invariant_3(engine)


def poll_statuses(engine: Engine) -> list[str]:
    """Return the status of every poll row, oldest first."""
    with session_factory(engine)() as session:
        return list(session.scalars(select(Poll.status).order_by(Poll.id)))


def total_deltas(engine: Engine) -> tuple[int, int]:
    """Return the sum of every sales delta and revenue delta in the ledger."""
    with session_factory(engine)() as session:
        sales, revenue = session.execute(
            select(
                func.coalesce(func.sum(SalesDelta.sales_delta), 0),
                func.coalesce(func.sum(SalesDelta.revenue_usd_cents_delta), 0),
            )
        ).one()
    return int(sales), int(revenue)


# Notion against the ledger's projection


def notion_mismatches(
    engine: Engine, settings: Settings, notion: NotionSandbox
) -> list[str]:
    """Describe how the Notion sandbox differs from the ledger's projection.

    Checks, for both databases: one live page per key, no page for a key the
    ledger does not project, and every owned value and cover equal to the
    projection as Notion stores it. An empty list means invariant 7 holds.
    """
    targets = stored_targets(engine)
    problems: list[str] = []
    with session_factory(engine)() as session:
        for layout in layouts(settings):
            source_id = targets[f"{layout.kind}_data_source_id"]
            schema = notion.data_source(source_id)["properties"]
            types = {
                spec.role: schema[layout.name(spec.role)]["type"]
                for spec in layout.specs
                if layout.name(spec.role) in schema
            }
            states = page_states(session, layout)
            desired = {item.desired.key: item.desired for item in states}
            pages: dict[str, list[dict[str, Any]]] = {}
            for page in notion.pages(source_id):
                key = str(layout.decode(page).get(layout.key_role) or "")
                pages.setdefault(key, []).append(page)

            for key, found in sorted(pages.items()):
                if len(found) > 1:
                    problems.append(f"{layout.kind} {key}: {len(found)} pages")
                if key not in desired:
                    problems.append(f"{layout.kind} {key}: page without projection")
            for key, want in sorted(desired.items()):
                if key not in pages:
                    problems.append(f"{layout.kind} {key}: no page")
                    continue
                page = pages[key][0]
                expected = layout.round_trip(want.values, types)
                actual = layout.decode(page)
                for role, value in expected.items():
                    if actual.get(role) != value:
                        problems.append(
                            f"{layout.kind} {key}: {role} is {actual.get(role)!r}, "
                            f"expected {value!r}"
                        )
                cover = ((page.get("cover") or {}).get("external") or {}).get("url")
                if cover != want.cover:
                    problems.append(f"{layout.kind} {key}: cover {cover!r}")
    return problems


def assert_notion_matches_ledger(
    engine: Engine, settings: Settings, notion: NotionSandbox
) -> None:
    """Assert invariant 7: one page per key, equal to the projection, none pending."""
    mismatches = notion_mismatches(engine, settings, notion)
    assert mismatches == [], "\n".join(mismatches)
    assert pending_counts(engine, settings) == {"products": 0, "daily": 0}


def requests_since(notion: NotionSandbox, start: int) -> list[Any]:
    """Return the Notion sandbox requests that arrived after the first `start`."""
    return list(notion.requests[start:])


def describe_requests(records: Sequence[Any]) -> str:
    """Render sandbox request records one per line, for assertion messages."""
    return "\n".join(
        f"{record.method} {record.path} -> {record.status} {record.fault or ''}"
        for record in records
    )


# Read-only and full file systems without touching anything outside the test


def private_mounts_available() -> bool:
    """Tell whether this process may mount file systems in a private namespace.

    Root with CAP_SYS_ADMIN can: `unshare --mount` gives the child its own mount
    table, so a bind or tmpfs mount made there is invisible to every other
    process and vanishes with the child.
    """
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def run_cli_with_mounts(
    mounts: str, *args: str, env: dict[str, str], after: str = ""
) -> CliResult:
    """Run `python -m ledger ARGS` in a private mount namespace.

    `mounts` is a shell script run first inside the namespace (for example a
    read-only bind mount) and `after` one run after the CLI, while the mounts
    still exist, for example to copy files out of a tmpfs.
    """
    command = " ".join(_quote(part) for part in (sys.executable, "-m", "ledger", *args))
    script = f"set -e\n{mounts}\nset +e\n{command}\nstatus=$?\n{after}\nexit $status\n"
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=WAIT_SECONDS,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def file_size_limit(limit: int) -> Callable[[], None]:
    """Return a preexec_fn that caps the size of files the child writes.

    Past the cap, write() fails with EFBIG, which SQLite reports as a full disk.
    Python ignores SIGXFSZ, so the child gets the error instead of dying.
    """
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply
