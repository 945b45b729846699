"""Measure the scheduler's resident memory over many cycles, and CLI start-up time.

Part 1 runs the real `ledger.scheduler.Scheduler` and `SyncCycle` in a child process,
with the resources `gumroad-ledger run` uses (`AppContext`: settings from the
environment, the ledger engine, the sync lock, HTTP clients), against the Gumroad and
Notion sandboxes served by this process. The interval is 50 ms instead of `run`'s
minimum of one second, so that 1,000 cycles take about a minute. The Notion sandbox
allows 3 requests a second. After each cycle the child prints its resident set size
(VmRSS), and every 20th cycle this process sells one of the 100 products, so that
about one cycle in 20 pushes to Notion.

Part 2 times `gumroad-ledger --help` as a subprocess and reports the median.

    python -m bench.scheduler_memory            # 1,000 cycles, 20 --help runs
    python -m bench.scheduler_memory --quick    # 300 cycles, 10 --help runs
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import (
    emit_summary,
    median,
    new_ledger,
    parse_args,
)

GUMROAD_TOKEN = "bench-gumroad-token"
NOTION_TOKEN = "bench-notion-token"
PRODUCTS = 100
CYCLE_INTERVAL = 0.05
SALE_EVERY_CYCLES = 20
WARM_UP_SHARE = 0.1
MAX_GROWTH_BYTES = 2 * 2**20
MAX_HELP_SECONDS = 0.3
REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _add_flags)
    if args.child:
        run_child(args.cycles)
        return

    cycles = args.cycles or (300 if args.quick else 1000)
    help_runs = args.help_runs or (10 if args.quick else 20)
    memory = measure_memory(cycles, args.products or PRODUCTS)
    startup = measure_help(help_runs)

    _print_figures(memory, startup)
    checks = {
        "no_cycle_failed": memory["failed_cycles"] == 0,
        "rss_growth_under_2_mib": memory["growth_bytes"] <= MAX_GROWTH_BYTES,
        "help_median_under_300_ms": startup["median_s"] <= MAX_HELP_SECONDS,
    }
    emit_summary(
        "scheduler_memory",
        "quick" if args.quick else "full",
        all(checks.values()),
        checks=checks,
        memory=memory,
        help=startup,
    )


def _add_flags(parser: Any) -> None:
    parser.add_argument("--cycles", type=int, help="sync cycles (default 1000)")
    parser.add_argument("--products", type=int, help="catalogue size (default 100)")
    parser.add_argument("--help-runs", type=int, help="timed --help runs")
    parser.add_argument("--child", action="store_true", help="(internal)")


def measure_memory(cycles: int, products: int) -> dict[str, Any]:
    """Run `cycles` scheduler cycles in a child process; return its RSS samples."""
    from ledger.sandbox.gumroad import GumroadSandbox
    from ledger.sandbox.notion import NotionSandbox

    with (
        tempfile.TemporaryDirectory(prefix="bench-scheduler-") as workdir,
        GumroadSandbox(token=GUMROAD_TOKEN) as gumroad,
        NotionSandbox(token=NOTION_TOKEN, rate_limit=3.0) as notion,
    ):
        product_ids = [
            gumroad.add_product(name=f"Product {i}", price_cents=1500, sales_count=3)
            for i in range(products)
        ]
        environ = _child_environment(Path(workdir), gumroad.url, notion)
        started = time.monotonic()
        samples, durations, failed = _run_child(environ, cycles, gumroad, product_ids)
        elapsed = time.monotonic() - started
        notion_writes = notion.write_count()
    figures = _memory_figures(samples, failed, elapsed, notion_writes)
    figures["products"] = products
    figures["cycle_median_s"] = round(median(durations), 4)
    return figures


def _child_environment(workdir: Path, gumroad_url: str, notion: Any) -> dict[str, str]:
    from ledger.config import load_settings
    from ledger.notion.client import NotionClient
    from ledger.notion.setup import init_notion

    path = workdir / "ledger.sqlite"
    environ = {
        "LEDGER_DATABASE_URL": f"sqlite:///{path}",
        "LEDGER_TIMEZONE": "UTC",
        "GUMROAD_ACCESS_TOKEN": GUMROAD_TOKEN,
        "GUMROAD_API_URL": gumroad_url,
        "NOTION_TOKEN": NOTION_TOKEN,
        "NOTION_API_URL": notion.url,
    }
    engine = new_ledger(path)
    settings = load_settings(
        environ=environ | {"NOTION_PARENT_PAGE_ID": notion.create_parent_page()}
    )
    with NotionClient(notion.url, NOTION_TOKEN) as client:
        init_notion(engine, settings, client=client)
    engine.dispose()
    return os.environ | environ | {"PYTHONPATH": str(REPO), "HOME": str(workdir)}


def _run_child(
    environ: dict[str, str], cycles: int, gumroad: Any, product_ids: list[str]
) -> tuple[list[tuple[int, int]], list[float], int]:
    command = [sys.executable, "-m", "bench.scheduler_memory", "--child"]
    command += ["--cycles", str(cycles)]
    rng = random.Random(7)
    samples, durations, failed = [], [], 0
    with subprocess.Popen(
        command, cwd=REPO, env=environ, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            sample = json.loads(line)
            samples.append((sample["cycle"], sample["rss_bytes"]))
            durations.append(sample["seconds"])
            failed += sample["status"] == "failed"
            if sample["cycle"] % SALE_EVERY_CYCLES == 0:
                gumroad.sell(rng.choice(product_ids))
    if child.returncode != 0:
        raise RuntimeError(f"the scheduler child exited with {child.returncode}")
    return samples, durations, failed


def _memory_figures(
    samples: list[tuple[int, int]], failed: int, elapsed: float, notion_writes: int
) -> dict[str, Any]:
    warm = max(1, int(len(samples) * WARM_UP_SHARE))
    after_warm_up = samples[warm - 1 :]
    slope = _slope(after_warm_up)
    return {
        "cycles": len(samples),
        "failed_cycles": failed,
        "seconds": round(elapsed, 1),
        "notion_writes": notion_writes,
        "rss_first_bytes": samples[0][1],
        "rss_after_warm_up_bytes": after_warm_up[0][1],
        "rss_last_bytes": samples[-1][1],
        "rss_max_bytes": max(rss for _, rss in samples),
        "warm_up_cycles": warm,
        "growth_bytes": samples[-1][1] - after_warm_up[0][1],
        "slope_bytes_per_cycle": round(slope, 1),
    }


def _slope(samples: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS over cycle number, in bytes per cycle."""
    if len(samples) < 2:
        return 0.0
    cycles = [float(cycle) for cycle, _ in samples]
    sizes = [float(rss) for _, rss in samples]
    return statistics.linear_regression(cycles, sizes).slope


