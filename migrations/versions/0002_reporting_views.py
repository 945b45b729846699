"""Add reporting views: store-wide daily, weekly and monthly totals, product history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

Views only; no table changes. Store-wide weekly and monthly figures are separate
views (`store_weekly_totals`, `store_monthly_totals`) rather than NULL-product rows in
`weekly_sales` and `monthly_sales`, so summing a per-product view never counts a sale
twice. docs/schema.md describes every column.

NOTE: the date arithmetic (`date()`, `strftime()`) and the window functions are
SQLite's (window functions need SQLite 3.25 or newer). A PostgreSQL ledger would need
its own definitions of these views.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# `day` is stored as ISO text (YYYY-MM-DD). 'weekday 0' moves a date forward to the
# next Sunday (or keeps a Sunday), so minus 6 days is the ISO week's Monday and minus
# 3 days its Thursday. The Thursday's year is the ISO week-numbering year, and its
# day of the year gives the ISO week number.
DELTA_WEEKS = """
SELECT
    d.product_id,
    d.sales_delta,
    d.revenue_usd_cents_delta,
    date(d.day, 'weekday 0', '-6 days') AS week_start,
    date(d.day, 'weekday 0', '-3 days') AS thursday
FROM sales_deltas AS d
"""

WEEK_LABEL = (
    "strftime('%Y', w.thursday) || '-W' || "
    "printf('%02d', (CAST(strftime('%j', w.thursday) AS INTEGER) - 1) / 7 + 1)"
)

STORE_DAILY_TOTALS = """
CREATE VIEW store_daily_totals AS
SELECT
    d.day,
    COUNT(DISTINCT d.product_id) AS products_changed,
    SUM(d.sales_delta) AS sales_delta,
    SUM(d.revenue_usd_cents_delta) AS revenue_usd_cents_delta
FROM sales_deltas AS d
GROUP BY d.day
"""

WEEKLY_SALES = f"""
CREATE VIEW weekly_sales AS
WITH w AS ({DELTA_WEEKS})
SELECT
    {WEEK_LABEL} AS week,
    w.week_start,
    w.product_id,
    t.name AS product_name,
    SUM(w.sales_delta) AS sales_delta,
    SUM(w.revenue_usd_cents_delta) AS revenue_usd_cents_delta
FROM w
JOIN product_totals AS t ON t.product_id = w.product_id
GROUP BY w.week_start, w.product_id, t.name
"""

STORE_WEEKLY_TOTALS = f"""
CREATE VIEW store_weekly_totals AS
WITH w AS ({DELTA_WEEKS})
SELECT
    {WEEK_LABEL} AS week,
    w.week_start,
    COUNT(DISTINCT w.product_id) AS products_changed,
    SUM(w.sales_delta) AS sales_delta,
    SUM(w.revenue_usd_cents_delta) AS revenue_usd_cents_delta
FROM w
GROUP BY w.week_start
"""

MONTHLY_SALES = """
CREATE VIEW monthly_sales AS
SELECT
    substr(d.day, 1, 7) AS month,
    d.product_id,
    t.name AS product_name,
    SUM(d.sales_delta) AS sales_delta,
    SUM(d.revenue_usd_cents_delta) AS revenue_usd_cents_delta
FROM sales_deltas AS d
JOIN product_totals AS t ON t.product_id = d.product_id
GROUP BY substr(d.day, 1, 7), d.product_id, t.name
"""

STORE_MONTHLY_TOTALS = """
CREATE VIEW store_monthly_totals AS
SELECT
    substr(d.day, 1, 7) AS month,
    COUNT(DISTINCT d.product_id) AS products_changed,
    SUM(d.sales_delta) AS sales_delta,
    SUM(d.revenue_usd_cents_delta) AS revenue_usd_cents_delta
