"""Notion ids: accept the forms a user copies from Notion and return the dashed form."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ledger.errors import ConfigError

_HEX32 = re.compile(r"[0-9a-f]{32}")
_DASHED = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_id(value: str) -> str | None:
    """Return the dashed lowercase form of a 32-hex or dashed id, else None."""
    text = value.strip().lower()
    if _HEX32.fullmatch(text):
        return _dash(text)

    if _DASHED.fullmatch(text):
        return text

    return None


def id_from_url(value: str) -> str | None:
    """Return the dashed id that ends the path of a Notion link, or None.

    The query string is ignored on purpose: `?v=` names a view of the database and `?p=`
    a page opened in peek mode, never the object the path points at.
    """
    text = value.strip()
    if "://" not in text and "/" in text:
        # A link pasted without its scheme, e.g. www.notion.so/workspace/Sales-<id>.
        text = "https://" + text

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None

    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments:
        return None

    # The id ends the last segment, after any title slug: /workspace/Sales-<id>.
    last = segments[-1].lower()
    if _DASHED.fullmatch(last[-36:]):
        return last[-36:]

    return canonical_id(last[-32:])


def parse_notion_id(value: str, name: str) -> str:
    """Return the dashed id of a database or page given as an id or a Notion link.

    `name` is the setting the value came from, such as NOTION_PARENT_PAGE_ID. The
    ConfigError raised for anything else names it.
    """
    found = canonical_id(value) or id_from_url(value)
    if found is not None:
        return found

    if not value.strip():
        raise ConfigError(
            f"{name} is empty: set it to a Notion id or the link copied from Notion",
            name=name,
        )

    raise ConfigError(
        f"{name} is not a Notion id or link: {value!r}; expected 32 hex characters, "
        "a dashed id, or a link such as https://www.notion.so/workspace/Sales-<id> "
        "(in Notion choose ••• > Copy link)",
        name=name,
    )


def _dash(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"