def run_child(cycles: int) -> None:
    """Run the scheduler until `cycles` cycles are done, printing RSS after each."""
    from ledger.cli.context import AppContext
    from ledger.scheduler import Heartbeat, Scheduler, SyncCycle

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Cycles longer than the 50 ms interval make APScheduler skip runs, by design.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    app = AppContext()
    cycle = SyncCycle(app)
    scheduler: Scheduler

    def counted(number: int) -> Any:
        report = cycle(number)
        sample = {
            "cycle": number,
            "rss_bytes": _rss_bytes(),
            "status": report.status,
            "seconds": report.duration,
        }
        print(json.dumps(sample), flush=True)
        if number >= cycles:
            scheduler.request_stop()
        return report

    scheduler = Scheduler(
        counted, CYCLE_INTERVAL, heartbeat=Heartbeat(app.engine(), CYCLE_INTERVAL)
    )
    cycle.stop_requested = scheduler.stopping
    scheduler.run()


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS missing from /proc/self/status")


def measure_help(runs: int) -> dict[str, Any]:
    """Time `gumroad-ledger --help` as a subprocess `runs` times, after one warm-up."""
    script = Path(sys.executable).with_name("gumroad-ledger")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ledger"]
    command.append("--help")
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - started)
    return {
        "command": " ".join([Path(command[0]).name, *command[1:]]),
        "runs": runs,
        "first_s": round(times[0], 4),
        "median_s": round(median(times[1:]), 4),
        "min_s": round(min(times[1:]), 4),
    }


def _print_figures(memory: dict[str, Any], startup: dict[str, Any]) -> None:
    mib = 2**20
    print(
        f"{memory['cycles']} cycles in {memory['seconds']} s, median "
        f"{memory['cycle_median_s'] * 1000:.0f} ms "
        f"({memory['failed_cycles']} failed, {memory['notion_writes']} Notion "
        f"writes): RSS {memory['rss_first_bytes'] / mib:.1f} MiB after the first, "
        f"{memory['rss_after_warm_up_bytes'] / mib:.1f} MiB after "
        f"{memory['warm_up_cycles']}, {memory['rss_last_bytes'] / mib:.1f} MiB at "
        f"the end (growth {memory['growth_bytes'] / 1024:+.0f} KiB, slope "
        f"{memory['slope_bytes_per_cycle']:+.0f} bytes/cycle)"
    )
    print(
        f"{startup['command']}: median {startup['median_s'] * 1000:.0f} ms, "
        f"min {startup['min_s'] * 1000:.0f} ms over {startup['runs']} runs "
        f"(first {startup['first_s'] * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