FROM sales_deltas AS d
GROUP BY substr(d.day, 1, 7)
"""

# Snapshots are ordered by id, the order in which they were written, because
# observed_at can step backwards when the system clock does.
PRODUCT_HISTORY = """
CREATE VIEW product_history AS
WITH ordered AS (
    SELECT
        s.id AS snapshot_id,
        s.poll_id,
        s.product_id,
        s.observed_at,
        ROW_NUMBER() OVER history AS snapshot_number,
        s.name,
        LAG(s.name) OVER history AS previous_name,
        s.price_cents,
        LAG(s.price_cents) OVER history AS previous_price_cents,
        s.currency,
        LAG(s.currency) OVER history AS previous_currency,
        s.sales_count,
        LAG(s.sales_count) OVER history AS previous_sales_count,
        s.revenue_usd_cents,
        LAG(s.revenue_usd_cents) OVER history AS previous_revenue_usd_cents,
        s.status,
        LAG(s.status) OVER history AS previous_status,
        s.is_membership,
        LAG(s.is_membership) OVER history AS previous_is_membership,
        s.preview_url,
        LAG(s.preview_url) OVER history AS previous_preview_url,
        s.short_url,
        LAG(s.short_url) OVER history AS previous_short_url
    FROM (
        SELECT
            *,
            CASE
                WHEN deleted THEN 'deleted'
                WHEN published THEN 'published'
                ELSE 'unpublished'
            END AS status
        FROM product_snapshots
    ) AS s
    WINDOW history AS (PARTITION BY s.product_id ORDER BY s.id)
),
compared AS (
    SELECT
        *,
        CASE WHEN snapshot_number > 1 THEN name IS NOT previous_name END
            AS name_changed,
        CASE WHEN snapshot_number > 1 THEN
            price_cents IS NOT previous_price_cents
            OR currency IS NOT previous_currency
        END AS price_changed,
        sales_count - previous_sales_count AS sales_count_change,
        revenue_usd_cents - previous_revenue_usd_cents AS revenue_usd_cents_change,
        CASE WHEN snapshot_number > 1 THEN status IS NOT previous_status END
            AS status_changed,
        CASE WHEN snapshot_number > 1 THEN is_membership IS NOT previous_is_membership
        END AS membership_changed,
        CASE WHEN snapshot_number > 1 THEN
            preview_url IS NOT previous_preview_url
            OR short_url IS NOT previous_short_url
        END AS links_changed
    FROM ordered
)
SELECT
    snapshot_id,
    poll_id,
    product_id,
    observed_at,
    snapshot_number,
    name,
    previous_name,
    name_changed,
    price_cents,
    previous_price_cents,
    currency,
    previous_currency,
    price_changed,
    sales_count,
    previous_sales_count,
    sales_count_change,
    revenue_usd_cents,
    previous_revenue_usd_cents,
    revenue_usd_cents_change,
    status,
    previous_status,
    status_changed,
    is_membership,
    membership_changed,
    preview_url,
    short_url,
    links_changed,
    CASE WHEN snapshot_number > 1 THEN
        rtrim(
            CASE WHEN name_changed THEN 'name,' ELSE '' END
            || CASE WHEN price_changed THEN 'price,' ELSE '' END
            || CASE WHEN sales_count_change <> 0 THEN 'sales_count,' ELSE '' END
            || CASE WHEN revenue_usd_cents_change <> 0 THEN 'revenue,' ELSE '' END
            || CASE WHEN status_changed THEN 'status,' ELSE '' END
            || CASE WHEN membership_changed THEN 'membership,' ELSE '' END
            || CASE WHEN links_changed THEN 'links,' ELSE '' END,
            ','
        )
    END AS changed_fields
FROM compared
"""

VIEWS = {
    "store_daily_totals": STORE_DAILY_TOTALS,
    "weekly_sales": WEEKLY_SALES,
    "store_weekly_totals": STORE_WEEKLY_TOTALS,
    "monthly_sales": MONTHLY_SALES,
    "store_monthly_totals": STORE_MONTHLY_TOTALS,
    "product_history": PRODUCT_HISTORY,
}


def upgrade() -> None:
    for definition in VIEWS.values():
        op.execute(definition)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
