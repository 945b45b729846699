"""NotionClient against the Notion sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ledger.errors import NotionConfigError, NotionError
from ledger.notion.client import AmbiguousWriteError, NotionClient, is_trashed
from ledger.notion.text import number_value, plain_text
from ledger.sandbox.notion import NotionSandbox
from tests.notion_fixtures import (  # noqa: F401 (fixtures register on import)
    NOTION_SANDBOX_TOKEN,
    PRODUCTS_SCHEMA,
    MakeClient,
    make_notion_client_fixture,
    notion_sandbox_fixture,
    product_properties,
    products_table_fixture,
)

TRANSPORT_LOGGER = "ledger.notion.transport"
Table = tuple[str, str]


def find_key(client: NotionClient, source_id: str, key: str) -> list[dict]:
    by_key = {"property": "id", "rich_text": {"equals": key}}
    return list(client.query_data_source(source_id, filter=by_key))


# Endpoints


def test_get_database_lists_source(
    make_notion_client: MakeClient, products_table: Table
) -> None:
    database = make_notion_client().get_database(products_table[0])

    assert database["data_sources"][0]["id"] == products_table[1]


def test_resolve_single_data_source(
    make_notion_client: MakeClient, products_table: Table
) -> None:
    assert (
        make_notion_client().resolve_data_source(products_table[0]) == products_table[1]
    )


def test_resolve_rejects_two_data_sources(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    second = notion_sandbox.add_data_source(
        products_table[0], {"Name": {"title": {}}}, name="Refunds"
    )

    with pytest.raises(NotionConfigError) as raised:
        make_notion_client().resolve_data_source(products_table[0])

    message = str(raised.value)
    assert "2 data sources" in message
    assert "'Refunds'" in message
    assert second in message
    assert "exactly one" in message


def test_get_data_source_returns_schema(
    make_notion_client: MakeClient, products_table: Table
) -> None:
    source = make_notion_client().get_data_source(products_table[1])

    assert source["properties"]["Price"]["type"] == "number"
    assert source["parent"]["database_id"] == products_table[0]


def test_update_data_source_adds_property(
    make_notion_client: MakeClient, products_table: Table
) -> None:
    client = make_notion_client()

    client.update_data_source(products_table[1], {"Revenue": {"number": {}}})

    schema = client.get_data_source(products_table[1])["properties"]
    assert schema["Revenue"]["type"] == "number"
    assert schema["Price"]["type"] == "number"


def test_create_database_returns_data_source(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient
) -> None:
    parent = notion_sandbox.create_parent_page()

    database = make_notion_client().create_database(parent, "Products", PRODUCTS_SCHEMA)

    source_id = database["data_sources"][0]["id"]
    assert set(notion_sandbox.data_source(source_id)["properties"]) == set(
        PRODUCTS_SCHEMA
    )
    assert notion_sandbox.requests[-1].body["initial_data_source"] == {
        "properties": PRODUCTS_SCHEMA
    }


def test_create_page_sends_data_source_parent(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    page = make_notion_client().create_page(
        products_table[1],
        product_properties("Ebook", "prod_1", 9.5),
        cover_url="https://img.example/cover.png",
    )

    assert notion_sandbox.requests[-1].body["parent"] == {
        "type": "data_source_id",
        "data_source_id": products_table[1],
    }
    assert plain_text(page["properties"]["id"]) == "prod_1"
    assert page["cover"]["external"]["url"] == "https://img.example/cover.png"


def test_get_page_returns_page(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    page_id = notion_sandbox.add_page(products_table[1], product_properties("A", "p1"))

    assert make_notion_client().get_page(page_id)["id"] == page_id


def test_update_page_changes_listed_property(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    page_id = notion_sandbox.add_page(
        products_table[1], product_properties("A", "p1", 5)
    )

    page = make_notion_client().update_page(
        page_id, properties={"Price": number_value(7)}
    )

    assert page["properties"]["Price"]["number"] == 7
    assert plain_text(page["properties"]["Name"]) == "A"


def test_update_page_trashes_with_in_trash(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    page_id = notion_sandbox.add_page(products_table[1], product_properties("A", "p1"))

    page = make_notion_client().update_page(page_id, in_trash=True)

    assert notion_sandbox.requests[-1].body == {"in_trash": True}
    assert is_trashed(page)


def test_update_page_needs_a_change(make_notion_client: MakeClient) -> None:
    with pytest.raises(ValueError):
        make_notion_client().update_page("1a2b3c4d5e6f47808192a3b4c5d6e7f8")


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        pytest.param({"in_trash": True}, True, id="in-trash"),
        pytest.param({"archived": True}, True, id="archived-only"),
        pytest.param({"in_trash": False, "archived": False}, False, id="neither"),
    ],
)
def test_is_trashed_reads_both_flags(page: dict, expected: bool) -> None:
    assert is_trashed(page) is expected


def test_number_nan_rejected_before_sending(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    with pytest.raises(ValueError, match="NaN"):
        make_notion_client().create_page(
            products_table[1], {"Price": {"number": math.nan}}
        )

    assert notion_sandbox.requests == []


# Queries


def test_query_follows_cursor(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    for index in range(130):
        notion_sandbox.add_page(
            products_table[1], product_properties(f"P{index}", f"p{index}")
        )

    result = make_notion_client().query_data_source(products_table[1])
    pages = list(result)

    assert len(pages) == 130
    assert len({page["id"] for page in pages}) == 130
    assert len(notion_sandbox.requests) == 2
    assert result.incomplete is False


def test_query_filter_finds_key(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.add_page(
        products_table[1], product_properties("A", "prod_1|2026-10-08")
    )
    wanted = notion_sandbox.add_page(
        products_table[1], product_properties("B", "prod_2|2026-10-08")
    )

    pages = find_key(make_notion_client(), products_table[1], "prod_2|2026-10-08")

    assert [page["id"] for page in pages] == [wanted]


def test_query_sends_sorts(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    for price in (5, 20, 10):
        notion_sandbox.add_page(products_table[1], product_properties("P", "p", price))
    sorts = [{"property": "Price", "direction": "descending"}]

    pages = make_notion_client().query_data_source(products_table[1], sorts=sorts)

    assert [page["properties"]["Price"]["number"] for page in pages] == [20, 10, 5]


Capped = tuple[NotionSandbox, str]


@pytest.fixture
def capped() -> Iterator[Capped]:
    """A sandbox whose queries stop after 25 rows, and a data source of 60 rows."""
    with NotionSandbox(token=NOTION_SANDBOX_TOKEN, query_result_limit=25) as sandbox:
        parent = sandbox.create_parent_page()
        _, source = sandbox.create_database(parent, "Products", PRODUCTS_SCHEMA)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for index in range(60):
            sandbox.add_page(
                source,
                product_properties(f"P{index}", f"p{index}"),
                created_time=start + timedelta(seconds=index),
            )
        yield sandbox, source


def unpaced_client(sandbox: NotionSandbox) -> NotionClient:
    return NotionClient(sandbox.url, NOTION_SANDBOX_TOKEN, requests_per_second=None)


def test_query_reports_result_limit(capped: Capped) -> None:
    sandbox, source = capped

    result = unpaced_client(sandbox).query_data_source(source, page_size=10)
    pages = list(result)

    assert len(pages) == 25
    assert result.incomplete is True
    assert result.last_created_time == pages[-1]["created_time"]


def test_query_all_windows_past_limit(capped: Capped) -> None:
    sandbox, source = capped

    pages = list(unpaced_client(sandbox).query_all(source))

    expected = [page["id"] for page in sandbox.pages(source)]
    assert [page["id"] for page in pages] == expected


def test_query_all_keeps_caller_filter(capped: Capped) -> None:
    sandbox, source = capped
    odd = {"or": [{"property": "id", "rich_text": {"ends_with": d}} for d in "13579"]}

    pages = list(unpaced_client(sandbox).query_all(source, filter=odd))

    assert len(pages) == 30
    assert all(plain_text(page["properties"]["id"])[-1] in "13579" for page in pages)


def test_query_all_reads_10001_rows() -> None:
    with NotionSandbox(token=NOTION_SANDBOX_TOKEN) as sandbox:
        parent = sandbox.create_parent_page()
        _, source = sandbox.create_database(parent, "Daily", {"Name": {"title": {}}})
        for _ in range(10_001):
            sandbox.add_page(source, {})
        single = unpaced_client(sandbox).query_data_source(source)
        single_count = sum(1 for _ in single)

        everything = list(unpaced_client(sandbox).query_all(source))

    assert single_count == 10_000
    assert single.incomplete is True
    assert len({page["id"] for page in everything}) == 10_001


# Rate limits: Retry-After is honoured


@pytest.mark.parametrize("kind", ["rate_limited", "overloaded"])
def test_rejected_read_waits_retry_after(
    notion_sandbox: NotionSandbox,
    make_notion_client: MakeClient,
    products_table: Table,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=TRANSPORT_LOGGER)
    notion_sandbox.fail_next(kind)

    make_notion_client().get_data_source(products_table[1])

    first, second = notion_sandbox.requests
    assert second.time - first.time >= 1.0
    assert second.status == 200
    assert "retry 1 of 3" in caplog.text


def test_rate_limited_create_retried_once(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.fail_next("rate_limited", method="POST")

    make_notion_client().create_page(products_table[1], product_properties("A", "p1"))

    assert len(notion_sandbox.pages(products_table[1])) == 1
    assert notion_sandbox.write_count() == 2


def test_retry_after_beyond_maximum_not_resent(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.retry_after = 30
    notion_sandbox.fail_next("rate_limited")
    started = time.monotonic()

    with pytest.raises(NotionError) as raised:
        make_notion_client(max_retry_after=0.2).get_data_source(products_table[1])

    assert time.monotonic() - started < 2.0
    assert len(notion_sandbox.requests) == 1
    assert raised.value.status == 429
    assert "asked to wait 30 s" in str(raised.value)


def test_rate_limit_exhausts_retries(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.retry_after = 0
    notion_sandbox.fail_next("rate_limited", times=3)

    with pytest.raises(NotionError) as raised:
        make_notion_client(max_retries=1).get_data_source(products_table[1])

    assert raised.value.status == 429
    assert raised.value.transient is True
    assert len(notion_sandbox.requests) == 2


# Server errors and timeouts


@pytest.mark.parametrize(
    "kind", ["html_502", "json_503", "json_500", "conflict", "reset"]
)
def test_update_retried_after_failure(
    notion_sandbox: NotionSandbox,
    make_notion_client: MakeClient,
    products_table: Table,
    kind: str,
) -> None:
    page_id = notion_sandbox.add_page(
        products_table[1], product_properties("A", "p1", 1)
    )
    notion_sandbox.fail_next(kind)

    page = make_notion_client().update_page(
        page_id, properties={"Price": number_value(2)}
    )

    assert page["properties"]["Price"]["number"] == 2
    assert notion_sandbox.write_count() == 2


def test_read_retried_after_timeout(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.fail_next("timeout_before", delay=1.0)

    source = make_notion_client(timeout=0.3).get_data_source(products_table[1])

    assert source["id"] == products_table[1]
    assert len(notion_sandbox.requests) == 2


def test_html_error_names_status_not_body(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.fail_next("html_502")

    with pytest.raises(NotionError) as raised:
        make_notion_client(max_retries=0).get_data_source(products_table[1])

    assert "Notion returned an HTML page (HTTP 502)" in str(raised.value)
    assert "<html" not in str(raised.value)
    assert raised.value.transient is True


def test_create_after_commit_timeout_is_ambiguous(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.fail_next("timeout_after_commit", delay=1.0)

    with pytest.raises(AmbiguousWriteError) as raised:
        make_notion_client(timeout=0.3).create_page(
            products_table[1], product_properties("A", "p1")
        )

    assert raised.value.ambiguous is True
    assert raised.value.transient is True
    assert isinstance(raised.value, NotionError)
    assert len(notion_sandbox.pages(products_table[1])) == 1
    assert notion_sandbox.write_count() == 1


def test_ambiguous_create_found_by_key(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    client = make_notion_client(timeout=0.3)
    notion_sandbox.fail_next("timeout_after_commit", delay=1.0)
    with pytest.raises(AmbiguousWriteError):
        client.create_page(products_table[1], product_properties("A", "prod_9"))

    assert len(find_key(client, products_table[1], "prod_9")) == 1


@pytest.mark.parametrize("kind", ["json_500", "json_503", "html_502", "reset"])
def test_create_not_retried_after_failure(
    notion_sandbox: NotionSandbox,
    make_notion_client: MakeClient,
    products_table: Table,
    kind: str,
) -> None:
    notion_sandbox.fail_next(kind, method="POST")

    with pytest.raises(AmbiguousWriteError):
        make_notion_client().create_page(
            products_table[1], product_properties("A", "p1")
        )

    assert notion_sandbox.write_count() == 1


def test_create_conflict_not_retried(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    notion_sandbox.fail_next("conflict", method="POST")

    with pytest.raises(NotionError) as raised:
        make_notion_client().create_page(
            products_table[1], product_properties("A", "p1")
        )

    assert raised.value.code == "conflict_error"
    assert raised.value.transient is True
    assert notion_sandbox.write_count() == 1


def test_unreachable_server_is_transient() -> None:
    sandbox = NotionSandbox()
    sandbox.start()
    url = sandbox.url
    sandbox.stop()
    client = NotionClient(url, "t", max_retries=1, backoff_base=0.01)

    with pytest.raises(NotionError) as raised:
        client.create_page("1a2b3c4d5e6f47808192a3b4c5d6e7f8", {})

    assert not isinstance(raised.value, AmbiguousWriteError)
    assert raised.value.transient is True
    assert client.stats.requests == 2


# Errors that need the user


def test_validation_error_keeps_notion_message(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    with pytest.raises(NotionError) as raised:
        make_notion_client().create_page(
            products_table[1], {"Revenue": number_value(1)}
        )

    error = raised.value
    assert "Revenue is not a property that exists." in str(error)
    assert error.status == 400
    assert error.code == "validation_error"
    assert error.request_id == notion_sandbox.requests[-1].request_id
    assert error.transient is False
    assert len(notion_sandbox.requests) == 1


def test_rejected_token_names_setting(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    with pytest.raises(NotionConfigError) as raised:
        make_notion_client(token="ntn-wrong-token").get_database(products_table[0])

    assert "NOTION_TOKEN was rejected" in str(raised.value)
    assert raised.value.status == 401
    assert len(notion_sandbox.requests) == 1


@pytest.mark.parametrize("kind", ["database", "data source", "page"])
def test_unshared_object_names_connections(
    notion_sandbox: NotionSandbox,
    make_notion_client: MakeClient,
    products_table: Table,
    kind: str,
) -> None:
    page_id = notion_sandbox.add_page(products_table[1], product_properties("A", "p1"))
    notion_sandbox.unshare(products_table[0])
    client = make_notion_client()
    calls = {
        "database": (client.get_database, products_table[0]),
        "data source": (client.get_data_source, products_table[1]),
        "page": (client.get_page, page_id),
    }
    method, object_id = calls[kind]

    with pytest.raises(NotionConfigError) as raised:
        method(object_id)

    assert str(raised.value) == (
        f"{kind} {object_id} was not found or is not shared with the integration: "
        f"open {'its database' if kind == 'data source' else 'it'} in Notion, "
        "choose ••• > Connections, and add the integration"
    )
    assert raised.value.code == "object_not_found"


def test_trashed_page_edit_is_not_retried(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    page_id = notion_sandbox.add_page(products_table[1], product_properties("A", "p1"))
    notion_sandbox.trash_page(page_id)

    with pytest.raises(NotionError) as raised:
        make_notion_client().update_page(page_id, properties={"Price": number_value(1)})

    assert "unarchive" in str(raised.value)
    assert notion_sandbox.write_count() == 1


# Pacing


def test_client_paces_requests(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    client = make_notion_client(requests_per_second=10)
    started = time.monotonic()

    for _ in range(6):
        client.get_data_source(products_table[1])

    assert time.monotonic() - started >= 0.5


def test_paced_client_never_rate_limited(
    notion_sandbox: NotionSandbox, make_notion_client: MakeClient, products_table: Table
) -> None:
    client = make_notion_client(requests_per_second=20)

    for _ in range(10):
        client.get_data_source(products_table[1])

    assert [record.status for record in notion_sandbox.requests] == [200] * 10


def test_unpaced_burst_throttled_by_sandbox() -> None:
    rate, burst, count = 5.0, 2, 5
    with NotionSandbox(
        token=NOTION_SANDBOX_TOKEN, rate_limit=rate, burst=burst
    ) as sandbox:
        page_id = sandbox.create_parent_page()
        client = NotionClient(
            sandbox.url, NOTION_SANDBOX_TOKEN, requests_per_second=None, max_retries=10
        )
        started = time.monotonic()
        for _ in range(count):
            client.get_page(page_id)
        elapsed = time.monotonic() - started

    assert elapsed >= (count - burst) / rate
    assert client.stats.retries >= 1


# Secrets


def test_token_absent_from_errors_and_logs(
    notion_sandbox: NotionSandbox,
    make_notion_client: MakeClient,
    products_table: Table,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_notion_client(max_retries=1, max_retry_after=0.05)
    notion_sandbox.fail_next("rate_limited", times=2)
    notion_sandbox.unshare(products_table[0])
    failing_calls = [
        lambda: client.get_database(products_table[0]),
        lambda: client.create_page(products_table[1], {}),
        lambda: make_notion_client(token="other-secret-token").get_page(
            products_table[1]
        ),
    ]

    texts = [repr(client), str(client.stats)]
    for failing_call in failing_calls:
        with pytest.raises(NotionError) as raised:
            failing_call()
        texts += [str(raised.value), repr(raised.value), str(vars(raised.value))]

    assert all(NOTION_SANDBOX_TOKEN not in text for text in texts)
    assert NOTION_SANDBOX_TOKEN not in caplog.text
    assert "other-secret-token" not in " ".join(texts) + caplog.text
