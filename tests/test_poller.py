"""The poller against real SQLite files and scripted product listings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import GumroadError, StoreError
from ledger.poller import poll
from tests.ledger_helpers import (
    ScriptedSource,
    StepClock,
    check_invariant_3,
    new_ledger,
    payload,
    rows,
)

UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    return new_ledger(tmp_path / "ledger.sqlite")


@pytest.fixture
def source() -> ScriptedSource:
    store = ScriptedSource()
    store.set(
        payload("AAA==", sales_count=10, sales_usd_cents=10000.0),
        payload("BBB==", sales_count="3", sales_usd_cents="4500"),
        payload("CCC==", sales_count=0, sales_usd_cents=0),
    )
    return store


def count(engine, table: str) -> int:  # type: ignore[no-untyped-def]
    return rows(engine, f"SELECT COUNT(*) FROM {table}")[0][0]


def test_first_poll_records_baseline_only(engine, source) -> None:  # type: ignore[no-untyped-def]
    result = poll(engine, source, UTC_ZONE, clock=StepClock())

    assert result.baseline
    assert count(engine, "product_snapshots") == 3
    assert count(engine, "sales_deltas") == 0
    assert rows(engine, "SELECT status, is_baseline FROM polls") == [("ok", 1)]


def test_sales_on_two_products_give_deltas(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.set(
        payload("AAA==", sales_count=12, sales_usd_cents=12000.0),
        payload("BBB==", sales_count="4", sales_usd_cents="6000"),
    )

    result = poll(engine, source, UTC_ZONE, clock=clock)

    deltas = rows(
        engine,
        "SELECT product_id, sales_delta, revenue_usd_cents_delta FROM sales_deltas "
        "ORDER BY product_id",
    )
    assert deltas == [("AAA==", 2, 2000), ("BBB==", 1, 1500)]
    assert result.sales_delta == 3
    assert result.revenue_usd_cents_delta == 3500
    assert result.products_changed == 2


def test_refund_gives_negative_delta(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.set(payload("AAA==", sales_count=9, sales_usd_cents=9000.0))

    poll(engine, source, UTC_ZONE, clock=clock)

    assert rows(
        engine, "SELECT sales_delta, revenue_usd_cents_delta FROM sales_deltas"
    ) == [(-1, -1000)]


def test_unchanged_poll_writes_only_poll_row(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    snapshots_before = count(engine, "product_snapshots")

    result = poll(engine, source, UTC_ZONE, clock=clock)

    assert count(engine, "product_snapshots") == snapshots_before
    assert count(engine, "sales_deltas") == 0
    assert count(engine, "polls") == 2
    assert result.products_changed == 0


def test_volatile_fields_do_not_make_snapshots(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.set(
        payload(
            "AAA==",
            sales_count=10,
            sales_usd_cents=10000,
            purchasing_power_parity_prices={"DE": 987},
        )
    )

    poll(engine, source, UTC_ZONE, clock=clock)

    assert count(engine, "product_snapshots") == 3


def test_new_product_starts_at_its_totals(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.set(payload("NEW==", sales_count=2, sales_usd_cents=2500))

    result = poll(engine, source, UTC_ZONE, clock=clock)

    assert rows(
        engine,
        "SELECT product_id, sales_delta, revenue_usd_cents_delta FROM sales_deltas",
    ) == [("NEW==", 2, 2500)]
    assert result.products_new == 1


def test_deleted_product_recorded_without_delta(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.remove("BBB==")

    result = poll(engine, source, UTC_ZONE, clock=clock)

    latest = rows(
        engine,
        "SELECT deleted, published, sales_count FROM product_totals "
        "WHERE product_id = 'BBB=='",
    )
    assert latest == [(1, 0, 3)]
    assert count(engine, "sales_deltas") == 0
    assert result.products_deleted == 1


def test_incomplete_listing_deletes_nothing(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.remove("BBB==")
    source.complete = False

    poll(engine, source, UTC_ZONE, clock=clock)

    assert rows(
        engine, "SELECT deleted FROM product_totals WHERE product_id='BBB=='"
    ) == [(0,)]


def test_deleted_product_not_deleted_twice(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    source.remove("BBB==")
    poll(engine, source, UTC_ZONE, clock=clock)

    poll(engine, source, UTC_ZONE, clock=clock)

    assert rows(
        engine, "SELECT COUNT(*) FROM product_snapshots WHERE product_id='BBB=='"
    ) == [(2,)]


class FailingSource:
    def list_products(self) -> None:
        raise GumroadError("Gumroad returned an HTML page (HTTP 530)", status=530)


def test_failed_poll_leaves_only_failed_row(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GumroadError):
        poll(engine, FailingSource(), UTC_ZONE, clock=StepClock())

    assert rows(engine, "SELECT status, error FROM polls") == [
        ("failed", "Gumroad returned an HTML page (HTTP 530)")
    ]
    assert count(engine, "product_snapshots") == 0


def test_first_successful_poll_after_failure_is_baseline(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    with pytest.raises(GumroadError):
        poll(engine, FailingSource(), UTC_ZONE, clock=clock)

    result = poll(engine, source, UTC_ZONE, clock=clock)

    assert result.baseline
    assert count(engine, "sales_deltas") == 0


def test_delta_day_uses_ledger_timezone(engine, source) -> None:  # type: ignore[no-untyped-def]
    # 02:30 UTC on 2026-03-02 is still 2026-03-01 in New York.
    clock = StepClock(datetime(2026, 3, 2, 2, 30, tzinfo=UTC), timedelta(seconds=1))
    zone = ZoneInfo("America/New_York")
    poll(engine, source, zone, clock=clock)
    source.set(payload("AAA==", sales_count=11, sales_usd_cents=11000))

    poll(engine, source, zone, clock=clock)

    assert rows(engine, "SELECT day FROM sales_deltas") == [("2026-03-01",)]


def test_times_read_back_timezone_aware(engine, source) -> None:  # type: ignore[no-untyped-def]
    result = poll(engine, source, UTC_ZONE, clock=StepClock())

    assert result.started_at.tzinfo is not None
    stored = rows(engine, "SELECT started_at FROM polls")[0][0]
    assert stored.startswith("2026-03-01 12:00:00")


def test_raw_payload_kept(engine, source) -> None:  # type: ignore[no-untyped-def]
    poll(engine, source, UTC_ZONE, clock=StepClock())

    raw = rows(
        engine, "SELECT raw_json FROM product_snapshots WHERE product_id='BBB=='"
    )
    assert json.loads(raw[0][0])["sales_count"] == "3"


def test_clock_stepping_back_keeps_invariant(engine, source) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)
    clock.jump(timedelta(days=-3))
    source.set(payload("AAA==", sales_count=15, sales_usd_cents=15000))

    poll(engine, source, UTC_ZONE, clock=clock)

    assert check_invariant_3(engine)["AAA=="] == (15, 15000)


operations = st.lists(
    st.tuples(
        st.sampled_from(["AAA==", "BBB==", "CCC==", "DDD==", "EEE=="]),
        st.sampled_from(["sell", "refund", "remove", "rename", "nothing"]),
        st.integers(min_value=1, max_value=5),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
def test_invariant_3_holds_for_random_polls(tmp_path_factory, steps) -> None:  # type: ignore[no-untyped-def]
    engine = new_ledger(tmp_path_factory.mktemp("ledger") / "ledger.sqlite")
    source = ScriptedSource()
    source.set(payload("AAA==", sales_count=4, sales_usd_cents=4000))
    clock = StepClock()
    poll(engine, source, UTC_ZONE, clock=clock)

    for product_id, action, amount in steps:
        _apply(source, product_id, action, amount)
        poll(engine, source, UTC_ZONE, clock=clock)

    latest = check_invariant_3(engine)
    for product_id, body in source.payloads.items():
        assert latest[product_id] == (
            int(body["sales_count"]),
            int(body["sales_usd_cents"]),
        )


def _apply(source: ScriptedSource, product_id: str, action: str, amount: int) -> None:
    body = source.payloads.get(product_id)
    if body is None:
        if action != "remove":
            source.set(
                payload(product_id, sales_count=amount, sales_usd_cents=amount * 999)
            )
        return
    if action == "sell":
        body["sales_count"] += amount
        body["sales_usd_cents"] += amount * 999
    elif action == "refund":
        body["sales_count"] = max(0, body["sales_count"] - amount)
        body["sales_usd_cents"] = max(0, body["sales_usd_cents"] - amount * 999)
    elif action == "remove":
        source.remove(product_id)
    elif action == "rename":
        body["name"] = f"{body['name']} v{amount}"


def test_timezone_change_warns(engine, source, caplog) -> None:  # type: ignore[no-untyped-def]
    clock = StepClock()
    poll(engine, source, ZoneInfo("Europe/Berlin"), clock=clock)

    poll(engine, source, ZoneInfo("Asia/Tokyo"), clock=clock)

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("counts days in Europe/Berlin" in message for message in warnings)
    assert rows(engine, "SELECT value FROM meta WHERE key = 'ledger.timezone'") == [
        ("Europe/Berlin",)
    ]


class UnstorableSource:
    """A listing whose product SQLite cannot store, as if parsing had let it through."""

    def list_products(self):  # type: ignore[no-untyped-def]
        from tests.ledger_helpers import Listing

        product = ScriptedSource()
        product.set(payload("AAA==", sales_count=1, sales_usd_cents=100))
        listing = product.list_products()
        bad = listing.products[0].__class__(
            **{**listing.products[0].__dict__, "sales_count": 2**70}
        )
        return Listing([bad])


def test_unstorable_value_records_failed_poll(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError, match="OverflowError"):
        poll(engine, UnstorableSource(), UTC_ZONE, clock=StepClock())

    assert rows(engine, "SELECT status FROM polls") == [("failed",)]
    assert count(engine, "product_snapshots") == 0
