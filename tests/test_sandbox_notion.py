"""The Notion sandbox over raw HTTP: validation, queries, faults and rate limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from ledger.notion.text import number_value, rich_text_value, title_value
from ledger.sandbox.notion import NotionSandbox
from tests.notion_fixtures import (  # noqa: F401 (fixtures register on import)
    NOTION_SANDBOX_TOKEN,
    PRODUCTS_SCHEMA,
    product_properties,
    products_table_fixture,
)

HEADERS = {
    "Authorization": f"Bearer {NOTION_SANDBOX_TOKEN}",
    "Notion-Version": "2025-09-03",
    "Content-Type": "application/json",
}


def call(
    sandbox: NotionSandbox,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> requests.Response:
    """Send one request to the sandbox without the client's retries."""
    if data is None and body is not None:
        data = json.dumps(body).encode()
    return requests.request(
        method, sandbox.url + path, data=data, headers=headers or HEADERS, timeout=5
    )


def create_row(
    sandbox: NotionSandbox, source_id: str, properties: Any
) -> requests.Response:
    body = {"parent": {"data_source_id": source_id}, "properties": properties}
    return call(sandbox, "POST", "/v1/pages", body)


def query(sandbox: NotionSandbox, source_id: str, **body: Any) -> requests.Response:
    return call(sandbox, "POST", f"/v1/data_sources/{source_id}/query", body)


@pytest.fixture(name="notion_sandbox")
def unthrottled_sandbox() -> Iterator[NotionSandbox]:
    """An unthrottled sandbox: these tests send raw requests without client pacing."""
    with NotionSandbox(token=NOTION_SANDBOX_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def source_id(products_table: tuple[str, str]) -> str:
    return products_table[1]


# Headers and error shape


def test_missing_version_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "Notion-Version"}

    response = call(
        notion_sandbox, "GET", f"/v1/data_sources/{source_id}", headers=headers
    )

    assert response.status_code == 400
    assert response.json()["code"] == "missing_version"


def test_bad_token_unauthorized(notion_sandbox: NotionSandbox, source_id: str) -> None:
    headers = HEADERS | {"Authorization": "Bearer wrong"}

    response = call(
        notion_sandbox, "GET", f"/v1/data_sources/{source_id}", headers=headers
    )

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_error_carries_request_id(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    response = create_row(notion_sandbox, source_id, {"Nope": title_value("x")})
    body = response.json()

    assert body["object"] == "error"
    assert body["status"] == 400
    assert body["request_id"] == response.headers["x-notion-request-id"]


def test_invalid_json_rejected(notion_sandbox: NotionSandbox) -> None:
    response = call(notion_sandbox, "POST", "/v1/pages", data=b"{not json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_nan_is_invalid_json(notion_sandbox: NotionSandbox, source_id: str) -> None:
    raw = json.dumps(
        {
            "parent": {"data_source_id": source_id},
            "properties": {"Price": {"number": 1}},
        }
    ).replace("1}", "NaN}")

    response = call(notion_sandbox, "POST", "/v1/pages", data=raw.encode())

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_unknown_route_rejected(notion_sandbox: NotionSandbox) -> None:
    response = call(notion_sandbox, "GET", "/v1/blocks/abc")

    assert response.json()["code"] == "invalid_request_url"


def test_malformed_path_id_rejected(notion_sandbox: NotionSandbox) -> None:
    response = call(notion_sandbox, "GET", "/v1/pages/not-an-id")

    assert response.status_code == 400
    assert "path.page_id should be a valid uuid" in response.json()["message"]


# Property validation


def test_archived_key_rejected(notion_sandbox: NotionSandbox, source_id: str) -> None:
    page_id = notion_sandbox.add_page(source_id, product_properties("A", "p1"))

    response = call(notion_sandbox, "PATCH", f"/v1/pages/{page_id}", {"archived": True})

    assert response.status_code == 400
    assert response.json()["message"] == (
        "body failed validation: body.archived should be not present, "
        "instead was `true`."
    )


def test_archived_in_query_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    response = query(notion_sandbox, source_id, archived=False)

    assert response.status_code == 400
    assert "body.archived should be not present" in response.json()["message"]


def test_text_over_2000_units_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    # 1999 letters and one emoji: 2000 code points but 2001 UTF-16 code units.
    long_key = {"text": {"content": "a" * 1999 + "\U0001f600"}}

    response = create_row(notion_sandbox, source_id, {"id": {"rich_text": [long_key]}})

    assert response.status_code == 400
    assert response.json()["message"] == (
        "body failed validation: body.properties.id.rich_text[0].text.content.length "
        "should be ≤ `2000`, instead was `2001`."
    )


def test_text_of_2000_units_accepted(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    response = create_row(
        notion_sandbox, source_id, {"id": rich_text_value("a" * 2000)}
    )

    assert response.status_code == 200


def test_more_than_100_items_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    items = [{"text": {"content": "x"}}] * 101

    response = create_row(notion_sandbox, source_id, {"id": {"rich_text": items}})

    assert response.status_code == 400
    assert "rich_text.length should be ≤ `100`" in response.json()["message"]


def test_url_over_2000_rejected(notion_sandbox: NotionSandbox, source_id: str) -> None:
    url = "https://example.com/" + "p" * 2000

    response = create_row(notion_sandbox, source_id, {"Link": {"url": url}})

    assert response.status_code == 400
    assert "Link.url.length" in response.json()["message"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"number": "5"}, id="number-as-string"),
        pytest.param({"number": True}, id="number-as-bool"),
        pytest.param({"rich_text": "p1"}, id="text-not-array"),
        pytest.param({"title": [{"text": {"content": "x"}}]}, id="wrong-type-key"),
    ],
)
def test_wrong_value_shape_rejected(
    notion_sandbox: NotionSandbox, source_id: str, value: dict[str, Any]
) -> None:
    key = "Price" if "number" in value else "id"

    response = create_row(notion_sandbox, source_id, {key: value})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_number_overflowing_double_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    raw = json.dumps(
        {
            "parent": {"data_source_id": source_id},
            "properties": {"Price": {"number": 7}},
        }
    ).replace("7}", "1e400}")

    response = call(notion_sandbox, "POST", "/v1/pages", data=raw.encode())

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_unknown_property_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    response = create_row(notion_sandbox, source_id, {"Revenue": number_value(1)})

    assert response.json()["message"] == "Revenue is not a property that exists."


