"""Notion sandbox: property schemas and page property values, validated like the API.

Stored values have the shape the API returns, so rendering a page is a lookup. Error
messages copy the real API's wording, e.g. "body failed validation: body.archived should
be not present, instead was `true`.".
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

MAX_TEXT_UNITS = 2000
MAX_ARRAY_ITEMS = 100
MAX_URL_UNITS = 2000

WRITABLE_TYPES = frozenset(
    {
        "title",
        "rich_text",
        "number",
        "url",
        "email",
        "phone_number",
        "checkbox",
        "date",
        "select",
        "multi_select",
        "relation",
    }
)
READ_ONLY_TYPES = frozenset(
    {
        "created_time",
        "last_edited_time",
        "created_by",
        "last_edited_by",
        "formula",
        "rollup",
        "unique_id",
    }
)
PROPERTY_TYPES = WRITABLE_TYPES | READ_ONLY_TYPES
TEXT_TYPES = frozenset({"title", "rich_text"})
ANNOTATIONS = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}


class ApiError(Exception):
    """An error response of the sandbox API, in Notion's JSON error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def utf16_units(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, as Notion counts it."""
    return len(text.encode("utf-16-le")) // 2


def body_error(path: str, expected: str, actual: Any) -> ApiError:
    """Return a 400 validation_error worded like the API's body validation."""
    shown = (
        "undefined" if actual is _MISSING else json.dumps(actual, ensure_ascii=False)
    )
    return ApiError(
        400,
        "validation_error",
        f"body failed validation: {path} should be {expected}, instead was `{shown}`.",
    )


def reject_keys(
    body: dict[str, Any], allowed: frozenset[str], path: str = "body"
) -> None:
    """Raise a validation_error for the first key of `body` not in `allowed`."""
    for key, value in body.items():
        if key not in allowed:
            raise body_error(f"{path}.{key}", "not present", value)


def new_property_id() -> str:
    """Return a short random property id, like the URL-safe ones Notion assigns."""
    return secrets.token_urlsafe(3)


def format_time(moment: datetime) -> str:
    """Return `moment` as Notion writes timestamps: UTC, milliseconds, Z suffix."""
    return (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def parse_instant(value: Any, path: str) -> tuple[datetime, bool]:
    """Parse an ISO 8601 date or datetime; return it in UTC and whether it was a date.

    A datetime without an offset is read as UTC, as the API documents.
    """
    if not isinstance(value, str):
        raise body_error(path, "an ISO 8601 date string", value)

    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise body_error(path, "an ISO 8601 date string", value) from None

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), False


# Schemas


def schema_property(
    name: str, config: Any, path: str, property_id: str | None = None
) -> dict[str, Any]:
    """Validate one property of a schema request and return it as the API shows it."""
    if not isinstance(config, dict):
        raise body_error(path, "an object", config)

    kinds = [key for key in config if key in PROPERTY_TYPES]
    if len(kinds) != 1:
        raise body_error(path, "an object with exactly one property type", config)

    kind = kinds[0]
    if property_id is None:
        property_id = "title" if kind == "title" else new_property_id()
    return {
        "id": property_id,
        "name": name,
        "type": kind,
        kind: _schema_config(kind, config[kind], f"{path}.{kind}"),
    }


