"""Each benchmark script runs in quick mode and prints its summary line.

These check that the scripts work, not how fast anything is. The measurements are in
bench/ and the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PREFIX = "BENCH "

SCRIPTS = {
    "ingest": ["--sizes", "100", "--repeats", "1"],
    "storage": ["--days", "1"],
    "queries": ["--days", "7", "--repeats", "2"],
    "notion_requests": ["--products", "10", "--syncs", "24", "--pages", "4"],
    "scheduler_memory": ["--products", "5", "--cycles", "15", "--help-runs", "2"],
}


def run_quick(name: str, flags: list[str]) -> subprocess.CompletedProcess[str]:
    environ = os.environ | {"PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", f"bench.{name}", "--quick", *flags]
    return subprocess.run(
        command, capture_output=True, text=True, env=environ, timeout=120
    )


def summary_of(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith(PREFIX)]
    assert len(lines) == 1, stdout
    return json.loads(lines[0].removeprefix(PREFIX))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "flags"), SCRIPTS.items(), ids=list(SCRIPTS))
def test_quick_mode_prints_summary(name: str, flags: list[str]) -> None:
    finished = run_quick(name, flags)

    assert finished.returncode == 0, finished.stderr
    summary = summary_of(finished.stdout)
    assert summary["bench"] == name
    assert summary["mode"] == "quick"
    assert isinstance(summary["pass"], bool)
    assert "cpu" in summary["machine"]  # type: ignore[operator]
