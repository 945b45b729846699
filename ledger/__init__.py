"""Keep Gumroad sales history in a SQL ledger and mirror it into Notion."""

__version__ = "0.1.0"
