"""Serve both sandboxes until Ctrl-C, for trying the real commands without accounts.

    python -m ledger.sandbox

prints the `export` lines that point gumroad-ledger at the two servers. With them
set, `init`, `sync`, `run` and the rest work as they would against Gumroad and
Notion. Typing a line on standard input makes a few sales, so the next sync has
something to push.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import threading
from types import FrameType

from ledger.sandbox.gumroad import GumroadSandbox
from ledger.sandbox.notion import NotionSandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.sandbox",
        description="Serve the Gumroad and Notion sandboxes on 127.0.0.1.",
    )
    parser.add_argument("--gumroad-port", type=int, default=0, help="0 picks a port")
    parser.add_argument("--notion-port", type=int, default=0, help="0 picks a port")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=3.0,
        help="Notion requests per second before 429 (default 3, as Notion; 0: off)",
    )
    options = parser.parse_args(argv)

    from ledger.demo import seed_store

    gumroad = GumroadSandbox(port=options.gumroad_port)
    notion = NotionSandbox(
        port=options.notion_port, rate_limit=options.rate_limit or None
    )
    with gumroad, notion:
        products = seed_store(gumroad)
        parent = notion.create_parent_page("Sales")
        _print_exports(gumroad, notion, parent)
        _serve(gumroad, list(products.values()))
    return 0


def _print_exports(gumroad: GumroadSandbox, notion: NotionSandbox, parent: str) -> None:
    print("# Sandboxes are running. In another shell:")
    print(f"export GUMROAD_API_URL={gumroad.url} GUMROAD_ACCESS_TOKEN={gumroad.token}")
    print(f"export NOTION_API_URL={notion.url} NOTION_TOKEN={notion.token}")
    print(f"export NOTION_PARENT_PAGE_ID={parent}")
    print("export LEDGER_DATABASE_URL=sqlite:///$PWD/sandbox-ledger.sqlite")
    print("# Then: gumroad-ledger init && gumroad-ledger sync && gumroad-ledger status")
    print("# Press Enter here to make a few sales; Ctrl-C stops the sandboxes.")
    sys.stdout.flush()


def _serve(gumroad: GumroadSandbox, product_ids: list[str]) -> None:
    stop = threading.Event()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    reader = threading.Thread(
        target=_sell_on_enter, args=(gumroad, product_ids, stop), daemon=True
    )
    reader.start()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()


def _sell_on_enter(
    gumroad: GumroadSandbox, product_ids: list[str], stop: threading.Event
) -> None:
    for _line in sys.stdin:
        chosen = random.sample(product_ids, k=min(2, len(product_ids)))
        for product_id in chosen:
            gumroad.sell(product_id, random.randint(1, 3))
        print(f"sold to {len(chosen)} products; run `gumroad-ledger sync`", flush=True)
    # Standard input closed (for example under nohup): keep serving.


if __name__ == "__main__":
    sys.exit(main())
