"""The Gumroad sandbox, driven with plain requests calls as any HTTP client would."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from ledger.sandbox.gumroad import OMIT, GumroadSandbox
from tests.gumroad_fixtures import (  # noqa: F401 (fixtures register on import)
    GUMROAD_SANDBOX_TOKEN,
    add_catalogue,
    gumroad_sandbox_fixture,
)

AUTH = {"Authorization": f"Bearer {GUMROAD_SANDBOX_TOKEN}"}
# Every field of the 2025 product serializer, plus the view_sales-only ones.
PRODUCT_FIELDS = {
    "id",
    "name",
    "description",
    "require_shipping",
    "preview_url",
    "custom_receipt",
    "customizable_price",
    "custom_permalink",
    "subscription_duration",
    "url",
    "price",
    "currency",
    "short_url",
    "thumbnail_url",
    "tags",
    "formatted_price",
    "published",
    "file_info",
    "max_purchase_count",
    "deleted",
    "custom_fields",
    "custom_summary",
    "is_tiered_membership",
    "recurrences",
    "variants",
    "custom_delivery_url",
    "sales_count",
    "sales_usd_cents",
}


def get(
    sandbox: GumroadSandbox,
    path: str = "/v2/products",
    *,
    headers: dict[str, str] | None = None,
    **params: str,
) -> requests.Response:
    """GET a sandbox path with the sandbox token unless `headers` replaces it."""
    return requests.get(
        sandbox.url + path,
        params=params or None,
        headers=AUTH if headers is None else headers,
        timeout=5,
    )


def listed_ids(response: requests.Response) -> list[str]:
    return [product["id"] for product in response.json()["products"]]


def test_first_page_lists_ten_newest(gumroad_sandbox: GumroadSandbox) -> None:
    ids = add_catalogue(gumroad_sandbox, 25)

    body = get(gumroad_sandbox).json()

    assert body["success"] is True
    assert [product["id"] for product in body["products"]] == ids[::-1][:10]
    assert "next_page_key" in body


def test_page_keys_walk_whole_catalogue(gumroad_sandbox: GumroadSandbox) -> None:
    ids = add_catalogue(gumroad_sandbox, 25)

    first = get(gumroad_sandbox).json()
    second = get(gumroad_sandbox, page_key=first["next_page_key"]).json()
    third = get(gumroad_sandbox, page_key=second["next_page_key"]).json()

    walked = [p["id"] for page in (first, second, third) for p in page["products"]]
    assert walked == ids[::-1]
    assert len(third["products"]) == 5
    assert "next_page_key" not in third
    assert "next_page_url" not in third


def test_next_page_url_is_path_relative(gumroad_sandbox: GumroadSandbox) -> None:
    ids = add_catalogue(gumroad_sandbox, 15)

    first = get(gumroad_sandbox).json()
    second = requests.get(
        urljoin(gumroad_sandbox.url, first["next_page_url"]), headers=AUTH, timeout=5
    )

    assert first["next_page_url"].startswith("/v2/products?page_key=")
    assert listed_ids(second) == ids[::-1][10:]


def test_exactly_full_page_has_no_next_key(gumroad_sandbox: GumroadSandbox) -> None:
    add_catalogue(gumroad_sandbox, 10)

    body = get(gumroad_sandbox).json()

    assert len(body["products"]) == 10
    assert "next_page_key" not in body


def test_page_key_survives_deleted_products(gumroad_sandbox: GumroadSandbox) -> None:
    ids = add_catalogue(gumroad_sandbox, 15)
    first = get(gumroad_sandbox).json()
    gumroad_sandbox.delete_product(ids[-1])

    second = get(gumroad_sandbox, page_key=first["next_page_key"])

    assert listed_ids(second) == ids[::-1][10:]


@pytest.mark.parametrize(
    "page_key",
    [
        pytest.param("garbage", id="word"),
        pytest.param("20261399000000000000-3", id="impossible-date"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_page_key_is_400(gumroad_sandbox: GumroadSandbox, page_key: str) -> None:
    add_catalogue(gumroad_sandbox, 3)

    response = requests.get(
        gumroad_sandbox.url + "/v2/products",
        params={"page_key": page_key},
        headers=AUTH,
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json() == {"status": 400, "error": "Invalid page_key."}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer wrong-token"}, id="wrong-token"),
        pytest.param(
            {"Authorization": f"Basic {GUMROAD_SANDBOX_TOKEN}"}, id="wrong-scheme"
        ),
    ],
)
def test_bad_token_gets_empty_401(
    gumroad_sandbox: GumroadSandbox, headers: dict[str, str]
) -> None:
    response = get(gumroad_sandbox, headers=headers)

    assert response.status_code == 401
    assert response.content == b""
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_access_token_parameter_is_accepted(gumroad_sandbox: GumroadSandbox) -> None:
    add_catalogue(gumroad_sandbox, 2)

    response = get(gumroad_sandbox, headers={}, access_token=GUMROAD_SANDBOX_TOKEN)

    assert response.status_code == 200
    assert len(response.json()["products"]) == 2


def test_token_without_read_scope_gets_403(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.scopes = set()

    response = get(gumroad_sandbox)

    assert response.status_code == 403
    assert response.content == b""
    assert "insufficient_scope" in response.headers["WWW-Authenticate"]


def test_product_ids_are_urlsafe_base64(gumroad_sandbox: GumroadSandbox) -> None:
    add_catalogue(gumroad_sandbox, 12)

    ids = listed_ids(get(gumroad_sandbox))

    for product_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}==", product_id)
        assert len(base64.urlsafe_b64decode(product_id)) == 16
    assert len(set(ids)) == len(ids)


def test_payload_has_reference_fields(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.add_product(name="Complete")

    (product,) = get(gumroad_sandbox).json()["products"]

    assert set(product) >= PRODUCT_FIELDS
    assert product["deleted"] is False
    assert product["formatted_price"] == "$10"


def test_ppp_prices_change_between_requests(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.add_product(name="Priced", price_cents=2500)

    first = get(gumroad_sandbox).json()["products"][0]
    second = get(gumroad_sandbox).json()["products"][0]

    assert (
        first["purchasing_power_parity_prices"]
        != (second["purchasing_power_parity_prices"])
    )


def test_no_view_sales_omits_sales_fields(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.add_product(name="Hidden figures", sales_count=3)
    gumroad_sandbox.scopes = {"view_profile"}

    (product,) = get(gumroad_sandbox).json()["products"]

    assert "sales_count" not in product
    assert "sales_usd_cents" not in product
    assert product["name"] == "Hidden figures"


@pytest.mark.parametrize(
    ("number_form", "count", "usd_cents"),
    [
        pytest.param("mixed", 7, 1234.0, id="mixed"),
        pytest.param("int", 7, 1234, id="int"),
        pytest.param("float", 7.0, 1234.0, id="float"),
        pytest.param("string", "7", "1234", id="string"),
    ],
)
def test_number_form_sets_json_types(
    gumroad_sandbox: GumroadSandbox, number_form: str, count: Any, usd_cents: Any
) -> None:
    gumroad_sandbox.add_product(
        name="Typed", sales_count=7, revenue_usd_cents=1234, number_form=number_form
    )

    (product,) = get(gumroad_sandbox).json()["products"]

    assert product["sales_count"] == count
    assert type(product["sales_count"]) is type(count)
    assert product["sales_usd_cents"] == usd_cents
    assert type(product["sales_usd_cents"]) is type(usd_cents)


def test_sell_and_refund_move_totals(gumroad_sandbox: GumroadSandbox) -> None:
    product_id = gumroad_sandbox.add_product(name="Sold", price_cents=500)

    gumroad_sandbox.sell(product_id, 3)
    gumroad_sandbox.refund(product_id)
    gumroad_sandbox.refund(product_id, 0, usd_cents=120)

    (product,) = gumroad_sandbox.products()
    assert product["sales_count"] == 2
    assert product["sales_usd_cents"] == 880


def test_refund_beyond_sales_is_rejected(gumroad_sandbox: GumroadSandbox) -> None:
    product_id = gumroad_sandbox.add_product(name="Unsold")

    with pytest.raises(ValueError, match="cannot refund 1 sales"):
        gumroad_sandbox.refund(product_id)


def test_sale_in_euro_needs_usd_cents(gumroad_sandbox: GumroadSandbox) -> None:
    product_id = gumroad_sandbox.add_product(name="Euro", currency="eur")

    with pytest.raises(ValueError, match="pass usd_cents"):
        gumroad_sandbox.sell(product_id)


def test_membership_price_sits_in_tiers(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.add_product(name="Club", price_cents=900, membership=True)

    (product,) = gumroad_sandbox.products()

    tier = product["variants"][0]["options"][0]
    assert product["price"] == 0
    assert product["is_tiered_membership"] is True
    assert product["recurrences"] == ["monthly"]
    assert tier["recurrence_prices"]["monthly"]["price_cents"] == 900


def test_yen_price_is_whole_units(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.add_product(name="Yen", price_cents=799, currency="jpy")

    (product,) = gumroad_sandbox.products()

    assert product["price"] == 799
    assert product["formatted_price"] == "¥799"


def test_deleted_product_is_not_listed(gumroad_sandbox: GumroadSandbox) -> None:
    kept, deleted = add_catalogue(gumroad_sandbox, 2)

    gumroad_sandbox.delete_product(deleted)

    assert listed_ids(get(gumroad_sandbox)) == [kept]


def test_get_by_id_shows_deleted_product(gumroad_sandbox: GumroadSandbox) -> None:
    (product_id,) = add_catalogue(gumroad_sandbox, 1)
    gumroad_sandbox.delete_product(product_id)

    body = get(gumroad_sandbox, "/v2/products/" + product_id).json()

    assert body["success"] is True
    assert body["product"]["id"] == product_id
    assert body["product"]["deleted"] is True
    assert body["product"]["published"] is False


def test_get_by_id_has_signed_file_urls(gumroad_sandbox: GumroadSandbox) -> None:
    (product_id,) = add_catalogue(gumroad_sandbox, 1)

    first = get(gumroad_sandbox, "/v2/products/" + product_id).json()["product"]
    second = get(gumroad_sandbox, "/v2/products/" + product_id).json()["product"]

    assert first["files"][0]["url"] != second["files"][0]["url"]


def test_unknown_id_is_200_success_false(gumroad_sandbox: GumroadSandbox) -> None:
    response = get(gumroad_sandbox, "/v2/products/bm90LWEtcHJvZHVjdA==")

    assert response.status_code == 200
    assert response.json() == {
        "success": False,
        "message": "The product was not found.",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/v2/sales", id="other-endpoint"),
        pytest.param("GET", "/", id="root"),
        pytest.param("POST", "/v2/products", id="post-products"),
    ],
)
def test_unknown_route_is_html_404(
    gumroad_sandbox: GumroadSandbox, method: str, path: str
) -> None:
    response = requests.request(
        method, gumroad_sandbox.url + path, headers=AUTH, data=b"x=1", timeout=5
    )

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_override_sets_and_omits_fields(gumroad_sandbox: GumroadSandbox) -> None:
    product_id = gumroad_sandbox.add_product(name="Odd")

    gumroad_sandbox.override(product_id, sales_count=None, deleted=OMIT)

    (product,) = gumroad_sandbox.products()
    assert product["sales_count"] is None
    assert "deleted" not in product


def test_update_rejects_unknown_field(gumroad_sandbox: GumroadSandbox) -> None:
    product_id = gumroad_sandbox.add_product(name="Strict")

    with pytest.raises(TypeError, match="override"):
        gumroad_sandbox.update(product_id, colour="red")


def test_update_and_rename_change_payload(gumroad_sandbox: GumroadSandbox) -> None:
    product_id = gumroad_sandbox.add_product(name="Before")

    gumroad_sandbox.rename(product_id, "After")
    gumroad_sandbox.update(product_id, price_cents=2000, published=False)

    (product,) = gumroad_sandbox.products()
    assert product["name"] == "After"
    assert product["price"] == 2000
    assert product["published"] is False


def test_request_log_drops_authorization(gumroad_sandbox: GumroadSandbox) -> None:
    get(gumroad_sandbox, headers={**AUTH, "X-Probe": "kept"}, page_key="abc")

    (request,) = gumroad_sandbox.requests
    assert request.method == "GET"
    assert request.path == "/v2/products"
    assert request.query == {"page_key": ["abc"]}
    assert request.headers["X-Probe"] == "kept"
    assert "authorization" not in {name.lower() for name in request.headers}


# (fault, status, content type prefix, body check)
FAULT_REPLIES = [
    pytest.param(
        "success_false",
        200,
        "application/json",
        lambda body: (
            json.loads(body) == {"success": False, "message": "Something went wrong."}
        ),
        id="success-false",
    ),
    pytest.param(
        "bad_request",
        400,
        "application/json",
        lambda body: json.loads(body) == {"status": 400, "error": "Invalid page_key."},
        id="bad-request",
    ),
    pytest.param("unauthorized", 401, None, lambda body: body == b"", id="401"),
    pytest.param("forbidden", 403, None, lambda body: body == b"", id="403"),
    pytest.param(
        "html_500", 500, "text/html", lambda body: b"<title>" in body, id="html-500"
    ),
    pytest.param(
        "html_530",
        530,
        "text/html",
        lambda body: b"<title>Maintenance | Gumroad</title>" in body,
        id="html-530",
    ),
    pytest.param(
        "rate_limited",
        429,
        "text/plain",
        lambda body: body == b"Retry later\n",
        id="rate-limited",
    ),
    pytest.param(
        "json_array", 200, "application/json", lambda body: body == b"[]", id="array"
    ),
]


@pytest.mark.parametrize(("fault", "status", "content_type", "check"), FAULT_REPLIES)
def test_fault_reply_shape(
    gumroad_sandbox: GumroadSandbox,
    fault: str,
    status: int,
    content_type: str | None,
    check: Any,
) -> None:
    gumroad_sandbox.fail_next(fault)

    response = get(gumroad_sandbox)

    assert response.status_code == status
    assert check(response.content)
    if content_type is not None:
        assert response.headers["Content-Type"].startswith(content_type)


def test_rate_limit_sends_retry_after(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("rate_limited")

    response = get(gumroad_sandbox)

    assert response.headers["Retry-After"] == "1"


def test_truncated_reply_is_invalid_json(gumroad_sandbox: GumroadSandbox) -> None:
    add_catalogue(gumroad_sandbox, 3)
    gumroad_sandbox.fail_next("truncated")

    response = get(gumroad_sandbox)

    assert response.status_code == 200
    assert response.content.startswith(b'{"success": true')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_repeat_fault_echoes_page_key(gumroad_sandbox: GumroadSandbox) -> None:
    add_catalogue(gumroad_sandbox, 25)
    gumroad_sandbox.fail_next("repeat_page_key")
    first = get(gumroad_sandbox).json()

    second = get(gumroad_sandbox, page_key=first["next_page_key"]).json()

    assert second["next_page_key"] == first["next_page_key"]
    assert gumroad_sandbox.pending_faults() == []


def test_reset_fault_drops_connection(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("reset")

    with pytest.raises(requests.ConnectionError):
        get(gumroad_sandbox)


def test_slow_fault_outlasts_timeout(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("slow")

    with pytest.raises(requests.ReadTimeout):
        requests.get(gumroad_sandbox.url + "/v2/products", headers=AUTH, timeout=0.2)


def test_fault_is_used_up_after_times(gumroad_sandbox: GumroadSandbox) -> None:
    gumroad_sandbox.fail_next("html_500", times=2)

    statuses = [get(gumroad_sandbox).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_fault_on_page_skips_other_pages(gumroad_sandbox: GumroadSandbox) -> None:
    add_catalogue(gumroad_sandbox, 25)
    gumroad_sandbox.fail_next("html_530", on_page=3)
    first = get(gumroad_sandbox).json()
    second = get(gumroad_sandbox, page_key=first["next_page_key"]).json()

    third = get(gumroad_sandbox, page_key=second["next_page_key"])

    assert third.status_code == 530
    assert gumroad_sandbox.pending_faults() == []


def test_unknown_fault_kind_is_rejected(gumroad_sandbox: GumroadSandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        gumroad_sandbox.fail_next("meteor")


def test_stop_releases_port_and_repeats() -> None:
    sandbox = GumroadSandbox().start()
    url = sandbox.url

    sandbox.stop()
    sandbox.stop()

    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v2/products", timeout=2)


def test_url_before_start_is_error() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = GumroadSandbox().url


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::1"])
def test_non_loopback_host_is_rejected(host: str) -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        GumroadSandbox(host=host)
