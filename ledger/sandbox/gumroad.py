"""A local stand-in for the Gumroad API v2 product endpoints, for tests and the demo.

GumroadSandbox runs a real HTTP server on 127.0.0.1. It serves GET /v2/products 10 per
page, newest first, with a page_key cursor, and GET /v2/products/:id. Payloads, error
shapes and faults (rate limits, HTML error pages, cut-off JSON, reset connections)
follow what the real API returns. Tests script the catalogue and the faults through
the methods below, from any thread.
"""

from __future__ import annotations

import hmac
import html
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ledger.sandbox.gumroad_catalogue import (
    NUMBER_FORMS,
    OMIT,
    PRODUCT_FIELDS,
    SandboxProduct,
    apply_fields,
    new_permalink,
    new_product_id,
    page_key,
    parse_page_key,
    render_payload,
    sale_amount,
)
from ledger.sandbox.http_server import (
    LocalHTTPServer,
    Reply,
    SandboxRequestHandler,
    json_reply,
)

__all__ = [
    "FAULT_KINDS",
    "NUMBER_FORMS",
    "OMIT",
    "PAGE_SIZE",
    "GumroadSandbox",
    "SandboxRequest",
]

logger = logging.getLogger(__name__)

PAGE_SIZE = 10
FAULT_KINDS = (
    "success_false",
    "bad_request",
    "unauthorized",
    "forbidden",
    "html_500",
    "html_530",
    "rate_limited",
    "truncated",
    "repeat_page_key",
    "slow",
    "reset",
    "json_array",
    "no_products",
    # A successful page with an empty list and no next page: a glitch that looks
    # like a complete walk of an empty catalogue.
    "empty_listing",
)
# Any of these lets a token list products; sales figures need view_sales or account.
_READ_SCOPES = frozenset(
    {"view_profile", "view_public", "view_sales", "edit_products", "account"}
)
_SALES_SCOPES = frozenset({"view_sales", "account"})
_PRODUCT_PATH = re.compile(r"^/v2/products/([^/]+)$")


