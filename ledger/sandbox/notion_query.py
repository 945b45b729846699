"""Notion sandbox: data-source query filters and sorts.

Supported: property filters for text-like, number, checkbox, date, select,
multi_select and relation properties, created_time and last_edited_time timestamp
filters, and `and`/`or` compounds nested at most two levels, as the API allows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ledger.sandbox.notion_schema import ApiError, body_error, parse_instant, plain_text

# The rich_text condition applies to every text-like property type.
TEXT_LIKE = {"title", "rich_text", "url", "email", "phone_number"}
MAX_NESTING = 2


class Row(Protocol):
    """The parts of a page that filters and sorts read."""

    values: dict[str, Any]  # property id -> stored value
    created_time: datetime
    last_edited_time: datetime


Predicate = Callable[[Row], bool]
Resolve = Callable[[str], dict[str, Any]]  # property name or id -> schema property


def compile_filter(filter: Any, resolve: Resolve, depth: int = 0) -> Predicate:
    """Validate a query filter and return a predicate over rows."""
    if not isinstance(filter, dict):
        raise body_error("body.filter", "an object", filter)

    for operator, combine in (("and", all), ("or", any)):
        if operator in filter:
            return _compile_compound(filter, operator, combine, resolve, depth)

    if "timestamp" in filter:
        return _compile_timestamp(filter)

    if "property" in filter:
        return _compile_property(filter, resolve)

    raise body_error("body.filter", "a property, timestamp, and or or filter", filter)


def _compile_compound(
    filter: dict[str, Any],
    operator: str,
    combine: Callable[[Any], bool],
    resolve: Resolve,
    depth: int,
) -> Predicate:
    if depth >= MAX_NESTING:
        raise ApiError(
            400,
            "validation_error",
            "body failed validation: body.filter can be nested at most "
            f"{MAX_NESTING} levels deep.",
        )

    parts = filter[operator]
    if not isinstance(parts, list):
        raise body_error(f"body.filter.{operator}", "an array", parts)

    predicates = [compile_filter(part, resolve, depth + 1) for part in parts]
    return lambda row: combine(predicate(row) for predicate in predicates)


def _compile_timestamp(filter: dict[str, Any]) -> Predicate:
    name = filter["timestamp"]
    if name not in ("created_time", "last_edited_time"):
        raise body_error(
            "body.filter.timestamp", "`created_time` or `last_edited_time`", name
        )

    condition = filter.get(name)
    test = _date_test(condition, f"body.filter.{name}")
    return lambda row: test(getattr(row, name))


def _compile_property(filter: dict[str, Any], resolve: Resolve) -> Predicate:
    prop = resolve(filter["property"])
    kinds = [key for key in filter if key not in ("property", "type")]
    if len(kinds) != 1:
        raise body_error("body.filter", "one condition per property filter", filter)

    kind = kinds[0]
    condition = filter[kind]
    path = f"body.filter.{kind}"
    if kind != prop["type"] and not (kind == "rich_text" and prop["type"] in TEXT_LIKE):
        raise ApiError(
            400,
            "validation_error",
            f"body failed validation: filter type {kind} does not match property "
            f"{prop['name']} of type {prop['type']}.",
        )

    prop_id, prop_type = prop["id"], prop["type"]
    if prop_type in TEXT_LIKE:
        text_test = _text_test(condition, path)
        return lambda row: text_test(_as_text(row.values.get(prop_id)))

    if prop_type in ("date", "created_time", "last_edited_time"):
        date_test = _date_test(condition, path)
        return lambda row: date_test(_date_start(row, prop_id, prop_type))

    return _compile_other(prop_type, prop_id, condition, path)


def _compile_other(
    prop_type: str, prop_id: str, condition: Any, path: str
) -> Predicate:
    if prop_type == "number":
        number_test = _number_test(condition, path)
        return lambda row: number_test(row.values.get(prop_id))

    if prop_type == "checkbox":
        operator, expected = _single(condition, {"equals", "does_not_equal"}, path)
        return lambda row: (
            (bool(row.values.get(prop_id)) == expected) == (operator == "equals")
        )

    if prop_type in ("select", "multi_select", "relation"):
        member_test = _membership_test(prop_type, condition, path)
        return lambda row: member_test(row.values.get(prop_id))

    raise ApiError(400, "validation_error", f"The sandbox cannot filter {prop_type}.")


def _single(condition: Any, operators: set[str], path: str) -> tuple[str, Any]:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise body_error(path, "an object with one condition", condition)

    operator, value = next(iter(condition.items()))
    if operator not in operators:
        raise body_error(f"{path}.{operator}", "not present", value)
    return operator, value


def _text_test(condition: Any, path: str) -> Callable[[str], bool]:
    operators = {
        "equals": lambda text, value: text == value,
        "does_not_equal": lambda text, value: text != value,
        "contains": lambda text, value: value in text,
        "does_not_contain": lambda text, value: value not in text,
        "starts_with": lambda text, value: text.startswith(value),
        "ends_with": lambda text, value: text.endswith(value),
        "is_empty": lambda text, value: text == "",
        "is_not_empty": lambda text, value: text != "",
    }
    operator, value = _single(condition, set(operators), path)
    if operator in ("is_empty", "is_not_empty"):
        if value is not True:
            raise body_error(f"{path}.{operator}", "`true`", value)
    elif not isinstance(value, str):
        raise body_error(f"{path}.{operator}", "a string", value)

    compare = operators[operator]
    return lambda text: compare(text, value)


def _number_test(condition: Any, path: str) -> Callable[[Any], bool]:
    operators = {
        "equals": lambda number, value: number == value,
        "does_not_equal": lambda number, value: number != value,
        "greater_than": lambda number, value: number > value,
        "less_than": lambda number, value: number < value,
        "greater_than_or_equal_to": lambda number, value: number >= value,
        "less_than_or_equal_to": lambda number, value: number <= value,
    }
    operator, value = _single(condition, {*operators, "is_empty", "is_not_empty"}, path)
    if operator in ("is_empty", "is_not_empty"):
        wants_empty = operator == "is_empty"
        return lambda number: (number is None) == wants_empty

    if isinstance(value, bool) or not isinstance(value, int | float):
        raise body_error(f"{path}.{operator}", "a number", value)

    compare = operators[operator]
    return lambda number: number is not None and compare(number, value)


def _date_test(condition: Any, path: str) -> Callable[[datetime | None], bool]:
    """Compare ISO dates; a date-only filter value compares calendar days in UTC."""
    comparisons = {
        "equals": lambda left, right: left == right,
        "before": lambda left, right: left < right,
        "after": lambda left, right: left > right,
        "on_or_before": lambda left, right: left <= right,
        "on_or_after": lambda left, right: left >= right,
    }
    operator, value = _single(
        condition, {*comparisons, "is_empty", "is_not_empty"}, path
    )
    if operator in ("is_empty", "is_not_empty"):
        wants_empty = operator == "is_empty"
        return lambda start: (start is None) == wants_empty

    # NOTE: relative values such as "today" or "past_week" are not supported.
    target, date_only = parse_instant(value, f"{path}.{operator}")
    compare = comparisons[operator]

    def test(moment: datetime | None) -> bool:
        if moment is None:
            return False
        if date_only:
            return bool(compare(moment.date(), target.date()))
        return bool(compare(moment, target))

    return test


def _membership_test(
    prop_type: str, condition: Any, path: str
) -> Callable[[Any], bool]:
    if prop_type == "select":
        operators = {"equals", "does_not_equal", "is_empty", "is_not_empty"}
    else:
        operators = {"contains", "does_not_contain", "is_empty", "is_not_empty"}
    operator, value = _single(condition, operators, path)
    key = "name" if prop_type != "relation" else "id"

    def members(stored: Any) -> list[Any]:
        if isinstance(stored, list):
            return [item[key] for item in stored]
        return [stored[key]] if stored else []

    tests: dict[str, Callable[[list[Any]], bool]] = {
        "equals": lambda found: value in found,
        "does_not_equal": lambda found: value not in found,
        "contains": lambda found: value in found,
        "does_not_contain": lambda found: value not in found,
        "is_empty": lambda found: not found,
        "is_not_empty": lambda found: bool(found),
    }
    test = tests[operator]
    return lambda stored: test(members(stored))


def _as_text(stored: Any) -> str:
    if isinstance(stored, list):
        return plain_text(stored)
    return stored or ""


def _date_start(row: Row, prop_id: str, prop_type: str) -> datetime | None:
    if prop_type == "created_time":
        return row.created_time
    if prop_type == "last_edited_time":
        return row.last_edited_time

    stored = row.values.get(prop_id)
    return parse_instant(stored["start"], "start")[0] if stored else None


# Sorts


def sort_rows(rows: list[Any], sorts: Any, resolve: Resolve) -> list[Any]:
    """Return `rows` ordered by `sorts`; empty values go last in either direction."""
    if not isinstance(sorts, list):
        raise body_error("body.sorts", "an array", sorts)

    ordered = list(rows)
    # Stable sorts applied from the last key to the first give a multi-key order.
    for index, sort in reversed(list(enumerate(sorts))):
        key, descending = _sort_key(sort, resolve, f"body.sorts[{index}]")
        present = [row for row in ordered if key(row) is not None]
        empty = [row for row in ordered if key(row) is None]
        ordered = sorted(present, key=key, reverse=descending) + empty
    return ordered


def _sort_key(
    sort: Any, resolve: Resolve, path: str
) -> tuple[Callable[[Any], Any], bool]:
    if not isinstance(sort, dict):
        raise body_error(path, "an object", sort)

    direction = sort.get("direction", "ascending")
    if direction not in ("ascending", "descending"):
        raise body_error(f"{path}.direction", "`ascending` or `descending`", direction)
    descending = direction == "descending"

    if "timestamp" in sort:
        name = sort["timestamp"]
        if name not in ("created_time", "last_edited_time"):
            raise body_error(
                f"{path}.timestamp", "`created_time` or `last_edited_time`", name
            )
        return (lambda row: getattr(row, name)), descending

    if "property" not in sort:
        raise body_error(path, "an object with a property or timestamp", sort)

    prop = resolve(sort["property"])
    return (lambda row: _sortable(prop, row)), descending


def _sortable(prop: dict[str, Any], row: Row) -> Any:
    stored = row.values.get(prop["id"])
    kind = prop["type"]
    if kind in TEXT_LIKE:
        text = _as_text(stored)
        return text or None
    if kind == "date":
        return parse_instant(stored["start"], "start")[0] if stored else None
    if kind == "select":
        return stored["name"] if stored else None
    if kind in ("created_time", "last_edited_time"):
        return getattr(row, kind)
    if kind in ("multi_select", "relation"):
        return len(stored or []) or None
    return stored
