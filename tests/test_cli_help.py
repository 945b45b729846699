"""Every command is registered, imports, and documents itself."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ledger.cli import COMMANDS, cli
from tests.conftest import run_cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_registered_command_has_help(name: str) -> None:
    command = cli.get_command(None, name)  # type: ignore[arg-type]

    assert command is not None
    assert command.help
    assert "Example:" in command.help


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])

    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_unknown_command_exits_2() -> None:
    result = run_cli("frobnicate")

    assert result.returncode == 2
    assert "No such command" in result.stderr