class SandboxRequest(NamedTuple):
    """One request the sandbox received, without its Authorization header."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class _Fault:
    kind: str
    remaining: int
    on_page: int | None
    message: str | None


class GumroadSandbox:
    """A scriptable Gumroad API server on 127.0.0.1, for tests and the demo."""

    def __init__(
        self,
        *,
        token: str = "sandbox-gumroad-token",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.scopes: set[str] = {"view_sales"}
        self.requests: list[SandboxRequest] = []
        self.page_size = PAGE_SIZE
        # False serves the whole catalogue in one response, as the API did before
        # it added pagination.
        self.paginate = True
        self.slow_delay = 2.0
        self.retry_after = 1
        self._lock = threading.RLock()
        self._products: dict[str, SandboxProduct] = {}
        self._faults: list[_Fault] = []
        self._seq = 0
        self._served = 0
        self._clock = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._http = LocalHTTPServer(
            self._handle, host=host, port=port, name="Gumroad sandbox"
        )

    @property
    def url(self) -> str:
        """Base URL of the running server, such as http://127.0.0.1:54321."""
        return self._http.url

    def start(self) -> GumroadSandbox:
        """Start serving in a background thread and return self."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop the server and release its port; calling it twice is harmless."""
        self._http.stop()

    def __enter__(self) -> GumroadSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Catalogue scripting

    def add_product(
        self,
        product_id: str | None = None,
        *,
        name: str,
        price_cents: int = 1000,
        currency: str = "usd",
        published: bool = True,
        membership: bool = False,
        preview_url: str | None = None,
        sales_count: int = 0,
        revenue_usd_cents: int = 0,
        number_form: str = "mixed",
    ) -> str:
        """Add a product, newer than every product before it, and return its id.

        `number_form` sets how sales_count and sales_usd_cents are serialized:
        "mixed" (an integer count and a float sum such as 1234.0, as production
        does), "int", "float" or "string". A membership lists a top-level price of 0
        and carries `price_cents` as its monthly tier price, as tiered memberships do.
        """
        with self._lock:
            self._seq += 1
            seq = self._seq
            product_id = self._new_product_id(product_id, seq)
            product = SandboxProduct(
                seq=seq,
                product_id=product_id,
                name="",
                price_cents=0,
                currency="usd",
                published=True,
                membership=False,
                preview_url=None,
                sales_count=0,
                revenue_usd_cents=0,
                number_form="mixed",
                created_at=self._clock + timedelta(minutes=seq),
                permalink=new_permalink(seq),
            )
            apply_fields(
                product,
                name=name,
                price_cents=price_cents,
                currency=currency,
                published=published,
                membership=membership,
                preview_url=preview_url,
                sales_count=sales_count,
                revenue_usd_cents=revenue_usd_cents,
                number_form=number_form,
            )
            self._products[product_id] = product
            return product_id

    def sell(
        self, product_id: str, count: int = 1, *, usd_cents: int | None = None
    ) -> None:
        """Record `count` sales, adding `usd_cents` or, for USD, price x count."""
        with self._lock:
            product = self._product(product_id)
            amount = sale_amount(product, count, usd_cents)
            product.sales_count += count
            product.revenue_usd_cents += amount

    def refund(
        self, product_id: str, count: int = 1, *, usd_cents: int | None = None
    ) -> None:
        """Refund `count` sales; count=0 with `usd_cents` is a partial refund."""
        with self._lock:
            product = self._product(product_id)
            amount = sale_amount(product, count, usd_cents)
            if count > product.sales_count or amount > product.revenue_usd_cents:
                raise ValueError(
                    f"cannot refund {count} sales and {amount} cents of {product_id}: "
                    f"it has {product.sales_count} sales and "
                    f"{product.revenue_usd_cents} cents"
                )
            product.sales_count -= count
            product.revenue_usd_cents -= amount

    def rename(self, product_id: str, name: str) -> None:
        """Change a product's name."""
        self.update(product_id, name=name)

    def delete_product(self, product_id: str) -> None:
        """Delete a product: it leaves the listing but GET /v2/products/:id finds it."""
        with self._lock:
            self._product(product_id).deleted = True

    def update(self, product_id: str, **fields: Any) -> None:
        """Change fields that add_product sets, such as price_cents or published."""
        unknown = sorted(set(fields) - PRODUCT_FIELDS)
        if unknown:
            raise TypeError(
                f"update() got unknown fields {unknown}; expected some of "
                f"{sorted(PRODUCT_FIELDS)} (use override() for raw payload fields)"
            )
        with self._lock:
            apply_fields(self._product(product_id), **fields)

    def override(self, product_id: str, **payload_fields: Any) -> None:
        """Set raw payload fields verbatim, such as sales_count=None; OMIT drops one."""
        with self._lock:
            self._product(product_id).overrides.update(payload_fields)

    def products(self) -> list[dict[str, Any]]:
        """Return the payloads GET /v2/products would list now, newest first."""
        with self._lock:
            return [self._payload(product) for product in self._visible()]

    # Fault scripting

    def fail_next(
        self,
        kind: str,
        *,
        times: int = 1,
        on_page: int | None = None,
        message: str | None = None,
    ) -> None:
        """Reply to the next `times` matching requests with a fault.

        `on_page` limits the fault to that page (1 is the first) of the product list.
        "repeat_page_key" matches only requests that carry a page_key. `message`
        replaces the text of "success_false" and "bad_request".
        """
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}"
            )
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.append(_Fault(kind, times, on_page, message))

    def pending_faults(self) -> list[tuple[str, int]]:
        """Return each scripted fault not yet used up, with its remaining count."""
        with self._lock:
            return [(fault.kind, fault.remaining) for fault in self._faults]

    def clear_faults(self) -> None:
        """Drop every scripted fault."""
        with self._lock:
            self._faults.clear()

    # Request handling, called from the server's handler threads

    def _handle(self, handler: SandboxRequestHandler) -> Reply:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = {
            name: value
            for name, value in handler.headers.items()
            if name.lower() != "authorization"
        }
        request = SandboxRequest(handler.command, parts.path, query, headers)
        with self._lock:
            self.requests.append(request)
            return self._reply(handler.command, parts.path, query, handler.headers)

    def _reply(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any
    ) -> Reply:
        product_match = _PRODUCT_PATH.match(path)
        if method != "GET" or (path != "/v2/products" and not product_match):
            title = "The page you were looking for doesn't exist (404)"
            return _html_reply(404, title, "Check the address.")

        page = self._page_number(query) if product_match is None else None
        fault = self._take_fault(page, product_match is None, "page_key" in query)
        if fault is not None and fault.kind not in (
            "truncated",
            "slow",
            "repeat_page_key",
        ):
            return self._fault_reply(fault)

        denied = self._check_auth(headers, query)
        if denied is not None:
            return denied
        if product_match is not None:
            reply = self._product_reply(unquote(product_match.group(1)))
        else:
            repeat = fault is not None and fault.kind == "repeat_page_key"
            reply = self._list_reply(query, repeat_key=repeat)
        return _finish_fault(reply, fault, self.slow_delay)

    def _check_auth(self, headers: Any, query: dict[str, list[str]]) -> Reply | None:
        presented = _presented_token(headers.get("Authorization", ""), query)
        if presented is None or not hmac.compare_digest(
            presented.encode(), self.token.encode()
        ):
            return _auth_reply(401)
        if not self.scopes & _READ_SCOPES:
            return _auth_reply(403)
        return None

    def _list_reply(self, query: dict[str, list[str]], *, repeat_key: bool) -> Reply:
        visible = self._visible()
        requested = query.get("page_key", [None])[0]
        if requested is not None:
            cursor = parse_page_key(requested)
            if cursor is None:
                return json_reply(400, {"status": 400, "error": "Invalid page_key."})
            visible = [product for product in visible if product.sort_key < cursor]

        size = self.page_size if self.paginate else len(visible)
        page, rest = visible[:size], visible[size:]
        body: dict[str, Any] = {
            "success": True,
            "products": [self._payload(product) for product in page],
        }
        next_key = page_key(page[-1]) if rest else None
        if repeat_key:
            next_key = requested
        if next_key is not None:
            body["next_page_key"] = next_key
            body["next_page_url"] = f"/v2/products?page_key={quote(next_key, safe='')}"
        return json_reply(200, body)

    def _product_reply(self, id_or_permalink: str) -> Reply:
        for product in self._products.values():
            if id_or_permalink in (product.product_id, product.permalink):
                payload = self._payload(product, detail=True)
                return json_reply(200, {"success": True, "product": payload})
        return json_reply(
            200, {"success": False, "message": "The product was not found."}
        )

    def _payload(
        self, product: SandboxProduct, *, detail: bool = False
    ) -> dict[str, Any]:
        self._served += 1
        include_sales = bool(self.scopes & _SALES_SCOPES)
        return render_payload(
            product, include_sales=include_sales, serial=self._served, detail=detail
        )

    def _fault_reply(self, fault: _Fault) -> Reply:
        kind = fault.kind
        if kind == "success_false":
            message = fault.message or "Something went wrong."
            return json_reply(200, {"success": False, "message": message})
        if kind == "bad_request":
            message = fault.message or "Invalid page_key."
            return json_reply(400, {"status": 400, "error": message})
        if kind in ("unauthorized", "forbidden"):
            return _auth_reply(401 if kind == "unauthorized" else 403)
        if kind == "html_500":
            return _html_reply(500, "We're sorry, but something went wrong (500)")
        if kind == "html_530":
            return _html_reply(530, "Maintenance | Gumroad")
        if kind == "rate_limited":
            headers = {"Retry-After": str(self.retry_after)}
            return Reply(429, b"Retry later\n", "text/plain", headers)
        if kind == "json_array":
            return json_reply(200, [])
        if kind == "no_products":
            return json_reply(200, {"success": True})
        if kind == "empty_listing":
            return json_reply(200, {"success": True, "products": []})
        return Reply(0, reset=True)

    def _take_fault(
        self, page: int | None, is_list: bool, has_key: bool
    ) -> _Fault | None:
        for fault in self._faults:
            if fault.on_page is not None and (not is_list or fault.on_page != page):
                continue
            if fault.kind == "repeat_page_key" and not (is_list and has_key):
                continue
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.remove(fault)
            return replace(fault)
        return None

    def _page_number(self, query: dict[str, list[str]]) -> int | None:
        requested = query.get("page_key")
        if not requested:
            return 1
        cursor = parse_page_key(requested[0])
        if cursor is None:
            return None
        before = sum(1 for product in self._visible() if product.sort_key >= cursor)
        return before // self.page_size + 1

    def _visible(self) -> list[SandboxProduct]:
        products = [p for p in self._products.values() if not p.deleted]
        return sorted(products, key=lambda product: product.sort_key, reverse=True)

    def _product(self, product_id: str) -> SandboxProduct:
        try:
            return self._products[product_id]
        except KeyError:
            raise KeyError(f"the sandbox has no product {product_id!r}") from None

    def _new_product_id(self, product_id: str | None, seq: int) -> str:
        if product_id is None:
            return new_product_id(seq)
        if not product_id or product_id in self._products:
            raise ValueError(f"product id {product_id!r} is empty or already used")
        return product_id


def _presented_token(authorization: str, query: Mapping[str, list[str]]) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    values = query.get("access_token")
    return values[0] if values else None


def _finish_fault(reply: Reply, fault: _Fault | None, slow_delay: float) -> Reply:
    if fault is None:
        return reply
    if fault.kind == "slow":
        reply.delay = slow_delay
    if fault.kind == "truncated":
        reply.body = reply.body[: max(1, len(reply.body) // 2)]
    return reply


def _html_reply(status: int, title: str, text: str = "Try again later.") -> Reply:
    page = (
        f"<!DOCTYPE html>\n<html><head><title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(text)}</p>\n"
        "</body></html>\n"
    )
    return Reply(status, page.encode(), "text/html; charset=utf-8")


def _auth_reply(status: int) -> Reply:
    if status == 401:
        error = 'error="invalid_token", error_description="The access token is invalid"'
    else:
        error = (
            'error="insufficient_scope", error_description="The request requires '
            'higher privileges than provided by the access token."'
        )
    return Reply(
        status, headers={"WWW-Authenticate": f'Bearer realm="Doorkeeper", {error}'}
    )
