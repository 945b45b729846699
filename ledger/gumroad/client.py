"""Client for the Gumroad API v2 product endpoints.

The token travels only in the Authorization header. Error messages and log lines name
requests by method and path, never by full URL, and any text copied from a response
has the token masked before it reaches an exception.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ledger import __version__
from ledger.errors import ConfigError, GumroadAuthError, GumroadError
from ledger.gumroad.products import Product, parse_product
from ledger.http_retry import (
    RetryOutcome,
    RetryPolicy,
    describe_error,
    is_transient_error,
    send_with_retries,
)

logger = logging.getLogger(__name__)

PRODUCTS_PATH = "/v2/products"

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_AUTH_ERROR_CODE = re.compile(r'error="([^"]*)"')
# Printable ASCII without spaces: anything else cannot go into an HTTP header, and
# requests would quote the whole header value, token included, in its exception.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class ProductListing:
    """Products from one walk over GET /v2/products, newest first."""

    products: list[Product]
    pages: int
    # True only when the walk reached a page without next_page_key.
    complete: bool


class GumroadClient:
    """Read products from the Gumroad API v2, retrying transient failures."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = _normalize_base_url(base_url)
        _validate_token(token)
        self._token = token
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            max_retries=max_retries, backoff_base=backoff_base, backoff_cap=backoff_cap
        )
        self._session = session or requests.Session()
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"GumroadClient(base_url={self.base_url!r})"

    def __enter__(self) -> GumroadClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def list_products(self, *, max_pages: int | None = None) -> ProductListing:
        """Walk every page of GET /v2/products, following next_page_key.

        With `max_pages`, the walk stops after that many pages and the listing reports
        `complete=False` if more pages remained. Raises GumroadError when a page fails,
        when the API returns a page key it returned before, or when a product id shows
        up twice.
        """
        if max_pages is not None and max_pages < 1:
            raise ValueError(f"max_pages must be >= 1, got {max_pages}")
        try:
            return self._walk_products(max_pages)
        except GumroadError as error:
            self._scrub(error)
            raise

    def _walk_products(self, max_pages: int | None) -> ProductListing:
        products: list[Product] = []
        seen_ids: dict[str, int] = {}
        seen_keys: set[str] = set()
        page_key: str | None = None
        pages = 0

        while max_pages is None or pages < max_pages:
            params = {"page_key": page_key} if page_key is not None else None
            payload = self._get_json(PRODUCTS_PATH, params)
            pages += 1
            for product in _products_of_page(payload, pages):
                _check_unique(product, pages, seen_ids)
                products.append(product)

            page_key = _next_page_key(payload, pages, seen_keys)
            if page_key is None:
                logger.debug("listed %d products on %d pages", len(products), pages)
                return ProductListing(products, pages, complete=True)

        logger.info("stopped the product walk after %d pages (max_pages)", pages)
        return ProductListing(products, pages, complete=False)

    def get_product(self, product_id: str) -> Product:
        """Fetch one product by id, which also finds deleted products.

        Gumroad reports an unknown id as HTTP 200 with success false, raised here as
        GumroadError with code "not_found".
        """
        path = f"{PRODUCTS_PATH}/{quote(product_id, safe='')}"
        try:
            payload = self._get_json(path, None)
            product = payload.get("product")
            if not isinstance(product, Mapping):
                raise GumroadError(
                    f"Gumroad API GET {PRODUCTS_PATH}/<id> returned JSON without a "
                    f"product object for {product_id}",
                    status=200,
                    url=self.base_url + path,
                )
            return parse_product(product)
        except GumroadError as error:
            self._scrub(error)
            raise

    def _get_json(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        url = self.base_url + path
        outcome = send_with_retries(
            lambda: self._session.get(
                url,
                params=params,
                headers=self._headers(),
                timeout=(self.timeout, self.timeout),
            ),
            policy=self.retry_policy,
            label=f"GET {path}",
            log=logger,
        )

        if outcome.error is not None:
            raise self._network_error(outcome, path)
        assert outcome.response is not None
        return self._read_payload(outcome.response, path, outcome.attempts)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": f"gumroad-ledger/{__version__}",
        }

    def _network_error(self, outcome: RetryOutcome, path: str) -> GumroadError:
        assert outcome.error is not None
        transient = is_transient_error(outcome.error)
        detail = describe_error(outcome.error)
        if isinstance(outcome.error, requests.Timeout):
            detail = f"{detail} after {self.timeout:g} s"
        return GumroadError(
            f"Gumroad API GET {path} failed: {detail}"
            f"{_attempts_note(outcome.attempts)}. Check the network and "
            f"GUMROAD_API_URL ({self.base_url})",
            url=self.base_url + path,
            transient=transient,
        )

    def _read_payload(
        self, response: requests.Response, path: str, attempts: int
    ) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise self._auth_error(response, path)
        if _is_html(response):
            raise self._html_error(response, path, attempts)
        if self.retry_policy.is_transient_status(status):
            raise self._transient_status_error(response, path, attempts)

        if status >= 400:
            raise self._http_error(response, path)
        payload = self._decode_json(response, path)
        if payload.get("success") is False:
            raise self._success_false_error(response, path, payload)
        return payload

    def _auth_error(self, response: requests.Response, path: str) -> GumroadAuthError:
        status = response.status_code
        if status == 401:
            reason = (
                "Gumroad rejected the access token (HTTP 401): the token is invalid "
                "or revoked. Check GUMROAD_ACCESS_TOKEN"
            )
        else:
            reason = (
                "the access token lacks a scope this request needs (HTTP 403): create "
                "a token with the view_sales scope and set GUMROAD_ACCESS_TOKEN to it"
            )
        if _is_html(response):
            title = _html_title(response.content) or "untitled"
            reason += (
                f". The reply was an HTML page titled {self._mask(title)!r}, so a "
                "proxy or firewall may have blocked the request"
            )
        return GumroadAuthError(
            f"Gumroad API GET {path} failed: {reason}",
            status=status,
            code=_auth_error_code(response),
            request_id=_request_id(response),
            url=self.base_url + path,
        )

    def _html_error(
        self, response: requests.Response, path: str, attempts: int
    ) -> GumroadError:
        status = response.status_code
        transient = self.retry_policy.is_transient_status(status)
        title = _html_title(response.content)
        titled = f" titled {self._mask(title)!r}" if title else ""
        if transient:
            advice = "Gumroad is unavailable; try again later"
        else:
            advice = f"check that GUMROAD_API_URL ({self.base_url}) is the Gumroad API"
        return GumroadError(
            f"Gumroad API GET {path} returned an HTML page (HTTP {status}){titled}"
            f"{_attempts_note(attempts if transient else 1)}: {advice}",
            status=status,
            request_id=_request_id(response),
            url=self.base_url + path,
            transient=transient,
        )

    def _transient_status_error(
        self, response: requests.Response, path: str, attempts: int
    ) -> GumroadError:
        status = response.status_code
        hint = _body_hint(response)
        body_excerpt = f": {self._mask(hint)!r}" if hint else ""
        advice = "Gumroad is rate limiting" if status == 429 else "Gumroad is failing"
        return GumroadError(
            f"Gumroad API GET {path} returned HTTP {status}{body_excerpt}"
            f"{_attempts_note(attempts)}: {advice}; try again later",
            status=status,
            request_id=_request_id(response),
            url=self.base_url + path,
            transient=True,
        )

    def _decode_json(self, response: requests.Response, path: str) -> dict[str, Any]:
        status = response.status_code
        body = response.content
        if not body.strip():
            raise GumroadError(
                f"Gumroad API GET {path} returned an empty body (HTTP {status}), "
                "expected a JSON object",
                status=status,
                request_id=_request_id(response),
                url=self.base_url + path,
            )

        try:
            payload = json.loads(body)
        except ValueError as error:
            raise GumroadError(
                f"Gumroad API GET {path} returned invalid JSON (HTTP {status}, "
                f"{len(body)} bytes): {_json_problem(error)}. The response may have "
                "been cut off in transit; retry the poll",
                status=status,
                request_id=_request_id(response),
                url=self.base_url + path,
            ) from None

        if not isinstance(payload, dict):
            raise GumroadError(
                f"Gumroad API GET {path} returned a JSON {type(payload).__name__} "
                f"(HTTP {status}), expected a JSON object",
                status=status,
                request_id=_request_id(response),
                url=self.base_url + path,
            )
        return payload

    def _http_error(self, response: requests.Response, path: str) -> GumroadError:
        status = response.status_code
        payload = _json_object_or_none(response.content)
        if payload is not None:
            message = _remote_message(payload)
        else:
            message = repr(_body_hint(response)) if response.content else "empty body"
        return GumroadError(
            f"Gumroad API GET {path} rejected the request (HTTP {status}): "
            f"{self._mask(message)}",
            status=status,
            request_id=_request_id(response),
            url=self.base_url + path,
        )

    def _success_false_error(
        self, response: requests.Response, path: str, payload: Mapping[str, Any]
    ) -> GumroadError:
        message = _remote_message(payload)
        not_found = "not found" in message.lower()
        return GumroadError(
            f"Gumroad API GET {path} returned an error (HTTP "
            f"{response.status_code}, success false): {self._mask(message)}",
            status=response.status_code,
            code="not_found" if not_found else "success_false",
            request_id=_request_id(response),
            url=self.base_url + path,
        )

    def _mask(self, text: str) -> str:
        # A proxy or a broken server could echo the request back, header included.
        return text.replace(self._token, "<token>")

    def _scrub(self, error: GumroadError) -> None:
        """Mask the token in an error built from response data, such as a page key."""
        error.args = tuple(
            self._mask(arg) if isinstance(arg, str) else arg for arg in error.args
        )