def _schema_config(kind: str, config: Any, path: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise body_error(path, "an object", config)

    if kind == "number":
        return {"format": config.get("format", "number")}
    if kind in ("select", "multi_select"):
        options = [
            _option(item, f"{path}.options") for item in config.get("options", [])
        ]
        return {"options": options}
    if kind == "relation":
        target = config.get("data_source_id") or config.get("database_id")
        if not isinstance(target, str):
            raise body_error(f"{path}.data_source_id", "a string", target)
        return {
            "data_source_id": target,
            "type": "single_property",
            "single_property": {},
        }
    if kind == "formula":
        return {"expression": str(config.get("expression", ""))}
    return {}


def _option(item: Any, path: str) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise body_error(f"{path}[].name", "a string", item)

    if "," in item["name"]:
        raise ApiError(
            400, "validation_error", "Select option names cannot contain commas."
        )
    return {
        "id": item.get("id") or new_property_id(),
        "name": item["name"],
        "color": item.get("color", "default"),
    }


# Page property values


def empty_value(prop: dict[str, Any]) -> Any:
    """Return the value a page shows for a property that was never set."""
    kind = prop["type"]
    if kind in ("title", "rich_text", "multi_select", "relation"):
        return []
    if kind == "checkbox":
        return False
    return None


def parse_value(
    prop: dict[str, Any],
    value: Any,
    path: str,
    page_exists: Callable[[str], bool],
) -> Any:
    """Validate a property value from a request and return it as stored and shown.

    `path` is where the value sits in the body, e.g. body.properties.Sales.
    """
    kind = prop["type"]
    if not isinstance(value, dict):
        raise body_error(path, "an object", value)

    if kind in READ_ONLY_TYPES:
        raise ApiError(
            400,
            "validation_error",
            f"{prop['name']} is a {kind} property and cannot be set.",
        )

    if kind not in value:
        raise body_error(f"{path}.{kind}", "defined", _MISSING)

    return _VALUE_PARSERS[kind](prop, value[kind], f"{path}.{kind}", page_exists)


def _parse_text(
    prop: dict[str, Any], value: Any, path: str, _: Any
) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise body_error(path, "an array", value)
    if len(value) > MAX_ARRAY_ITEMS:
        raise body_error(f"{path}.length", f"≤ `{MAX_ARRAY_ITEMS}`", len(value))

    return [
        _parse_rich_text_item(item, f"{path}[{index}]")
        for index, item in enumerate(value)
    ]


def _parse_rich_text_item(item: Any, path: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise body_error(path, "an object", item)
    if item.get("type", "text") != "text" or not isinstance(item.get("text"), dict):
        raise body_error(f"{path}.text", "defined", item.get("text", _MISSING))

    content = item["text"].get("content")
    if not isinstance(content, str):
        raise body_error(f"{path}.text.content", "a string", content)

    units = utf16_units(content)
    if units > MAX_TEXT_UNITS:
        raise ApiError(
            400,
            "validation_error",
            f"body failed validation: {path}.text.content.length should be "
            f"≤ `{MAX_TEXT_UNITS}`, instead was `{units}`.",
        )

    link = item["text"].get("link")
    if link is not None and not (
        isinstance(link, dict) and isinstance(link.get("url"), str)
    ):
        raise body_error(f"{path}.text.link", "an object with a url or `null`", link)

    annotations = {**ANNOTATIONS, **(item.get("annotations") or {})}
    return {
        "type": "text",
        "text": {"content": content, "link": link},
        "annotations": annotations,
        "plain_text": content,
        "href": link["url"] if link else None,
    }


def _parse_number(
    prop: dict[str, Any], value: Any, path: str, _: Any
) -> int | float | None:
    if value is None:
        return None

    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value):
        raise body_error(path, "a number or `null`", value)
    return value


def _parse_string(prop: dict[str, Any], value: Any, path: str, _: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise body_error(path, "a string or `null`", value)

    if prop["type"] == "url" and utf16_units(value) > MAX_URL_UNITS:
        raise body_error(f"{path}.length", f"≤ `{MAX_URL_UNITS}`", utf16_units(value))
    return value


def _parse_checkbox(prop: dict[str, Any], value: Any, path: str, _: Any) -> bool:
    if not isinstance(value, bool):
        raise body_error(path, "a boolean", value)
    return value


def _parse_date(
    prop: dict[str, Any], value: Any, path: str, _: Any
) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise body_error(path, "an object or `null`", value)

    parse_instant(value.get("start", _MISSING), f"{path}.start")
    if value.get("end") is not None:
        parse_instant(value["end"], f"{path}.end")
    return {"start": value["start"], "end": value.get("end"), "time_zone": None}


def _parse_select(
    prop: dict[str, Any], value: Any, path: str, _: Any
) -> dict[str, Any] | None:
    if value is None:
        return None
    return _select_option(prop, value, path)


def _parse_multi_select(
    prop: dict[str, Any], value: Any, path: str, _: Any
) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise body_error(path, "an array", value)
    if len(value) > MAX_ARRAY_ITEMS:
        raise body_error(f"{path}.length", f"≤ `{MAX_ARRAY_ITEMS}`", len(value))

    return [_select_option(prop, item, f"{path}[{i}]") for i, item in enumerate(value)]


def _select_option(prop: dict[str, Any], value: Any, path: str) -> dict[str, Any]:
    """Find the option by id or name; an unknown name adds an option to the schema."""
    if not isinstance(value, dict) or not ({"id", "name"} & set(value)):
        raise body_error(path, "an object with a name or id", value)

    options = prop[prop["type"]]["options"]
    for option in options:
        if option["id"] == value.get("id") or option["name"] == value.get("name"):
            return dict(option)

    if "name" not in value:
        raise ApiError(
            400, "validation_error", f"Select option id {value['id']} not found."
        )

    # NOTE: the real API's handling of unknown option names is not documented. The
    # sandbox adds the option, as the Notion app does when a user types a new one.
    option = _option(value, path)
    options.append(option)
    return dict(option)


def _parse_relation(
    prop: dict[str, Any],
    value: Any,
    path: str,
    page_exists: Callable[[str], bool],
) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise body_error(path, "an array", value)
    if len(value) > MAX_ARRAY_ITEMS:
        raise body_error(f"{path}.length", f"≤ `{MAX_ARRAY_ITEMS}`", len(value))

    related = []
    for index, item in enumerate(value):
        page_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(page_id, str):
            raise body_error(f"{path}[{index}].id", "a string", item)
        if not page_exists(page_id):
            raise ApiError(
                400,
                "validation_error",
                f"Could not find page with ID: {page_id} in relation {prop['name']}.",
            )
        related.append({"id": page_id})
    return related


_VALUE_PARSERS: dict[str, Callable[[dict[str, Any], Any, str, Any], Any]] = {
    "title": _parse_text,
    "rich_text": _parse_text,
    "number": _parse_number,
    "url": _parse_string,
    "email": _parse_string,
    "phone_number": _parse_string,
    "checkbox": _parse_checkbox,
    "date": _parse_date,
    "select": _parse_select,
    "multi_select": _parse_multi_select,
    "relation": _parse_relation,
}


def text_items(text: str) -> list[dict[str, Any]]:
    """Return `text` as one rich-text item in response shape (or none when empty)."""
    if not text:
        return []
    return [_parse_rich_text_item({"text": {"content": text}}, "text")]


def plain_text(items: list[dict[str, Any]]) -> str:
    """Return the concatenated plain text of rich-text items."""
    return "".join(item.get("plain_text", "") for item in items)


class _Missing:
    """Marker for a key absent from a request body (shown as `undefined`)."""


_MISSING: Any = _Missing()
