"""Process death: `poll`, `push` and `run` killed with SIGKILL, then run again.

Each test kills the CLI at one point: after the k-th request a sandbox receives,
or while the poll holds SQLite's write lock. It then runs the same command again
and checks that nothing was lost or counted twice. Ledger invariants 1 and 3 hold,
every sale shows up exactly once in the deltas, and Notion contains exactly one
page per key with the ledger's values (invariant 7).
"""

from __future__ import annotations

import signal
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest

from tests.conftest import run_cli
from tests.fault_helpers import (
    assert_clean_cli,
    finish,
    kill_after_requests,
    kill_when,
    poll_statuses,
    start_cli,
    total_deltas,
    write_lock_held,
)

if TYPE_CHECKING:
    from tests.fault_world import World

pytest_plugins = ["tests.fault_world"]

# Requests of one `poll` of a 35-product catalogue: pages 1 to 4.
POLL_PAGES = 4
# Requests of one `push` in the world of `pending_push`: products (get schema,
# 2 lookups, 2 creates), then daily (get schema, 1 lookup, 1 create).
PUSH_REQUESTS = 8


def sweep(sample: list[int], full: range) -> list[object]:
    """Return `sample` as quick cases and the rest of `full` as slow ones."""
    slow = [k for k in full if k not in sample]
    return [pytest.param(k, id=f"k{k}") for k in sample] + [
        pytest.param(k, id=f"k{k}", marks=pytest.mark.slow) for k in slow
    ]


def seed_catalogue(world: World, count: int) -> list[str]:
    return [
        world.gumroad.add_product(
            name=f"Product {number}",
            sales_count=number,
            revenue_usd_cents=number * 500,
        )
        for number in range(1, count + 1)
    ]


def sell_each(world: World, ids: list[str]) -> tuple[int, int]:
    """Sell each product once at $10 and return the (sales, cents) expected."""
    for product_id in ids:
        world.gumroad.sell(product_id, 1, usd_cents=1000)
    return len(ids), 1000 * len(ids)


# poll


@pytest.mark.parametrize("k", sweep([2], range(1, POLL_PAGES + 1)))
def test_poll_killed_after_kth_request(world: World, k: int) -> None:
    ids = seed_catalogue(world, 35)
    world.poll()
    expected = sell_each(world, ids[::3])
    world.gumroad.requests.clear()

    killed = kill_after_requests(
        start_cli("poll", env=world.env), world.gumroad.requests, k
    )
    again = run_cli("poll", env=world.env)

    assert killed.killed or k == POLL_PAGES
    assert again.returncode == 0, again.stderr
    assert_clean_cli(again)
    world.check()
    assert total_deltas(world.engine) == expected
    assert set(poll_statuses(world.engine)) == {"ok"}


def test_poll_killed_inside_transaction(world: World) -> None:
    # A catalogue served as one page keeps the poll's transaction open for about
    # 0.1 s, long enough to kill the process while it holds the write lock.
    world.gumroad.paginate = False
    ids = seed_catalogue(world, 3000)
    world.poll()
    expected = sell_each(world, ids)
    polls_before = len(poll_statuses(world.engine))

    killed = kill_when(
        start_cli("poll", env=world.env), lambda: write_lock_held(world.path)
    )

    assert killed.killed, killed.stderr
    assert len(poll_statuses(world.engine)) == polls_before
    world.check()
    assert total_deltas(world.engine) == (0, 0)

    again = run_cli("poll", env=world.env)

    assert again.returncode == 0, again.stderr
    world.check()
    assert total_deltas(world.engine) == expected


def test_first_poll_killed_during_migration(world: World) -> None:
    # The world's ledger is migrated already; this one starts empty.
    path = world.path.with_name("fresh.sqlite")
    env = world.env | {"LEDGER_DATABASE_URL": f"sqlite:///{path}"}
    seed_catalogue(world, 3)

    killed = kill_when(start_cli("poll", env=env), lambda: write_lock_held(path))
    with sqlite3.connect(path) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    again = run_cli("poll", env=env)

    assert killed.killed, killed.stderr
    assert tables == []
    assert again.returncode == 0, again.stderr
    assert "baseline recorded for 3 products" in again.stdout


# push


def pending_push(world: World) -> tuple[int, int]:
    """Set up Notion, poll a baseline of two products and one sale on one of them."""
    ids = seed_catalogue(world, 2)
    world.init()
    world.poll()
    world.gumroad.sell(ids[0], 2, usd_cents=3000)
    world.poll()
    world.notion.clear_requests()
    return world.pending()["products"], world.pending()["daily"]


@pytest.mark.parametrize("k", sweep([4], range(1, PUSH_REQUESTS + 1)))
def test_push_killed_after_kth_request(world: World, k: int) -> None:
    assert pending_push(world) == (2, 1)

    killed = kill_after_requests(
        start_cli("push", env=world.env), world.notion.requests, k
    )
    again = run_cli("push", env=world.env)

    assert killed.killed or k == PUSH_REQUESTS
    assert again.returncode == 0, again.stderr
    assert_clean_cli(again)
    world.check_notion()

    world.notion.clear_requests()
    world.push()

    assert world.notion.write_count() == 0


def test_push_killed_before_create_reply(world: World) -> None:
    # Notion stores the page and holds the reply back. The process dies in between,
    # so the ledger has no page id for a page that exists.
    pending_push(world)
    world.notion.fail_next(
        "timeout_after_commit", method="POST", path_contains="/v1/pages", delay=30
    )
    products = world.targets()["products_data_source_id"]

    killed = kill_when(
        start_cli("push", env=world.env),
        lambda: len(world.notion.pages(products)) == 1,
    )
    again = run_cli("push", env=world.env)

    assert killed.killed, killed.stderr
    assert again.returncode == 0, again.stderr
    assert "1 adopted" in again.stdout
    world.check_notion()


# run


def scheduler_settled(world: World, polls_before: int) -> bool:
    polls = poll_statuses(world.engine)
    return len(polls) > polls_before and world.pending() == {"products": 0, "daily": 0}


@pytest.mark.parametrize("k", sweep([3], range(1, 9)))
def test_run_killed_after_kth_request(world: World, k: int) -> None:
    ids = seed_catalogue(world, 2)
    world.init()
    world.poll()
    world.gumroad.sell(ids[1], 1, usd_cents=1500)
    world.gumroad.requests.clear()
    world.notion.clear_requests()

    def requests() -> int:
        return len(world.gumroad.requests) + len(world.notion.requests)

    killed = kill_when(
        start_cli("run", "--interval", "1h", env=world.env), lambda: requests() >= k
    )
    polls_before = len(poll_statuses(world.engine))
    again = start_cli("run", "--interval", "1h", env=world.env)
    deadline = time.monotonic() + 30
    while not scheduler_settled(world, polls_before) and time.monotonic() < deadline:
        time.sleep(0.1)
    again.send_signal(signal.SIGTERM)
    stopped = finish(again)

    assert killed.killed, killed.stderr
    assert stopped.returncode == 0, stopped.stderr
    assert_clean_cli(stopped)
    world.check()
    assert total_deltas(world.engine) == (1, 1500)
    world.check_notion()
