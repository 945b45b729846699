"""Build Notion property values within the API's limits.

Notion measures text in UTF-16 code units. One rich-text item contains at most 2000 of
them, and a property contains at most 100 items. Numbers must be finite JSON numbers
or null.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

logger = logging.getLogger(__name__)

MAX_TEXT_UNITS = 2000
MAX_RICH_TEXT_ITEMS = 100
MAX_URL_UNITS = 2000
ELLIPSIS = "…"


def utf16_length(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, the unit of Notion's limits."""
    return len(text.encode("utf-16-le")) // 2


def split_text(
    text: str,
    *,
    max_units: int = MAX_TEXT_UNITS,
    max_items: int = MAX_RICH_TEXT_ITEMS,
    label: str = "text",
) -> list[str]:
    """Split `text` into at most `max_items` chunks of at most `max_units` UTF-16 units.

    Chunks end on character-cluster boundaries, so neither a surrogate pair nor a
    base character and its combining marks or emoji modifiers are torn apart. Text that
    does not fit is cut short with an ellipsis and logged once, naming `label`.
    """
    capacity = max_units * max_items
    if text.isascii() and "\r" not in text:
        # Every ASCII character is one code unit and its own cluster.
        chunks = [text[i : i + max_units] for i in range(0, len(text), max_units)]
    else:
        # Each code point is at least one unit, so this prefix already overflows
        # whenever the whole text does; clustering the rest would be wasted work.
        chunks = _pack(_clusters(text[: capacity + 1]), max_units)
    if len(chunks) <= max_items:
        return chunks

    kept = chunks[:max_items]
    kept[-1] = _end_with_ellipsis(kept[-1], max_units)
    logger.warning(
        "%s is %d UTF-16 code units, more than Notion stores in one property "
        "(%d items of %d); truncated to %d units",
        label,
        utf16_length(text),
        max_items,
        max_units,
        sum(utf16_length(chunk) for chunk in kept),
    )
    return kept


def rich_text_items(text: str, *, label: str = "text") -> list[dict[str, Any]]:
    """Return `text` as a list of Notion rich-text items that fits the API's limits."""
    return [
        {"type": "text", "text": {"content": chunk}}
        for chunk in split_text(text, label=label)
    ]


def text_property(kind: str, text: str, *, label: str = "text") -> dict[str, Any]:
    """Return a title or rich_text property value, such as {"title": [...]}."""
    if kind not in ("title", "rich_text"):
        raise ValueError(
            f"text property kind must be 'title' or 'rich_text', not {kind!r}"
        )

    return {kind: rich_text_items(text, label=label)}


def title_value(text: str, *, label: str = "title") -> dict[str, Any]:
    """Return a title property value for `text`."""
    return text_property("title", text, label=label)


def rich_text_value(text: str, *, label: str = "rich text") -> dict[str, Any]:
    """Return a rich_text property value for `text`."""
    return text_property("rich_text", text, label=label)


def plain_text(property_value: dict[str, Any] | None) -> str:
    """Return the text of a title or rich_text property value read from a page."""
    if not property_value:
        return ""

    kind = property_value.get("type")
    if kind not in ("title", "rich_text"):
        kind = "title" if "title" in property_value else "rich_text"

    items = property_value.get(kind) or []
    return "".join(_item_text(item) for item in items)


def check_finite(value: Any, name: str) -> int | float | None:
    """Return `value` as a JSON-safe number, or None for None.

    Raises ValueError for NaN and infinities, and TypeError for anything that is not a
    number (bool included). A Decimal becomes an int when whole and a float otherwise.
    """
    if value is None:
        return None

    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"{name} must be a number or None, not {type(value).__name__}")

    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite number or None, not {value}")
        return int(value) if value == value.to_integral_value() else float(value)

    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number or None, not {value}")

    return value


def number_value(value: Any, name: str = "number") -> dict[str, Any]:
    """Return a number property value, {"number": value}, after check_finite."""
    return {"number": check_finite(value, name)}


def url_value(url: str | None, *, label: str = "url") -> dict[str, Any]:
    """Return a url property value; a URL longer than Notion accepts becomes null."""
    if url is not None and utf16_length(url) > MAX_URL_UNITS:
        logger.warning(
            "%s is %d UTF-16 code units, longer than Notion's %d; left empty",
            label,
            utf16_length(url),
            MAX_URL_UNITS,
        )
        return {"url": None}

    return {"url": url or None}


def _item_text(item: dict[str, Any]) -> str:
    if "plain_text" in item:
        return str(item["plain_text"])

    return str(item.get("text", {}).get("content", ""))


def _pack(clusters: Iterator[str], max_units: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    current_units = 0
    for cluster in clusters:
        units = utf16_length(cluster)
        pieces = [cluster]
        if units > max_units:
            # Only a pathological cluster (thousands of combining marks) gets here.
            # Splitting it between code points still keeps surrogate pairs whole.
            pieces = _pack(iter(cluster), max_units)

        for piece in pieces:
            piece_units = utf16_length(piece)
            if current_units + piece_units > max_units:
                chunks.append("".join(current))
                current, current_units = [], 0
            current.append(piece)
            current_units += piece_units

    if current:
        chunks.append("".join(current))
    return chunks


def _end_with_ellipsis(chunk: str, max_units: int) -> str:
    clusters = list(_clusters(chunk))
    room = max_units - utf16_length(ELLIPSIS)
    while clusters and sum(utf16_length(cluster) for cluster in clusters) > room:
        clusters.pop()

    return "".join(clusters) + ELLIPSIS


def _clusters(text: str) -> Iterator[str]:
    """Yield approximate extended grapheme clusters of `text`.

    NOTE: this covers combining marks, ZWJ emoji sequences, variation selectors,
    skin-tone modifiers, tag sequences, flag pairs and CR LF, but not the Hangul jamo
    or Indic conjunct rules. Those clusters may be split between two rich-text items,
    which Notion still renders as continuous text.
    """
    current = ""
    for char in text:
        if current and _continues_cluster(current, char):
            current += char
            continue

        if current:
            yield current
        current = char

    if current:
        yield current


def _continues_cluster(cluster: str, char: str) -> bool:
    previous = cluster[-1]
    code = ord(char)
    if previous == "\r" and char == "\n":
        return True

    if previous == "\u200d" or char == "\u200d":
        return True

    if unicodedata.category(char) in ("Mn", "Me", "Mc"):
        return True

    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True  # variation selectors

    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
        return True  # emoji skin-tone modifiers and tag characters

    # Regional indicators pair up into flags: join only the second of each pair.
    return _is_regional(char) and len(cluster) == 1 and _is_regional(previous)


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF
