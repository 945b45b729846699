"""The two Notion databases: their properties, and how values are written and read.

Each property has a role (what the tool stores in it), a default name and a fixed
type. Names can be changed per role in the config file, under
[notion.products_properties] and [notion.daily_properties]; a role is given either as
its default name (`"Sales Count"`) or in snake case (`sales_count`).

Values are kept as plain JSON (strings, numbers, None) keyed by role. `encode` turns
them into Notion property values and `decode` reads them back from a page, so a
value that went through Notion compares equal to what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.errors import ConfigError
from ledger.notion.text import number_value, plain_text, text_property, url_value

PRODUCTS = "products"
DAILY = "daily"

STATUS_OPTIONS = (
    {"name": "published", "color": "green"},
    {"name": "unpublished", "color": "gray"},
    {"name": "deleted", "color": "red"},
)


@dataclass(frozen=True)
class PropertySpec:
    """One property the tool owns: its role, default name and types."""

    role: str
    default_name: str
    type: str  # the type the tool creates
    # Other types accepted in a database the user made, written the same way.
    also_accepted: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def accepted_types(self) -> tuple[str, ...]:
        return (self.type, *self.also_accepted)


PRODUCT_SPECS = (
    PropertySpec("name", "Name", "title"),
    PropertySpec("id", "id", "rich_text"),
    PropertySpec("price", "Price", "number", config={"format": "number"}),
    PropertySpec("sales_count", "Sales Count", "number", config={"format": "number"}),
    PropertySpec("revenue", "Revenue", "number", config={"format": "dollar"}),
    PropertySpec("link", "Link", "url"),
    PropertySpec("currency", "Currency", "select", also_accepted=("rich_text",)),
    PropertySpec(
        "status", "Status", "select", config={"options": list(STATUS_OPTIONS)}
    ),
    PropertySpec("last_change", "Last Change", "date"),
)

DAILY_SPECS = (
    PropertySpec("name", "Name", "title"),
    PropertySpec("key", "Key", "rich_text"),
    PropertySpec("date", "Date", "date"),
    PropertySpec("product", "Product", "relation"),
    PropertySpec("sales", "Sales", "number", config={"format": "number"}),
    PropertySpec("revenue", "Revenue", "number", config={"format": "dollar"}),
)


@dataclass(frozen=True)
class DatabaseLayout:
    """The properties of one database, with the names configured for this ledger."""

    kind: str  # PRODUCTS or DAILY
    title: str  # database title used when `init` creates it
    key_role: str  # the role whose text identifies a page
    specs: tuple[PropertySpec, ...]
    names: Mapping[str, str]  # role -> property name

    def name(self, role: str) -> str:
        """Return the property name configured for `role`."""
        return self.names[role]

    def spec(self, role: str) -> PropertySpec:
        for spec in self.specs:
            if spec.role == role:
                return spec
        raise KeyError(role)

    @property
    def key_name(self) -> str:
        return self.names[self.key_role]

    def property_schema(
        self, role: str, related_data_source_id: str | None = None
    ) -> dict[str, Any]:
        """Return the schema used to create the property of `role`."""
        spec = self.spec(role)
        if spec.type == "relation":
            if related_data_source_id is None:
                raise ValueError(f"the {role} relation needs a related data source")
            config: dict[str, Any] = {
                "data_source_id": related_data_source_id,
                "type": "single_property",
                "single_property": {},
            }
        else:
            config = _copy(spec.config)
        return {spec.type: config}

    def schema(self, related_data_source_id: str | None = None) -> dict[str, Any]:
        """Return the schema of every owned property, keyed by property name."""
        return {
            self.name(spec.role): self.property_schema(
                spec.role, related_data_source_id
            )
            for spec in self.specs
        }

    def key_filter(self, key: str) -> dict[str, Any]:
        """Return the query filter for pages whose key property equals `key`."""
        return {"property": self.key_name, "rich_text": {"equals": key}}

    def encode(
        self,
        values: Mapping[str, Any],
        types: Mapping[str, str] | None = None,
        *,
        label: str = "",
    ) -> dict[str, Any]:
        """Return Notion property values for role values, keyed by property name.

        `types` maps roles to their property types in the database. A role missing
        from it is written as the type the tool creates.
        """
        properties = {}
        for role, value in values.items():
            kind = (types or {}).get(role) or self.spec(role).type
            name = self.name(role)
            properties[name] = encode_value(kind, value, label=f"{label} {name}")
        return properties

    def decode(self, page: Mapping[str, Any]) -> dict[str, Any]:
        """Return the role values of a page, for the owned properties present on it."""
        found = page.get("properties") or {}
        values = {}
        for spec in self.specs:
            prop = found.get(self.name(spec.role))
            if prop is not None:
                values[spec.role] = decode_value(prop)
        return values

    def round_trip(
        self, values: Mapping[str, Any], types: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Return `values` as Notion would store them: text cut to its limit."""
        return self.decode({"properties": self.encode(values, types)})


