"""Malformed configuration: every variable and flag, for every command that reads it.

Each case must exit 2 with one `Error:` line that names the setting and quotes the
bad value, except a token, whose value is a secret and never printed. The parsers
themselves are tested in tests/test_config.py; this file checks that each command
reports them the same way. The cases run in this process for speed, and a few run
as subprocesses to show the real exit status.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest

from ledger.cli import cli, main
from tests.conftest import CliResult, run_cli
from tests.fault_helpers import assert_no_tokens

# Each command with the arguments it needs to reach its settings.
COMMANDS = {
    "init": ["init"],
    "poll": ["poll"],
    "push": ["push"],
    "sync": ["sync"],
    "run": ["run"],
    "status": ["status"],
    "sql": ["sql", "SELECT 1"],
    "report": ["report"],
    "rebuild-notion": ["rebuild-notion", "--dry-run"],
}
SECRET_VALUE = "gr-secret with a space"


@dataclass(frozen=True)
class Case:
    """One malformed setting: where it goes, and what the error must name."""

    setting: str  # a variable name, or a flag such as --timezone
    value: str
    named: str  # the name the error line must contain
    secret: bool = False  # the value must not appear in the output

    @property
    def is_flag(self) -> bool:
        return self.setting.startswith("--")


VARIABLE_CASES = [
    Case("LEDGER_DATABASE_URL", "mysql://u@host/db", "LEDGER_DATABASE_URL"),
    Case("LEDGER_DATABASE_URL", "://no-scheme", "LEDGER_DATABASE_URL"),
    Case("LEDGER_TIMEZONE", "Mars/Olympus_Mons", "LEDGER_TIMEZONE"),
    Case("LEDGER_POLL_INTERVAL", "every so often", "LEDGER_POLL_INTERVAL"),
    Case("LEDGER_POLL_INTERVAL", "0.2s", "LEDGER_POLL_INTERVAL"),
    Case("GUMROAD_API_URL", "gopher://127.0.0.1", "GUMROAD_API_URL"),
    Case("NOTION_API_URL", "api.notion.com", "NOTION_API_URL"),
    Case("NOTION_PARENT_PAGE_ID", "not-a-page", "NOTION_PARENT_PAGE_ID"),
    Case("NOTION_PRODUCTS_DATABASE_ID", "12345", "NOTION_PRODUCTS_DATABASE_ID"),
    Case(
        "NOTION_DAILY_DATABASE_ID", "https://example.com/x", "NOTION_DAILY_DATABASE_ID"
    ),
    Case("LEDGER_CONFIG", "/nonexistent/gumroad-ledger.toml", "LEDGER_CONFIG"),
    Case("GUMROAD_ACCESS_TOKEN", SECRET_VALUE, "GUMROAD_ACCESS_TOKEN", secret=True),
    Case(
        "MY_GUMROAD_SECRET_TOKEN", SECRET_VALUE, "MY_GUMROAD_SECRET_TOKEN", secret=True
    ),
    Case("NOTION_TOKEN", SECRET_VALUE, "NOTION_TOKEN", secret=True),
    Case("MY_NOTION_SECRET_TOKEN", SECRET_VALUE, "MY_NOTION_SECRET_TOKEN", secret=True),
]
FLAG_CASES = [
    Case("--database-url", "mysql://u@host/db", "--database-url"),
    Case("--timezone", "Mars/Olympus_Mons", "--timezone"),
    Case("--gumroad-api-url", "gopher://127.0.0.1", "--gumroad-api-url"),
    Case("--notion-api-url", "api.notion.com", "--notion-api-url"),
    Case("--config", "/nonexistent/gumroad-ledger.toml", "config file"),
    Case("--env-file", "/nonexistent/.env", "env file"),
]


def matrix(cases: list[Case]) -> list[object]:
    return [
        pytest.param(case, command, id=f"{command}-{case.setting}-{index}")
        for index, case in enumerate(cases)
        for command in COMMANDS
    ]


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Fail instead of hanging if a command ever starts working despite the error."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("the command did not stop at the bad setting")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def invoke(capsys: pytest.CaptureFixture[str], args: list[str]) -> CliResult:
    """Run the CLI in this process, as `python -m ledger ARGS` would."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliResult(code if isinstance(code, int) else 1, captured.out, captured.err)


