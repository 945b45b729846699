"""The `gumroad-ledger` command line.

Commands live in their own modules and are imported only when used, so `--help`
and light commands start fast.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from ledger import __version__
from ledger.cli.context import AppContext
from ledger.cli.output import configure_logging, print_error
from ledger.errors import LedgerError

COMMANDS = {
    "init": "ledger.cli.setup_command:init_command",
    "poll": "ledger.cli.poll_command:poll_command",
    "push": "ledger.cli.push_command:push_command",
    "sync": "ledger.cli.push_command:sync_command",
    "run": "ledger.cli.run_command:run_command",
    "rebuild-notion": "ledger.cli.rebuild_command:rebuild_command",
    "status": "ledger.cli.status_command:status_command",
    "sql": "ledger.cli.sql_command:sql_command",
    "report": "ledger.cli.report_command:report_command",
    "demo": "ledger.cli.demo_command:demo_command",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gumroad-ledger")
@click.option(
    "--database-url",
    metavar="URL",
    help="SQLAlchemy URL or file path of the ledger [env: LEDGER_DATABASE_URL].",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    help="IANA time zone that defines a day [env: LEDGER_TIMEZONE].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file [env: LEDGER_CONFIG].",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of KEY=VALUE lines read before the environment [default: ./.env].",
)
@click.option(
    "--gumroad-api-url",
    metavar="URL",
    help="Base URL of the Gumroad API [env: GUMROAD_API_URL].",
)
@click.option(
    "--notion-api-url",
    metavar="URL",
    help="Base URL of the Notion API [env: NOTION_API_URL].",
)
@click.option(
    "-v", "--verbose", count=True, help="Log progress lines too (-vv for debug)."
)
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
@click.pass_context
def cli(ctx: click.Context, **options: Any) -> None:
    """Keep Gumroad sales history in a SQL ledger and mirror it into Notion.

    Start with `gumroad-ledger demo` to see the whole pipeline on a local sandbox,
    or `gumroad-ledger init` to set up a real ledger.
    """
    app = AppContext.from_options(options)
    ctx.obj = app
    configure_logging(app.verbosity, app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit 0 on success, 1 on a run-time failure, 2 on bad usage."""
    try:
        cli.main(args=argv, prog_name="gumroad-ledger", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        print_error("interrupted")
        sys.exit(130)
    except LedgerError as error:
        print_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print_error("interrupted")
        sys.exit(130)
    sys.exit(0)
