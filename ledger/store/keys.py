"""Keys of the internal `meta` table."""

NOTION_PARENT_PAGE_ID = "notion.parent_page_id"
NOTION_PRODUCTS_DATABASE_ID = "notion.products.database_id"
NOTION_PRODUCTS_DATA_SOURCE_ID = "notion.products.data_source_id"
NOTION_DAILY_DATABASE_ID = "notion.daily.database_id"
NOTION_DAILY_DATA_SOURCE_ID = "notion.daily.data_source_id"

# The IANA zone whose dates the deltas' `day` column uses. The first poll or `init`
# sets it, so that a command run with another LEDGER_TIMEZONE can warn.
LEDGER_TIMEZONE = "ledger.timezone"

SCHEDULER_HEARTBEAT_AT = "scheduler.heartbeat_at"
SCHEDULER_PID = "scheduler.pid"
SCHEDULER_HOST = "scheduler.host"
SCHEDULER_INTERVAL_SECONDS = "scheduler.interval_seconds"
SCHEDULER_LAST_CYCLE = "scheduler.last_cycle"
