"""`python -m ledger.sandbox` serves both APIs for trying the real commands."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from tests.conftest import run_cli


def test_sandbox_command_serves_a_sync(ledger_file) -> None:  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
        exports = dict(re.findall(r"(\w+)=(\S+)", "".join(lines[1:4])))
        env = {**exports, "LEDGER_DATABASE_URL": os.environ["LEDGER_DATABASE_URL"]}

        initialized = run_cli("init", env=env)
        synced = run_cli("sync", env=env)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)

    assert exports["GUMROAD_API_URL"].startswith("http://127.0.0.1:")
    assert exports["NOTION_API_URL"].startswith("http://127.0.0.1:")
    assert initialized.returncode == 0, initialized.stderr
    assert synced.returncode == 0, synced.stderr
    assert "5 created" in synced.stdout
    assert process.returncode == 0
