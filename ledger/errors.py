"""Exception tree. The CLI maps each family to an exit status."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(LedgerError):
    """Invalid or missing configuration; the user must change a setting."""

    exit_code = 2

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class RemoteError(LedgerError):
    """A remote API (Gumroad or Notion) failed or returned something unusable."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.url = url
        self.transient = transient


class GumroadError(RemoteError):
    """The Gumroad API failed or returned data that cannot be recorded."""


class GumroadAuthError(GumroadError):
    """The Gumroad token was rejected or lacks a required scope."""


class NotionError(RemoteError):
    """The Notion API failed."""


class NotionConfigError(NotionError):
    """Notion rejected the setup: a database is missing, unshared or mistyped.

    Retrying does not help; the user must change something in Notion or in the settings.
    """


class StoreError(LedgerError):
    """The ledger database cannot be opened, migrated or written."""


class SchemaTooNewError(StoreError):
    """The ledger was migrated by a newer version of this tool."""

    def __init__(self, found: str, known: str) -> None:
        super().__init__(
            f"ledger schema revision {found} is newer than this version of "
            f"gumroad-ledger knows (head {known}): upgrade gumroad-ledger"
        )
        self.found = found
        self.known = known


class LockedError(LedgerError):
    """Another process holds a lock on the ledger."""