def products_layout(names: Mapping[str, str] | None = None) -> DatabaseLayout:
    """Return the products database layout with `names` (role -> name) applied."""
    return _layout(PRODUCTS, "Gumroad products", "id", PRODUCT_SPECS, names)


def daily_layout(names: Mapping[str, str] | None = None) -> DatabaseLayout:
    """Return the daily database layout with `names` (role -> name) applied."""
    return _layout(DAILY, "Gumroad daily sales", "key", DAILY_SPECS, names)


def layouts(settings: Any) -> tuple[DatabaseLayout, DatabaseLayout]:
    """Return the products and daily layouts for the names in `settings`."""
    return (
        products_layout(settings.products_properties),
        daily_layout(settings.daily_properties),
    )


def role_key(text: str) -> str:
    """Return the canonical role for a name such as `Sales Count` or `sales-count`."""
    return "_".join(text.strip().lower().replace("-", " ").split())


def _layout(
    kind: str,
    title: str,
    key_role: str,
    specs: tuple[PropertySpec, ...],
    overrides: Mapping[str, str] | None,
) -> DatabaseLayout:
    names = {spec.role: spec.default_name for spec in specs}
    table = f"{kind}_properties"
    for given, name in (overrides or {}).items():
        role = role_key(given)
        if role not in names:
            known = ", ".join(spec.default_name for spec in specs)
            raise ConfigError(
                f"[notion.{table}] has unknown property role {given!r}: "
                f"expected one of {known}",
                name=table,
            )
        names[role] = name.strip()

    _reject_duplicate_names(names, table)
    return DatabaseLayout(kind, title, key_role, specs, names)


def _reject_duplicate_names(names: Mapping[str, str], table: str) -> None:
    seen: dict[str, str] = {}
    for role, name in names.items():
        if name in seen:
            raise ConfigError(
                f"[notion.{table}] gives the roles {seen[name]} and {role} the same "
                f"property name {name!r}: each role needs its own property",
                name=table,
            )
        seen[name] = role


def encode_value(kind: str, value: Any, *, label: str = "") -> dict[str, Any]:
    """Return the Notion property value of type `kind` for a plain value."""
    label = label.strip() or kind
    if kind in ("title", "rich_text"):
        return text_property(kind, "" if value is None else str(value), label=label)
    if kind == "number":
        return number_value(value, label)
    if kind == "url":
        return url_value(value, label=label)
    if kind == "select":
        return {"select": None if value is None else {"name": str(value)}}
    if kind == "date":
        return {"date": None if value is None else {"start": str(value)}}
    if kind == "relation":
        return {"relation": [] if value is None else [{"id": str(value)}]}
    raise ValueError(f"cannot write a property of type {kind!r}")


def decode_value(prop: Mapping[str, Any]) -> Any:
    """Return the plain value of a page property, in the form encode_value takes."""
    # Pages read from Notion carry a "type" key; values from encode_value do not.
    kind = prop.get("type") or next((key for key in prop if key != "id"), None)
    if kind in ("title", "rich_text"):
        return plain_text(dict(prop))
    if kind == "number":
        return prop.get("number")
    if kind == "url":
        return prop.get("url")
    if kind == "select":
        option = prop.get("select")
        return option.get("name") if option else None
    if kind == "date":
        return _normalize_date((prop.get("date") or {}).get("start"))
    if kind == "relation":
        related = prop.get("relation") or []
        return related[0].get("id") if related else None
    return None


def format_instant(moment: datetime) -> str:
    """Return a datetime as the date-time string the tool writes: UTC, seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _normalize_date(start: str | None) -> str | None:
    # Notion writes date-times back with milliseconds and a Z suffix, so compare
    # them after bringing both sides to the form the tool writes.
    if start is None or "T" not in start:
        return start
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return start
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_instant(moment)


def _copy(config: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    for key, value in config.items():
        copied[key] = (
            [dict(item) for item in value] if isinstance(value, list) else value
        )
    return copied