def _normalize_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"GUMROAD_API_URL is not an http(s) URL: {base_url!r}; expected "
            "something like https://api.gumroad.com",
            name="GUMROAD_API_URL",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            "GUMROAD_API_URL must not contain a query string, fragment or user info; "
            "set it to the scheme, host and optional path prefix only",
            name="GUMROAD_API_URL",
        )
    return base_url.strip().rstrip("/")


def _validate_token(token: str) -> None:
    # The messages describe the token without quoting any of it.
    if not isinstance(token, str) or not token:
        raise ConfigError(
            "GUMROAD_ACCESS_TOKEN is empty: set it to a Gumroad access token",
            name="GUMROAD_ACCESS_TOKEN",
        )
    if not _TOKEN_CHARS.fullmatch(token):
        raise ConfigError(
            "GUMROAD_ACCESS_TOKEN contains spaces, line breaks or non-ASCII "
            "characters: copy the token again without surrounding whitespace",
            name="GUMROAD_ACCESS_TOKEN",
        )


def _products_of_page(payload: Mapping[str, Any], page: int) -> list[Product]:
    items = payload.get("products")
    if not isinstance(items, list):
        keys = ", ".join(sorted(str(key) for key in payload)) or "none"
        raise GumroadError(
            f"Gumroad API GET {PRODUCTS_PATH} returned page {page} without a products "
            f"list (keys: {keys})",
            status=200,
        )

    products = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise GumroadError(
                f"Gumroad API GET {PRODUCTS_PATH} returned item {index} of page {page} "
                f"as a JSON {type(item).__name__}, expected a product object",
                status=200,
            )
        products.append(parse_product(item))
    return products


