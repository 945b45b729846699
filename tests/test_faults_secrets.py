"""Invariant 9 under faults: no token in an error, a log line, output or the ledger.

Loading tests.secrets_guard here makes its checks cover the whole session (see its
docstring): every test fails if a token reaches a log record, captured output or
a SQLite file. The tests below drive every fault both sandboxes can inject and
check the exceptions themselves, which the guard cannot see.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ledger.errors import LedgerError
from ledger.notion import projector
from ledger.sandbox.gumroad import FAULT_KINDS as GUMROAD_FAULTS
from ledger.sandbox.notion import FAULT_KINDS as NOTION_FAULTS
from tests.conftest import GUMROAD_TOKEN, run_cli
from tests.fault_helpers import (
    assert_clean_cli,
    assert_no_tokens,
    leaked_tokens,
    tokens_in_file,
)

if TYPE_CHECKING:
    from tests.fault_world import World

pytest_plugins = ["pytester", "tests.fault_world", "tests.secrets_guard"]


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projector, "SETTLE_SECONDS", 0.05)


def chain(error: BaseException) -> Iterator[BaseException]:
    """Yield an exception and every exception it was raised from or during."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def assert_error_clean(error: BaseException) -> None:
    """Fail when a token is in the message, repr, args or fields of any link."""
    for link in chain(error):
        texts = [str(link), repr(link), *map(str, link.args)]
        texts.extend(str(getattr(link, name, "")) for name in ("url", "code"))
        texts.extend(getattr(link, "__notes__", []))
        for text in texts:
            assert not leaked_tokens(text), f"{type(link).__name__}: {text}"


def assert_ledger_clean(world: World) -> None:
    for path in world.path.parent.glob(world.path.name + "*"):
        assert tokens_in_file(path) == set(), path


@pytest.mark.parametrize("kind", GUMROAD_FAULTS)
def test_gumroad_fault_error_has_no_token(world: World, kind: str) -> None:
    for number in range(1, 16):
        world.gumroad.add_product(name=f"Product {number}", sales_count=number)
    world.gumroad.retry_after = 0
    world.gumroad.slow_delay = 0.5
    world.gumroad.fail_next(kind, times=3, on_page=2)

    try:
        world.poll(timeout=0.2, max_retries=2)
    except LedgerError as error:
        assert_error_clean(error)

    assert_ledger_clean(world)


@pytest.mark.parametrize("kind", sorted(NOTION_FAULTS))
def test_notion_fault_error_has_no_token(world: World, kind: str) -> None:
    product = world.gumroad.add_product(name="Ebook")
    world.init()
    world.poll()
    world.gumroad.sell(product, 1)
    world.poll()
    world.notion.retry_after = 0
    world.notion.fail_next(kind, times=10)

    try:
        world.push(timeout=0.3, max_retries=1)
    except LedgerError as error:
        assert_error_clean(error)

    assert_ledger_clean(world)


def test_rejected_tokens_not_echoed(world: World) -> None:
    world.gumroad.add_product(name="Ebook")
    world.init()
    world.poll()
    world.gumroad.fail_next("unauthorized")
    world.notion.token = "ntn_another_token_the_sandbox_expects"

    result = run_cli("-vv", "sync", env=world.env)

    assert result.returncode == 1
    assert_clean_cli(result)
    assert "GUMROAD_ACCESS_TOKEN" in result.stderr
    assert "NOTION_TOKEN was rejected" in result.stderr
    assert_ledger_clean(world)


def test_debug_output_has_no_token(world: World) -> None:
    product = world.gumroad.add_product(name="Ebook")
    world.init()
    world.poll()
    world.gumroad.sell(product, 2)
    world.gumroad.fail_next("html_530")
    world.notion.retry_after = 0
    world.notion.fail_next("rate_limited", times=2)

    sync = run_cli("-vv", "sync", env=world.env)
    status = run_cli("-vv", "status", "--json", env=world.env)

    assert sync.returncode == 0, sync.stderr
    assert status.returncode == 0, status.stderr
    assert_clean_cli(sync)
    assert_clean_cli(status)
    assert_ledger_clean(world)


def test_tutorial_token_names_not_echoed(world: World) -> None:
    env = dict(world.env)
    env["MY_GUMROAD_SECRET_TOKEN"] = env.pop("GUMROAD_ACCESS_TOKEN")
    env["MY_NOTION_SECRET_TOKEN"] = env.pop("NOTION_TOKEN")
    world.gumroad.add_product(name="Ebook")
    world.gumroad.fail_next("forbidden")

    result = run_cli("-vv", "poll", env=env)

    assert result.returncode == 1
    assert_clean_cli(result)


GUARDED_TESTS = f"""
import logging

TOKEN = {GUMROAD_TOKEN!r}


def test_logs_token():
    logging.getLogger("probe").warning("token %s", TOKEN)


def test_prints_token():
    print("token", TOKEN)


def test_writes_token_to_ledger(tmp_path):
    (tmp_path / "ledger.sqlite").write_bytes(b"SQLite format 3\\x00" + TOKEN.encode())


def test_stays_clean(tmp_path):
    (tmp_path / "ledger.sqlite").write_bytes(b"SQLite format 3\\x00")
    print("nothing secret")
"""


def test_guard_fails_leaking_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    pytester.makepyfile(test_guarded=GUARDED_TESTS)

    # No tracebacks or captured output, so the tokens stay out of this test's log,
    # and a temporary directory outside this session's, which the guard scans.
    quiet = ("-q", "--tb=no", "-rN", "--show-capture=no", "-p", "no:cacheprovider")
    basetemp = Path(tempfile.mkdtemp(prefix="secrets-guard-probe-"))

    try:
        result = pytester.runpytest_subprocess(
            "-p", "tests.secrets_guard", f"--basetemp={basetemp}", *quiet
        )
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)

    # A leak found after the test body fails its teardown, which pytest counts
    # as an error.
    result.assert_outcomes(passed=2, failed=2, errors=1)
    assert_no_tokens(result.stdout.str())
