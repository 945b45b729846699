"""`gumroad-ledger status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from ledger.cli.context import AppContext
from ledger.cli.output import echo, format_table, format_usd

RECENT_POLLS = 5


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status_command(app: AppContext, as_json: bool) -> None:
    """Show the ledger's location, schema, recent polls, pending pushes and targets.

    Example: gumroad-ledger status --json
    """
    report = collect_status(app)
    if as_json:
        echo(json.dumps(report, indent=2, default=str))
    else:
        echo(render_status(report))


def collect_status(app: AppContext) -> dict[str, Any]:
    """Gather the status report without creating or upgrading the ledger."""
    from ledger.config import describe_database_url
    from ledger.store.db import head_revision

    settings = app.settings()
    path = app.ledger_path()
    report: dict[str, Any] = {
        "ledger": {
            "url": describe_database_url(settings.database_url),
            "path": str(path) if path else None,
            "exists": path.exists() if path else True,
            "revision": None,
            "head": head_revision(),
        },
        "timezone": settings.timezone.key,
        "polls": [],
        "totals": None,
        "notion": _notion_targets_from_settings(app),
        "scheduler": None,
    }
    if report["ledger"]["exists"]:
        _fill_from_ledger(app, report)
    return report


def _notion_targets_from_settings(app: AppContext) -> dict[str, Any]:
    settings = app.settings()
    return {
        "api_url": settings.notion_api_url,
        "parent_page_id": settings.notion_parent_page_id,
        "products_database_id": settings.notion_products_database_id,
        "daily_database_id": settings.notion_daily_database_id,
        "pending": None,
    }


def _fill_from_ledger(app: AppContext, report: dict[str, Any]) -> None:
    from sqlalchemy import func, select

    from ledger.store import keys
    from ledger.store.db import all_meta, check_schema, session_factory
    from ledger.store.models import Poll, ProductSnapshot

    engine = app.engine(upgrade=False)
    revision = check_schema(engine)
    report["ledger"]["revision"] = revision
    if revision is None:
        return

    with session_factory(engine)() as session:
        polls = session.scalars(
            select(Poll).order_by(Poll.id.desc()).limit(RECENT_POLLS)
        )
        report["polls"] = [_poll_summary(row) for row in polls]
        report["polls_total"] = session.scalar(select(func.count(Poll.id)))
        report["snapshots_total"] = session.scalar(
            select(func.count(ProductSnapshot.id))
        )
        meta = all_meta(session)
        totals = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(_column("sales_count")), 0),
                func.coalesce(func.sum(_column("revenue_usd_cents")), 0),
            ).select_from(_totals_view())
        ).one()
    report["totals"] = {
        "products": totals[0],
        "sales_count": totals[1],
        "revenue_usd_cents": totals[2],
    }
    report["ledger"]["timezone"] = meta.get(keys.LEDGER_TIMEZONE)
    _merge_notion_meta(report["notion"], meta)
    report["notion"]["pending"] = _pending(app, engine, revision)
    report["scheduler"] = _scheduler(app, meta)


def _totals_view() -> Any:
    from sqlalchemy import table

    return table("product_totals")


def _column(name: str) -> Any:
    from sqlalchemy import column

    return column(name)


def _poll_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "started_at": row.started_at.isoformat(timespec="seconds"),
        "status": row.status,
        "error": row.error,
        "products_seen": row.products_seen,
        "products_changed": row.products_changed,
        "sales_delta": row.sales_delta,
        "revenue_usd_cents_delta": row.revenue_usd_cents_delta,
        "baseline": row.is_baseline,
    }


def _merge_notion_meta(notion: dict[str, Any], meta: dict[str, str]) -> None:
    from ledger.store import keys

    stored = {
        "parent_page_id": meta.get(keys.NOTION_PARENT_PAGE_ID),
        "products_database_id": meta.get(keys.NOTION_PRODUCTS_DATABASE_ID),
        "products_data_source_id": meta.get(keys.NOTION_PRODUCTS_DATA_SOURCE_ID),
        "daily_database_id": meta.get(keys.NOTION_DAILY_DATABASE_ID),
        "daily_data_source_id": meta.get(keys.NOTION_DAILY_DATA_SOURCE_ID),
    }
    for name, value in stored.items():
        if value and not notion.get(name):
            notion[name] = value


def _pending(
    app: AppContext, engine: Any, revision: str | None
) -> dict[str, int] | None:
    from ledger.notion.projector import pending_counts

    return pending_counts(engine, app.settings())


def _scheduler(app: AppContext, meta: dict[str, str]) -> dict[str, Any] | None:
    from ledger import lock
    from ledger.store import keys

    heartbeat = meta.get(keys.SCHEDULER_HEARTBEAT_AT)
    path = app.ledger_path()
    running = path is not None and lock.is_held(lock.lock_path(path, "scheduler"))
    if heartbeat is None and not running:
        return None
    age = None
    if heartbeat:
        age = (datetime.now(UTC) - datetime.fromisoformat(heartbeat)).total_seconds()
    return {
        "running": running,
        "pid": _as_int(meta.get(keys.SCHEDULER_PID)),
        "host": meta.get(keys.SCHEDULER_HOST),
        "interval_seconds": _as_float(meta.get(keys.SCHEDULER_INTERVAL_SECONDS)),
        "last_heartbeat_at": heartbeat,
        "seconds_since_heartbeat": None if age is None else round(age),
        "last_cycle": _as_object(meta.get(keys.SCHEDULER_LAST_CYCLE)),
    }


def _as_int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _as_float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _as_object(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return None


def render_status(report: dict[str, Any]) -> str:
    """Render the status report as text for a terminal."""
    ledger = report["ledger"]
    lines = [f"ledger:    {ledger['url']}"]
    if not ledger["exists"]:
        lines.append("           not created yet: run `gumroad-ledger init`")
        return "\n".join(lines)
    lines.append(f"schema:    {ledger['revision'] or 'empty'} (head {ledger['head']})")
    lines.append(f"time zone: {report['timezone']}")
    pinned = ledger.get("timezone")
    if pinned and pinned != report["timezone"]:
        lines.append(
            f"           but this ledger counts days in {pinned}: set "
            f"LEDGER_TIMEZONE={pinned}, or run `gumroad-ledger init` to switch"
        )
    if report["totals"]:
        totals = report["totals"]
        lines.append(
            f"products:  {totals['products']}, {totals['sales_count']} sales, "
            f"{format_usd(totals['revenue_usd_cents'])} revenue"
        )
    lines.extend(["", _render_polls(report["polls"]), ""])
    lines.extend(_render_notion(report["notion"]))
    lines.extend(_render_scheduler(report["scheduler"]))
    return "\n".join(lines)


def _render_polls(polls: list[dict[str, Any]]) -> str:
    if not polls:
        return "no polls yet: run `gumroad-ledger poll`"
    rows = [
        [
            poll["id"],
            poll["started_at"],
            poll["status"] + (" (baseline)" if poll["baseline"] else ""),
            poll["products_seen"],
            poll["products_changed"],
            poll["sales_delta"],
            format_usd(poll["revenue_usd_cents_delta"], signed=True),
            (poll["error"] or "")[:60],
        ]
        for poll in polls
    ]
    headers = ["poll", "started (UTC)", "status", "seen", "changed", "sales", "revenue"]
    return format_table([*headers, "error"], rows)


def _render_notion(notion: dict[str, Any]) -> list[str]:
    lines = [
        f"notion products database: {notion.get('products_database_id') or 'not set'}",
        f"notion daily database:    {notion.get('daily_database_id') or 'not set'}",
    ]
    pending = notion.get("pending")
    if pending is not None:
        described = ", ".join(f"{count} {kind}" for kind, count in pending.items())
        lines.append(f"pending pushes: {described or 'none'}")
    return lines


def _render_scheduler(scheduler: dict[str, Any] | None) -> list[str]:
    if scheduler is None:
        return ["scheduler: never ran"]
    state = "running" if scheduler["running"] else "not running"
    heartbeat = scheduler["last_heartbeat_at"] or "never"
    age = scheduler["seconds_since_heartbeat"]
    suffix = f" ({age}s ago)" if age is not None else ""
    lines = [f"scheduler: {state}, last heartbeat {heartbeat}{suffix}"]
    cycle = scheduler.get("last_cycle")
    if isinstance(cycle, dict) and cycle.get("status") == "failed":
        lines.append(f"last cycle failed: {cycle.get('error') or 'unknown error'}")
    return lines