def _check_unique(product: Product, page: int, seen_ids: dict[str, int]) -> None:
    first_page = seen_ids.get(product.product_id)
    if first_page is not None:
        raise GumroadError(
            f"Gumroad API GET {PRODUCTS_PATH} listed product {product.product_id} "
            f"twice (pages {first_page} and {page}): the catalogue changed during the "
            "walk. Retry the poll",
            status=200,
            code="duplicate_product",
            transient=True,
        )
    seen_ids[product.product_id] = page


def _next_page_key(
    payload: Mapping[str, Any], page: int, seen_keys: set[str]
) -> str | None:
    key = payload.get("next_page_key")
    if key is None:
        return None
    if not isinstance(key, str) or not key:
        raise GumroadError(
            f"Gumroad API GET {PRODUCTS_PATH} returned an invalid next_page_key on "
            f"page {page}: {key!r}, expected a non-empty string",
            status=200,
        )
    if key in seen_keys:
        raise GumroadError(
            f"Gumroad API GET {PRODUCTS_PATH} returned the same page key twice "
            f"({key!r}, again on page {page}); stopped the walk instead of looping "
            "over the same products. Retry the poll later",
            status=200,
            code="repeated_page_key",
        )
    seen_keys.add(key)
    return key


def _is_html(response: requests.Response) -> bool:
    # Rails sends header-only replies with Content-Type text/html, so an empty body
    # counts as no page at all.
    body = response.content.lstrip()
    if not body:
        return False
    content_type = response.headers.get("Content-Type", "").lower()
    return "html" in content_type or body[:1] == b"<"


def _html_title(body: bytes) -> str | None:
    match = _TITLE.search(body[:65536])
    if match is None:
        return None
    title = " ".join(match.group(1).decode("utf-8", "replace").split())
    return title[:120] or None


def _body_hint(response: requests.Response) -> str:
    text = response.content[:200].decode("utf-8", "replace")
    return " ".join(text.split())[:100]


def _json_object_or_none(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _remote_message(payload: Mapping[str, Any]) -> str:
    for key in ("message", "error"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return "no message given"


def _json_problem(error: ValueError) -> str:
    # JSONDecodeError's str() names only the position, never the document itself.
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos}"
    return type(error).__name__


def _auth_error_code(response: requests.Response) -> str | None:
    match = _AUTH_ERROR_CODE.search(response.headers.get("WWW-Authenticate", ""))
    return match.group(1) if match else None


def _request_id(response: requests.Response) -> str | None:
    return response.headers.get("X-Request-Id")


def _attempts_note(attempts: int) -> str:
    return f" after {attempts} attempts" if attempts > 1 else ""
