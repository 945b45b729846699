"""GumroadClient against the Gumroad sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import time

import pytest

from ledger.errors import ConfigError, GumroadAuthError, GumroadError
from ledger.gumroad.client import GumroadClient
from ledger.sandbox.gumroad import GumroadSandbox
from tests.gumroad_fixtures import (  # noqa: F401 (fixtures register on import)
    GUMROAD_SANDBOX_TOKEN,
    MakeClient,
    add_catalogue,
    gumroad_sandbox_fixture,
    make_gumroad_client_fixture,
)

CLIENT_LOGGER = "ledger.gumroad.client"


def test_walk_covers_three_pages(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 25)
    expected_ids = [payload["id"] for payload in gumroad_sandbox.products()]

    listing = make_gumroad_client().list_products()

    assert listing.pages == 3
    assert listing.complete is True
    assert [product.product_id for product in listing.products] == expected_ids
    assert len(gumroad_sandbox.requests) == 3


def test_walk_sends_page_key_from_previous_page(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 25)

    make_gumroad_client().list_products()

    queries = [request.query for request in gumroad_sandbox.requests]
    assert queries[0] == {}
    assert set(queries[1]) == {"page_key"}
    assert set(queries[2]) == {"page_key"}
    assert queries[1] != queries[2]


def test_walk_parses_product_fields(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    product_id = gumroad_sandbox.add_product(
        name="Field guide", price_cents=1999, sales_count=4, revenue_usd_cents=7996
    )

    (product,) = make_gumroad_client().list_products().products

    assert product.product_id == product_id
    assert product.name == "Field guide"
    assert product.price_cents == 1999
    assert product.sales_count == 4
    assert product.revenue_usd_cents == 7996
    assert product.currency == "usd"


def test_empty_catalogue_is_one_complete_page(
    make_gumroad_client: MakeClient,
) -> None:
    listing = make_gumroad_client().list_products()

    assert listing.products == []
    assert listing.pages == 1
    assert listing.complete is True


def test_unpaginated_catalogue_is_one_page(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 25)
    gumroad_sandbox.paginate = False

    listing = make_gumroad_client().list_products()

    assert listing.pages == 1
    assert len(listing.products) == 25


def test_max_pages_reports_incomplete_walk(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 25)

    listing = make_gumroad_client().list_products(max_pages=2)

    assert listing.complete is False
    assert listing.pages == 2
    assert len(listing.products) == 20


def test_max_pages_below_one_is_rejected(make_gumroad_client: MakeClient) -> None:
    with pytest.raises(ValueError, match="max_pages must be >= 1"):
        make_gumroad_client().list_products(max_pages=0)


@pytest.mark.parametrize("number_form", ["mixed", "int", "float", "string"])
def test_sales_figures_parse_in_every_form(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient, number_form: str
) -> None:
    gumroad_sandbox.add_product(
        name="Forms", sales_count=7, revenue_usd_cents=12345, number_form=number_form
    )

    (product,) = make_gumroad_client().list_products().products

    assert product.sales_count == 7
    assert product.revenue_usd_cents == 12345


def test_token_without_view_sales_names_scope(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 3)
    gumroad_sandbox.scopes = {"view_profile"}

    with pytest.raises(GumroadAuthError) as caught:
        make_gumroad_client().list_products()

    assert "view_sales" in str(caught.value)
    assert caught.value.code == "missing_scope"


def test_null_sales_count_is_an_error(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    product_id = gumroad_sandbox.add_product(name="Null count")
    gumroad_sandbox.override(product_id, sales_count=None)

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client().list_products()

    assert not isinstance(caught.value, GumroadAuthError)
    assert "null" in str(caught.value)
    assert product_id in str(caught.value)


def test_wrong_token_names_setting(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    client = make_gumroad_client(token="gr-wrong-token")

    with pytest.raises(GumroadAuthError) as caught:
        client.list_products()

    assert caught.value.status == 401
    assert "GUMROAD_ACCESS_TOKEN" in str(caught.value)
    assert caught.value.code == "invalid_token"


# (fault, error type, text the message must contain, HTTP status, transient)
ERROR_SHAPES = [
    pytest.param(
        "success_false",
        GumroadError,
        "success false): Something went wrong.",
        200,
        False,
        id="http-200-success-false",
    ),
    pytest.param(
        "bad_request",
        GumroadError,
        "rejected the request (HTTP 400): Invalid page_key.",
        400,
        False,
        id="http-400-error-field",
    ),
    pytest.param(
        "unauthorized",
        GumroadAuthError,
        "token is invalid or revoked. Check GUMROAD_ACCESS_TOKEN",
        401,
        False,
        id="http-401-empty-body",
    ),
    pytest.param(
        "forbidden",
        GumroadAuthError,
        "create a token with the view_sales scope",
        403,
        False,
        id="http-403-empty-body",
    ),
    pytest.param(
        "html_500",
        GumroadError,
        "returned an HTML page (HTTP 500)",
        500,
        True,
        id="http-500-html",
    ),
    pytest.param(
        "html_530",
        GumroadError,
        "returned an HTML page (HTTP 530) titled 'Maintenance | Gumroad'",
        530,
        True,
        id="http-530-cloudflare-html",
    ),
    pytest.param(
        "rate_limited",
        GumroadError,
        "returned HTTP 429: 'Retry later'",
        429,
        True,
        id="http-429-plain-text",
    ),
    pytest.param(
        "truncated",
        GumroadError,
        "returned invalid JSON (HTTP 200",
        200,
        False,
        id="truncated-json",
    ),
    pytest.param(
        "json_array",
        GumroadError,
        "returned a JSON list (HTTP 200), expected a JSON object",
        200,
        False,
        id="json-array",
    ),
    pytest.param(
        "no_products",
        GumroadError,
        "without a products list (keys: success)",
        None,
        False,
        id="json-without-products",
    ),
]


@pytest.mark.parametrize(
    ("fault", "error_type", "expected_text", "status", "transient"), ERROR_SHAPES
)
def test_error_shape_raises_clear_error(
    gumroad_sandbox: GumroadSandbox,
    make_gumroad_client: MakeClient,
    fault: str,
    error_type: type[GumroadError],
    expected_text: str,
    status: int | None,
    transient: bool,
) -> None:
    add_catalogue(gumroad_sandbox, 3)
    gumroad_sandbox.retry_after = 0
    gumroad_sandbox.fail_next(fault, times=10)

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client(max_retries=1).list_products()

    assert type(caught.value) is error_type
    assert expected_text in str(caught.value)
    assert caught.value.transient is transient
    assert "<html" not in str(caught.value).lower()
    if status is not None:
        assert caught.value.status == status


@pytest.mark.parametrize(
    "fault", ["success_false", "bad_request", "unauthorized", "forbidden", "truncated"]
)
def test_permanent_error_is_not_retried(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient, fault: str
) -> None:
    gumroad_sandbox.fail_next(fault, times=10)

    with pytest.raises(GumroadError):
        make_gumroad_client(max_retries=3).list_products()

    assert len(gumroad_sandbox.requests) == 1


@pytest.mark.parametrize(
    ("fault", "on_page"),
    [
        pytest.param("html_500", 1, id="html-500"),
        pytest.param("html_530", 1, id="html-530"),
        pytest.param("rate_limited", 1, id="rate-limited"),
        pytest.param("reset", 1, id="connection-reset"),
        pytest.param("slow", 1, id="read-timeout"),
        pytest.param("html_530", 2, id="html-530-on-page-2"),
    ],
)
def test_transient_failure_is_retried(
    gumroad_sandbox: GumroadSandbox,
    make_gumroad_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    on_page: int,
) -> None:
    add_catalogue(gumroad_sandbox, 15)
    gumroad_sandbox.retry_after = 0
    gumroad_sandbox.fail_next(fault, on_page=on_page)
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER)

    listing = make_gumroad_client(timeout=0.3).list_products()

    warnings = [r for r in caplog.records if r.name == CLIENT_LOGGER]
    assert listing.complete is True
    assert len(listing.products) == 15
    assert len(gumroad_sandbox.requests) == 3
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "attempt 1 of 4" in warnings[0].getMessage()
    assert "retrying in" in warnings[0].getMessage()
    assert "page_key" not in warnings[0].getMessage()


def test_rate_limit_waits_for_retry_after(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 3)
    gumroad_sandbox.retry_after = 1
    gumroad_sandbox.fail_next("rate_limited")

    started = time.monotonic()
    listing = make_gumroad_client().list_products()
    elapsed = time.monotonic() - started

    assert listing.complete is True
    assert elapsed >= 1.0


def test_exhausted_retries_raise_transient_error(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    gumroad_sandbox.fail_next("html_500", times=10)

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client(max_retries=2).list_products()

    assert caught.value.transient is True
    assert "after 3 attempts" in str(caught.value)
    assert len(gumroad_sandbox.requests) == 3


def test_repeated_page_key_stops_walk(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 25)
    gumroad_sandbox.fail_next("repeat_page_key")

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client().list_products()

    assert "returned the same page key twice" in str(caught.value)
    assert caught.value.code == "repeated_page_key"
    assert len(gumroad_sandbox.requests) == 2


def test_duplicate_product_across_pages_is_error(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    ids = add_catalogue(gumroad_sandbox, 15)
    # ids[0] is the oldest product (page 2); give it the id of the newest (page 1).
    gumroad_sandbox.override(ids[0], id=ids[-1])

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client().list_products()

    assert f"listed product {ids[-1]} twice (pages 1 and 2)" in str(caught.value)


def test_slow_response_times_out(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    gumroad_sandbox.fail_next("slow")

    started = time.monotonic()
    with pytest.raises(GumroadError) as caught:
        make_gumroad_client(timeout=0.3, max_retries=0).list_products()
    elapsed = time.monotonic() - started

    assert "read timed out after 0.3 s" in str(caught.value)
    assert caught.value.transient is True
    assert elapsed < gumroad_sandbox.slow_delay


def test_connection_reset_raises_transient_error(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    gumroad_sandbox.fail_next("reset", times=10)

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client(max_retries=1).list_products()

    assert "connection failed or was reset after 2 attempts" in str(caught.value)
    assert caught.value.transient is True


def test_closed_port_raises_transient_error(
    make_gumroad_client: MakeClient,
) -> None:
    closed = GumroadSandbox().start()
    url = closed.url
    closed.stop()

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client(base_url=url, max_retries=1).list_products()

    assert caught.value.transient is True
    assert url in str(caught.value)


def test_wrong_base_path_reports_html_404(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    client = make_gumroad_client(base_url=gumroad_sandbox.url + "/api")

    with pytest.raises(GumroadError) as caught:
        client.list_products()

    assert "returned an HTML page (HTTP 404)" in str(caught.value)
    assert "GUMROAD_API_URL" in str(caught.value)
    assert caught.value.transient is False
    assert len(gumroad_sandbox.requests) == 1


def test_get_product_finds_deleted_product(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    product_id = gumroad_sandbox.add_product(name="Gone soon")
    gumroad_sandbox.delete_product(product_id)

    product = make_gumroad_client().get_product(product_id)

    assert product.product_id == product_id
    assert product.deleted is True


def test_get_unknown_product_raises_not_found(
    make_gumroad_client: MakeClient,
) -> None:
    with pytest.raises(GumroadError) as caught:
        make_gumroad_client().get_product("bm90LWEtcHJvZHVjdA==")

    assert caught.value.code == "not_found"
    assert "The product was not found." in str(caught.value)


def test_token_travels_only_in_header(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 15)

    make_gumroad_client().list_products()

    for request in gumroad_sandbox.requests:
        assert "access_token" not in request.query
        assert GUMROAD_SANDBOX_TOKEN not in request.path
        assert GUMROAD_SANDBOX_TOKEN not in str(request.query)
        assert GUMROAD_SANDBOX_TOKEN not in str(request.headers)


LEAK_SCENARIOS = [
    pytest.param(("unauthorized",), id="unauthorized"),
    pytest.param(("forbidden",), id="forbidden"),
    pytest.param(("success_false",), id="success-false"),
    pytest.param(("bad_request",), id="bad-request"),
    pytest.param(("html_530", "html_530"), id="html-530"),
    pytest.param(("rate_limited", "rate_limited"), id="rate-limited"),
    pytest.param(("truncated",), id="truncated"),
    pytest.param(("reset", "reset"), id="reset"),
    pytest.param(("slow", "slow"), id="timeout"),
    pytest.param(("repeat_page_key",), id="repeat-page-key"),
]


@pytest.mark.parametrize("faults", LEAK_SCENARIOS)
def test_token_never_leaks_into_errors_or_logs(
    gumroad_sandbox: GumroadSandbox,
    make_gumroad_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    faults: tuple[str, ...],
) -> None:
    add_catalogue(gumroad_sandbox, 15)
    gumroad_sandbox.retry_after = 0
    for fault in faults:
        gumroad_sandbox.fail_next(fault)
    caplog.set_level(logging.DEBUG)
    client = make_gumroad_client(timeout=0.3, max_retries=1)

    with pytest.raises(GumroadError) as caught:
        client.list_products()

    error = caught.value
    assert GUMROAD_SANDBOX_TOKEN not in str(error)
    assert GUMROAD_SANDBOX_TOKEN not in repr(error)
    assert GUMROAD_SANDBOX_TOKEN not in repr(error.args)
    assert GUMROAD_SANDBOX_TOKEN not in str(error.url)
    assert GUMROAD_SANDBOX_TOKEN not in repr(client)
    assert GUMROAD_SANDBOX_TOKEN not in caplog.text
    for record in caplog.records:
        assert GUMROAD_SANDBOX_TOKEN not in record.getMessage()


def test_echoed_token_is_masked_in_message(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    gumroad_sandbox.fail_next(
        "success_false", message=f"bad token Bearer {GUMROAD_SANDBOX_TOKEN}"
    )

    with pytest.raises(GumroadError) as caught:
        make_gumroad_client().list_products()

    assert GUMROAD_SANDBOX_TOKEN not in str(caught.value)
    assert "Bearer <token>" in str(caught.value)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param(" gr-token-with-space", id="leading-space"),
        pytest.param("gr-token\n", id="trailing-newline"),
        pytest.param("gr-tökén", id="non-ascii"),
    ],
)
def test_malformed_token_is_config_error(token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GumroadClient("http://127.0.0.1:9", token)

    assert caught.value.name == "GUMROAD_ACCESS_TOKEN"
    if token.strip():
        assert token.strip() not in str(caught.value)


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("api.gumroad.com", id="no-scheme"),
        pytest.param("ftp://127.0.0.1", id="wrong-scheme"),
        pytest.param("http://127.0.0.1:9/?access_token=x", id="query-string"),
        pytest.param("http://user:pw@127.0.0.1:9", id="user-info"),
    ],
)
def test_invalid_base_url_is_config_error(base_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GumroadClient(base_url, GUMROAD_SANDBOX_TOKEN)

    assert caught.value.name == "GUMROAD_API_URL"


def test_base_url_trailing_slash_is_ignored(
    gumroad_sandbox: GumroadSandbox, make_gumroad_client: MakeClient
) -> None:
    add_catalogue(gumroad_sandbox, 2)

    listing = make_gumroad_client(base_url=gumroad_sandbox.url + "/").list_products()

    assert len(listing.products) == 2
    assert gumroad_sandbox.requests[0].path == "/v2/products"
