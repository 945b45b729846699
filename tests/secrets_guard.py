"""A session-wide check that no test token leaks (invariant 9).

Loaded as a pytest plugin, it fails a test when one of the test tokens shows up
in what the test produced:

- every log record created in this process, before any handler redacts it;
- the output pytest captured for the test (stdout, stderr and log sections);
- the bytes of every SQLite file and lock file under the test's tmp_path.

At the end of the session it scans every such file under the session's temporary
directory once more, which also covers ledgers made by module-scoped fixtures.
Output of child processes is checked by the tests that start them, with
tests.fault_helpers.assert_clean_cli, and output a test read through capsys is
checked by that test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.fault_helpers import leaked_tokens, tokens_in_file

SQLITE_HEADER = b"SQLite format 3\x00"
LEDGER_SUFFIXES = (".sqlite", ".db", "-wal", "-shm", "-journal", ".lock")

_leaked_records: list[str] = []
_temporary_roots: set[Path] = set()
_tmp_path_of: dict[str, Path] = {}
_previous_factory: Callable[..., logging.LogRecord] | None = None


def _checking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    try:
        text = record.getMessage()
    except Exception:  # a malformed record; logging reports it itself
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        text += " " + str(record.exc_info[1])
    for name in leaked_tokens(text):
        _leaked_records.append(f"log record of {record.name}: {name}")
    return record


def pytest_configure(config: pytest.Config) -> None:
    global _previous_factory
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_checking_factory)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _previous_factory
    if _previous_factory is not None:
        logging.setLogRecordFactory(_previous_factory)
        _previous_factory = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if call.when == "setup":
        _remember_tmp_path(item)

    # Sections of later phases repeat the earlier ones, so read only this phase's.
    sections = [(t, c) for t, c in report.sections if t.endswith(f" {call.when}")]
    leaks = [*_leaked_records, *_leaks_in_sections(sections)]
    _leaked_records.clear()
    if call.when == "teardown":
        tmp_path = _tmp_path_of.pop(item.nodeid, None)
        if tmp_path is not None:
            leaks.extend(_leaks_in_files(tmp_path))
    if leaks and report.outcome != "failed":
        report.outcome = "failed"
        report.longrepr = "test tokens leaked:\n" + "\n".join(sorted(set(leaks)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    leaks = [leak for root in _temporary_roots for leak in _leaks_in_files(root)]
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("test tokens found in ledger files:", red=True)
        for leak in sorted(set(leaks)):
            reporter.write_line(f"  {leak}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _remember_tmp_path(item: pytest.Item) -> None:
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if isinstance(tmp_path, Path):
        _tmp_path_of[item.nodeid] = tmp_path
        _temporary_roots.add(tmp_path.parent)


def _leaks_in_sections(sections: Iterable[tuple[str, str]]) -> list[str]:
    return [
        f"{title}: {name}"
        for title, content in sections
        for name in leaked_tokens(content)
    ]


def _leaks_in_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    leaks = []
    for path in root.rglob("*"):
        if path.is_file() and _is_ledger_file(path):
            leaks.extend(f"{path}: {name}" for name in tokens_in_file(path))
    return leaks


def _is_ledger_file(path: Path) -> bool:
    if path.name.endswith(LEDGER_SUFFIXES):
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False