def arguments(case: Case, command: str) -> list[str]:
    flags = [case.setting, case.value] if case.is_flag else []
    return [*flags, *COMMANDS[command]]


def assert_names_setting(result: CliResult, case: Case) -> None:
    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert case.named in lines[0]
    if case.secret:
        assert case.value not in result.output
        assert case.value.strip() not in result.output
    else:
        assert case.value in lines[0]
    assert_no_tokens(result.output)


def skip_missing(command: str) -> None:
    if cli.get_command(None, command) is None:  # type: ignore[arg-type]
        pytest.skip(f"the {command} command is not in this checkout")


@pytest.mark.parametrize(("case", "command"), matrix(VARIABLE_CASES))
def test_bad_variable_exits_2(
    case: Case,
    command: str,
    ledger_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    skip_missing(command)
    monkeypatch.setenv(case.setting, case.value)

    result = invoke(capsys, arguments(case, command))

    assert_names_setting(result, case)


@pytest.mark.parametrize(("case", "command"), matrix(FLAG_CASES))
def test_bad_flag_exits_2(
    case: Case, command: str, ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skip_missing(command)

    result = invoke(capsys, arguments(case, command))

    assert_names_setting(result, case)


@pytest.mark.parametrize(
    "value", ["soon", "0", "-5m"], ids=["word", "zero", "negative"]
)
def test_bad_run_interval_flag_exits_2(
    value: str, ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = Case("--interval", value, "--interval")

    result = invoke(capsys, ["run", "--interval", value])

    assert_names_setting(result, case)


def test_bad_demo_timezone_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    case = Case("--timezone", "Mars/Olympus_Mons", "--timezone")

    result = invoke(capsys, ["--timezone", case.value, "demo"])

    assert_names_setting(result, case)


@pytest.mark.parametrize(
    ("text", "named", "value"),
    [
        pytest.param('poll_interval = "soon"', "poll_interval in", "soon", id="value"),
        pytest.param('colour = "blue"', "colour", "colour", id="unknown-key"),
        pytest.param("timezone = ", "not valid TOML", "config.toml", id="syntax"),
        pytest.param(
            '[notion.products_properties]\nPrize = "Price"',
            "products_properties",
            "Prize",
            id="unknown-role",
        ),
    ],
)
def test_bad_config_file_exits_2(
    text: str,
    named: str,
    value: str,
    tmp_path: Path,
    ledger_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text + "\n", encoding="utf-8")
    monkeypatch.setenv("LEDGER_CONFIG", str(config))
    monkeypatch.setenv("NOTION_TOKEN", "ntn_config_test")

    result = invoke(capsys, ["push"])

    assert_names_setting(result, Case("LEDGER_CONFIG", value, named))


def test_bad_env_file_line_exits_2(
    tmp_path: Path, ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("LEDGER_TIMEZONE=UTC\njust some words\n", encoding="utf-8")

    result = invoke(capsys, ["--env-file", str(env_file), "poll"])

    # A malformed line may hold a token, so the error names the line, not its text.
    assert_names_setting(
        result, Case("--env-file", "just some words", "settings.env:2", secret=True)
    )


SUBPROCESS_CASES = [
    pytest.param(["poll"], {"LEDGER_TIMEZONE": "Mars/Olympus_Mons"}, id="poll-env"),
    pytest.param(["--timezone", "Mars/Olympus_Mons", "sql", "SELECT 1"], {}, id="flag"),
    pytest.param(["run", "--interval", "soon"], {}, id="run-interval"),
]


@pytest.mark.parametrize(("args", "env"), SUBPROCESS_CASES)
def test_bad_setting_subprocess_exits_2(
    args: list[str], env: dict[str, str], ledger_file: Path
) -> None:
    result = run_cli(*args, env=env)

    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Mars/Olympus_Mons" in result.stderr or "soon" in result.stderr