def test_property_addressed_by_id(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    price_id = notion_sandbox.data_source(source_id)["properties"]["Price"]["id"]

    response = create_row(notion_sandbox, source_id, {price_id: number_value(4)})

    assert response.json()["properties"]["Price"]["number"] == 4


def test_relation_to_missing_page_rejected(notion_sandbox: NotionSandbox) -> None:
    parent = notion_sandbox.create_parent_page()
    schema = {"Name": {"title": {}}, "Product": {"relation": {"data_source_id": "x"}}}
    _, daily = notion_sandbox.create_database(parent, "Daily", schema)
    missing = "00000000-0000-4000-8000-000000000000"

    response = create_row(
        notion_sandbox, daily, {"Product": {"relation": [{"id": missing}]}}
    )

    assert response.status_code == 400
    assert missing in response.json()["message"]


def test_relation_to_existing_page_stored(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    product = notion_sandbox.add_page(source_id, product_properties("A", "p1"))
    parent = notion_sandbox.create_parent_page()
    schema = {
        "Name": {"title": {}},
        "Product": {"relation": {"data_source_id": source_id}},
    }
    _, daily = notion_sandbox.create_database(parent, "Daily", schema)

    response = create_row(
        notion_sandbox, daily, {"Product": {"relation": [{"id": product}]}}
    )

    assert response.json()["properties"]["Product"]["relation"] == [{"id": product}]


# Page objects


def test_page_object_has_notion_shape(
    notion_sandbox: NotionSandbox, source_id: str, products_table: tuple[str, str]
) -> None:
    body = {
        "parent": {"type": "data_source_id", "data_source_id": source_id},
        "properties": product_properties("Ebook", "p1", 12.5),
        "cover": {"type": "external", "external": {"url": "https://img.example/c.png"}},
    }

    page = call(notion_sandbox, "POST", "/v1/pages", body).json()

    assert page["object"] == "page"
    assert page["parent"] == {
        "type": "data_source_id",
        "data_source_id": source_id,
        "database_id": products_table[0],
    }
    assert page["in_trash"] is False
    assert page["archived"] is False
    assert page["cover"]["external"]["url"] == "https://img.example/c.png"
    assert page["properties"]["Name"]["title"][0]["plain_text"] == "Ebook"
    assert page["properties"]["Price"] == {
        "id": page["properties"]["Price"]["id"],
        "type": "number",
        "number": 12.5,
    }
    assert page["properties"]["Sales Count"]["number"] is None


def test_database_id_parent_accepted(
    notion_sandbox: NotionSandbox, products_table: tuple[str, str]
) -> None:
    body = {"parent": {"database_id": products_table[0]}, "properties": {}}

    response = call(notion_sandbox, "POST", "/v1/pages", body)

    assert response.json()["parent"]["data_source_id"] == products_table[1]


def test_database_id_parent_needs_single_source(
    notion_sandbox: NotionSandbox, products_table: tuple[str, str]
) -> None:
    notion_sandbox.add_data_source(products_table[0], {"Name": {"title": {}}})
    body = {"parent": {"database_id": products_table[0]}, "properties": {}}

    response = call(notion_sandbox, "POST", "/v1/pages", body)

    assert response.status_code == 400


def test_created_time_strictly_increases(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    for index in range(5):
        create_row(
            notion_sandbox, source_id, product_properties(f"P{index}", f"p{index}")
        )

    times = [page["created_time"] for page in notion_sandbox.pages(source_id)]

    assert times == sorted(set(times))
    assert len(times) == 5


def test_add_page_keeps_explicit_created_time(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    page_id = notion_sandbox.add_page(source_id, {}, created_time=when)

    assert notion_sandbox.page(page_id)["created_time"] == "2026-03-01T12:00:00.000Z"


def test_add_page_rejects_invalid_properties(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    with pytest.raises(ValueError, match="not a property that exists"):
        notion_sandbox.add_page(source_id, {"Nope": title_value("x")})


# Trash


def test_trashed_page_edit_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    page_id = notion_sandbox.add_page(source_id, product_properties("A", "p1"))
    notion_sandbox.trash_page(page_id)

    response = call(
        notion_sandbox,
        "PATCH",
        f"/v1/pages/{page_id}",
        {"properties": {"Price": number_value(2)}},
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "Can't edit block that is archived. "
        "You must unarchive the block before editing."
    )


def test_trashed_page_restored(notion_sandbox: NotionSandbox, source_id: str) -> None:
    page_id = notion_sandbox.add_page(source_id, product_properties("A", "p1"))
    notion_sandbox.trash_page(page_id)

    response = call(
        notion_sandbox, "PATCH", f"/v1/pages/{page_id}", {"in_trash": False}
    )

    assert response.json()["in_trash"] is False


def test_query_excludes_trashed_pages(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    kept = notion_sandbox.add_page(source_id, product_properties("A", "p1"))
    notion_sandbox.trash_page(
        notion_sandbox.add_page(source_id, product_properties("B", "p2"))
    )

    results = query(notion_sandbox, source_id).json()["results"]

    assert [page["id"] for page in results] == [kept]


def test_trashed_page_still_readable(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    page_id = notion_sandbox.add_page(source_id, product_properties("A", "p1"))
    notion_sandbox.trash_page(page_id)

    page = call(notion_sandbox, "GET", f"/v1/pages/{page_id}").json()

    assert page["in_trash"] is True
    assert page["archived"] is True


# Sharing


def test_unshared_database_not_found(
    notion_sandbox: NotionSandbox, products_table: tuple[str, str]
) -> None:
    database_id, source_id = products_table
    notion_sandbox.unshare(database_id)

    response = call(notion_sandbox, "POST", f"/v1/data_sources/{source_id}/query", {})

    assert response.status_code == 404
    assert response.json()["code"] == "object_not_found"
    assert "shared with your integration" in response.json()["message"]


def test_database_created_unshared_then_shared(notion_sandbox: NotionSandbox) -> None:
    parent = notion_sandbox.create_parent_page()
    database_id, _ = notion_sandbox.create_database(
        parent, "Mine", {"Name": {"title": {}}}, shared=False
    )
    hidden = call(notion_sandbox, "GET", f"/v1/databases/{database_id}").status_code

    notion_sandbox.share(database_id)

    assert hidden == 404
    assert (
        call(notion_sandbox, "GET", f"/v1/databases/{database_id}").status_code == 200
    )


def test_deleted_database_not_found(
    notion_sandbox: NotionSandbox, products_table: tuple[str, str]
) -> None:
    notion_sandbox.delete_database(products_table[0])

    response = call(notion_sandbox, "GET", f"/v1/data_sources/{products_table[1]}")

    assert response.status_code == 404


# Databases and data sources


def test_database_lists_data_sources(
    notion_sandbox: NotionSandbox, products_table: tuple[str, str]
) -> None:
    database_id, first = products_table
    second = notion_sandbox.add_data_source(database_id, {"Title": {"title": {}}})

    database = call(notion_sandbox, "GET", f"/v1/databases/{database_id}").json()

    assert [source["id"] for source in database["data_sources"]] == [first, second]
    assert "properties" not in database


def test_create_database_needs_one_title(notion_sandbox: NotionSandbox) -> None:
    parent = notion_sandbox.create_parent_page()
    body = {
        "parent": {"type": "page_id", "page_id": parent},
        "title": [{"text": {"content": "Daily"}}],
        "initial_data_source": {"properties": {"Key": {"rich_text": {}}}},
    }

    response = call(notion_sandbox, "POST", "/v1/databases", body)

    assert response.status_code == 400


def test_schema_update_adds_renames_removes(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    changes = {
        "Revenue": {"number": {"format": "dollar"}},
        "Link": {"name": "URL"},
        "Last Change": None,
    }

    schema = call(
        notion_sandbox,
        "PATCH",
        f"/v1/data_sources/{source_id}",
        {"properties": changes},
    ).json()["properties"]

    assert schema["Revenue"]["number"]["format"] == "dollar"
    assert schema["URL"]["type"] == "url"
    assert "Link" not in schema
    assert "Last Change" not in schema


def test_title_property_cannot_be_removed(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    body = {"properties": {"Name": None}}

    response = call(notion_sandbox, "PATCH", f"/v1/data_sources/{source_id}", body)

    assert response.status_code == 400


def test_set_property_type_clears_values(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    page_id = notion_sandbox.add_page(source_id, product_properties("A", "p1"))

    notion_sandbox.set_property_type(source_id, "id", "number")

    assert notion_sandbox.page(page_id)["properties"]["id"] == {
        "id": notion_sandbox.data_source(source_id)["properties"]["id"]["id"],
        "type": "number",
        "number": None,
    }


# Queries


def test_query_pages_through_cursor(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    for index in range(130):
        notion_sandbox.add_page(source_id, product_properties(f"P{index}", f"p{index}"))

    first = query(notion_sandbox, source_id).json()
    second = query(notion_sandbox, source_id, start_cursor=first["next_cursor"]).json()

    assert len(first["results"]) == 100
    assert first["has_more"] is True
    assert len(second["results"]) == 30
    assert second["has_more"] is False
    assert second["next_cursor"] is None


def test_query_page_size_over_100_rejected(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    response = query(notion_sandbox, source_id, page_size=101)

    assert response.status_code == 400


def test_query_stops_at_result_limit() -> None:
    with NotionSandbox(token=NOTION_SANDBOX_TOKEN, query_result_limit=25) as sandbox:
        parent = sandbox.create_parent_page()
        _, source = sandbox.create_database(parent, "Products", PRODUCTS_SCHEMA)
        for index in range(30):
            sandbox.add_page(source, product_properties(f"P{index}", f"p{index}"))

        first = query(sandbox, source, page_size=20).json()
        last = query(
            sandbox, source, page_size=20, start_cursor=first["next_cursor"]
        ).json()

    assert len(last["results"]) == 5
    assert last["has_more"] is False
    assert last["request_status"] == {
        "type": "incomplete",
        "incomplete_reason": "query_result_limit_reached",
    }
    assert "request_status" not in first


DAY = datetime(2026, 10, 8, 9, 30, tzinfo=UTC)


@pytest.fixture
def filter_rows(notion_sandbox: NotionSandbox) -> str:
    """A data source with four rows A-D and fixed created times, one hour apart."""
    parent = notion_sandbox.create_parent_page()
    _, source = notion_sandbox.create_database(parent, "Products", PRODUCTS_SCHEMA)
    rows = [
        ("A", "prod_a|2026-10-07", 5, "2026-10-07"),
        ("B", "prod_b|2026-10-08", 10, "2026-10-08"),
        ("C", "", None, "2026-10-09"),
        ("D", "prod_d|2026-10-08", 20, None),
    ]
    for offset, (name, key, price, day) in enumerate(rows):
        properties = product_properties(name, key, price)
        properties["Last Change"] = {"date": {"start": day} if day else None}
        notion_sandbox.add_page(
            source, properties, created_time=DAY + timedelta(hours=offset)
        )
    return source


FILTERS = [
    pytest.param(
        {"property": "id", "rich_text": {"equals": "prod_b|2026-10-08"}},
        "B",
        id="rich-text-equals",
    ),
    pytest.param(
        {"property": "id", "rich_text": {"contains": "2026-10-08"}},
        "BD",
        id="rich-text-contains",
    ),
    pytest.param(
        {"property": "id", "rich_text": {"is_empty": True}},
        "C",
        id="rich-text-is-empty",
    ),
    pytest.param(
        {"property": "Name", "title": {"equals": "D"}}, "D", id="title-equals"
    ),
    pytest.param(
        {"property": "Price", "number": {"greater_than": 5}},
        "BD",
        id="number-greater-than",
    ),
    pytest.param(
        {"property": "Price", "number": {"is_empty": True}}, "C", id="number-is-empty"
    ),
    pytest.param(
        {"property": "Last Change", "date": {"on_or_after": "2026-10-08"}},
        "BC",
        id="date-on-or-after",
    ),
    pytest.param(
        {"property": "Last Change", "date": {"equals": "2026-10-08"}},
        "B",
        id="date-equals",
    ),
    pytest.param(
        {
            "timestamp": "created_time",
            "created_time": {"on_or_after": "2026-10-08T10:30:00Z"},
        },
        "BCD",
        id="created-on-or-after",
    ),
    pytest.param(
        {
            "timestamp": "created_time",
            "created_time": {"after": "2026-10-08T10:30:00Z"},
        },
        "CD",
        id="created-after",
    ),
    pytest.param(
        {
            "and": [
                {"property": "Price", "number": {"greater_than": 5}},
                {"property": "id", "rich_text": {"contains": "prod_d"}},
            ]
        },
        "D",
        id="and",
    ),
    pytest.param(
        {
            "or": [
                {"property": "Name", "title": {"equals": "A"}},
                {"and": [{"property": "Price", "number": {"is_empty": True}}]},
            ]
        },
        "AC",
        id="or-with-nested-and",
    ),
]


@pytest.mark.parametrize(("filter", "expected"), FILTERS)
def test_query_filter_matches(
    notion_sandbox: NotionSandbox,
    filter_rows: str,
    filter: dict[str, Any],
    expected: str,
) -> None:
    results = query(notion_sandbox, filter_rows, filter=filter).json()["results"]

    names = "".join(
        page["properties"]["Name"]["title"][0]["plain_text"] for page in results
    )
    assert names == expected


def test_filter_nested_three_levels_rejected(
    notion_sandbox: NotionSandbox, filter_rows: str
) -> None:
    leaf = {"property": "Name", "title": {"equals": "A"}}
    too_deep = {"and": [{"or": [{"and": [leaf]}]}]}

    response = query(notion_sandbox, filter_rows, filter=too_deep)

    assert response.status_code == 400


def test_filter_on_unknown_property_rejected(
    notion_sandbox: NotionSandbox, filter_rows: str
) -> None:
    bad = {"property": "Revenue", "number": {"equals": 1}}

    response = query(notion_sandbox, filter_rows, filter=bad)

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("sorts", "expected"),
    [
        pytest.param(
            [{"property": "Price", "direction": "descending"}],
            "DBAC",
            id="number-descending-empty-last",
        ),
        pytest.param(
            [{"timestamp": "created_time", "direction": "descending"}],
            "DCBA",
            id="created-descending",
        ),
        pytest.param(
            [{"property": "Name", "direction": "ascending"}],
            "ABCD",
            id="title-ascending",
        ),
    ],
)
def test_query_sorts(
    notion_sandbox: NotionSandbox, filter_rows: str, sorts: list[Any], expected: str
) -> None:
    results = query(notion_sandbox, filter_rows, sorts=sorts).json()["results"]

    names = "".join(
        page["properties"]["Name"]["title"][0]["plain_text"] for page in results
    )
    assert names == expected


# Faults, rate limits and the request log


def test_rate_limit_after_burst() -> None:
    with NotionSandbox(token=NOTION_SANDBOX_TOKEN, rate_limit=1, burst=2) as sandbox:
        page = sandbox.create_parent_page()
        statuses = [
            call(sandbox, "GET", f"/v1/pages/{page}").status_code for _ in range(3)
        ]
        limited = sandbox.requests[-1]

    assert statuses == [200, 200, 429]
    assert limited.status == 429


def test_rate_limited_reply_has_retry_after(notion_sandbox: NotionSandbox) -> None:
    page = notion_sandbox.create_parent_page()
    notion_sandbox.fail_next("rate_limited")

    response = call(notion_sandbox, "GET", f"/v1/pages/{page}")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["code"] == "rate_limited"


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        pytest.param("overloaded", 529, "service_overload", id="overloaded"),
        pytest.param("json_503", 503, "service_unavailable", id="json-503"),
        pytest.param("json_500", 500, "internal_server_error", id="json-500"),
        pytest.param("conflict", 409, "conflict_error", id="conflict"),
    ],
)
def test_json_fault_replies(
    notion_sandbox: NotionSandbox, kind: str, status: int, code: str
) -> None:
    page = notion_sandbox.create_parent_page()
    notion_sandbox.fail_next(kind)

    response = call(notion_sandbox, "GET", f"/v1/pages/{page}")

    assert response.status_code == status
    assert response.json()["code"] == code


def test_html_fault_reply(notion_sandbox: NotionSandbox) -> None:
    page = notion_sandbox.create_parent_page()
    notion_sandbox.fail_next("html_502")

    response = call(notion_sandbox, "GET", f"/v1/pages/{page}")

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")


def test_reset_fault_closes_connection(notion_sandbox: NotionSandbox) -> None:
    page = notion_sandbox.create_parent_page()
    notion_sandbox.fail_next("reset")

    with pytest.raises(requests.ConnectionError):
        call(notion_sandbox, "GET", f"/v1/pages/{page}")


def test_fault_matches_method_and_path(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    page = notion_sandbox.create_parent_page()
    notion_sandbox.fail_next("json_500", method="POST", path_contains="/query")

    read = call(notion_sandbox, "GET", f"/v1/pages/{page}")
    queried = query(notion_sandbox, source_id)
    again = query(notion_sandbox, source_id)

    assert read.status_code == 200
    assert queried.status_code == 500
    assert again.status_code == 200


def test_timeout_after_commit_performs_write(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    notion_sandbox.fail_next("timeout_after_commit", delay=1.0)
    body = {"parent": {"data_source_id": source_id}, "properties": {}}

    with pytest.raises(requests.Timeout):
        requests.post(
            notion_sandbox.url + "/v1/pages", json=body, headers=HEADERS, timeout=0.3
        )

    assert len(notion_sandbox.pages(source_id)) == 1


def test_write_count_counts_page_writes(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    created = create_row(
        notion_sandbox, source_id, product_properties("A", "p1")
    ).json()
    call(notion_sandbox, "PATCH", f"/v1/pages/{created['id']}", {"in_trash": True})
    query(notion_sandbox, source_id)
    call(notion_sandbox, "GET", f"/v1/pages/{created['id']}")

    assert notion_sandbox.write_count() == 2
    assert notion_sandbox.schema_write_count() == 0


def test_request_log_keeps_no_token(
    notion_sandbox: NotionSandbox, source_id: str
) -> None:
    create_row(notion_sandbox, source_id, product_properties("A", "p1"))

    assert NOTION_SANDBOX_TOKEN not in repr(notion_sandbox.requests)


def test_rejected_create_stores_no_page(notion_sandbox, products_table) -> None:  # type: ignore[no-untyped-def]
    import requests

    _database, source = products_table
    response = requests.post(
        f"{notion_sandbox.url}/v1/pages",
        headers={
            "Authorization": f"Bearer {notion_sandbox.token}",
            "Notion-Version": "2025-09-03",
        },
        json={
            "parent": {"type": "data_source_id", "data_source_id": source},
            "properties": {},
            "cover": {
                "type": "external",
                "external": {"url": "http://x/" + "c" * 2100},
            },
        },
        timeout=10,
    )

    assert response.status_code == 400
    assert notion_sandbox.pages(source) == []
