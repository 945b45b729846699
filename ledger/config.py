"""Settings from environment variables, an optional TOML file and command-line flags.

Precedence, highest first: flags, environment (including a `.env` file, which never
overrides a variable already set), the TOML file, built-in defaults.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from ledger.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

APP_NAME = "gumroad-ledger"
DEFAULT_GUMROAD_API_URL = "https://api.gumroad.com"
DEFAULT_NOTION_API_URL = "https://api.notion.com"
DEFAULT_POLL_INTERVAL = "10m"
MIN_POLL_INTERVAL_SECONDS = 1.0

# Variable name -> key in the TOML file. The `MY_*` fallbacks are the names the
# widely copied tutorial script used, so its users keep their secrets as they are.
TOML_KEYS = {
    "GUMROAD_ACCESS_TOKEN": "gumroad_access_token",
    "NOTION_TOKEN": "notion_token",
    "LEDGER_DATABASE_URL": "database_url",
    "LEDGER_TIMEZONE": "timezone",
    "LEDGER_POLL_INTERVAL": "poll_interval",
    "NOTION_PARENT_PAGE_ID": "notion_parent_page_id",
    "NOTION_PRODUCTS_DATABASE_ID": "notion_products_database_id",
    "NOTION_DAILY_DATABASE_ID": "notion_daily_database_id",
    "GUMROAD_API_URL": "gumroad_api_url",
    "NOTION_API_URL": "notion_api_url",
}
# Global command-line flags that override a variable, for naming the bad value.
FLAG_NAMES = {
    "LEDGER_DATABASE_URL": "--database-url",
    "LEDGER_TIMEZONE": "--timezone",
    "GUMROAD_API_URL": "--gumroad-api-url",
    "NOTION_API_URL": "--notion-api-url",
}
FALLBACK_VARIABLES = {
    "GUMROAD_ACCESS_TOKEN": "MY_GUMROAD_SECRET_TOKEN",
    "NOTION_TOKEN": "MY_NOTION_SECRET_TOKEN",
}

_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Secret:
    """A token that never shows itself in a repr, a log line or an f-string."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    """Validated configuration for one command."""

    database_url: URL
    timezone: ZoneInfo
    poll_interval: float
    gumroad_api_url: str
    notion_api_url: str
    gumroad_token: Secret | None = None
    notion_token: Secret | None = None
    notion_parent_page_id: str | None = None
    notion_products_database_id: str | None = None
    notion_daily_database_id: str | None = None
    products_properties: Mapping[str, str] = field(default_factory=dict)
    daily_properties: Mapping[str, str] = field(default_factory=dict)
    config_file: Path | None = None

    def require_gumroad_token(self) -> str:
        """Return the Gumroad token, or raise a configuration error naming the fix."""
        if self.gumroad_token is None:
            raise ConfigError(
                "GUMROAD_ACCESS_TOKEN is not set: create an access token with the "
                "view_sales scope in Gumroad (Settings > Advanced > Applications) "
                "and export it as GUMROAD_ACCESS_TOKEN",
                name="GUMROAD_ACCESS_TOKEN",
            )
        return self.gumroad_token.reveal()

    def require_notion_token(self) -> str:
        """Return the Notion token, or raise a configuration error naming the fix."""
        if self.notion_token is None:
            raise ConfigError(
                "NOTION_TOKEN is not set: create an internal integration at "
                "notion.so/profile/integrations and export its secret as NOTION_TOKEN",
                name="NOTION_TOKEN",
            )
        return self.notion_token.reveal()

    def secrets(self) -> list[str]:
        """Return the token values, so log output can be scrubbed of them."""
        tokens = (self.gumroad_token, self.notion_token)
        return [token.reveal() for token in tokens if token is not None]


def default_database_path() -> Path:
    """Return the ledger file used when LEDGER_DATABASE_URL is not set."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "ledger.sqlite"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def parse_interval(text: str, *, name: str = "LEDGER_POLL_INTERVAL") -> float:
    """Parse `600`, `90s`, `10m`, `1h` or `1h30m` into seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    elif value and _INTERVAL_PART.sub("", value) == "":
        parts = _INTERVAL_PART.findall(value)
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    else:
        raise ConfigError(
            f"{name}={text!r} is not a valid interval: use seconds (600) or a "
            "duration such as 90s, 10m, 1h or 1h30m",
            name=name,
        )
    if seconds < MIN_POLL_INTERVAL_SECONDS:
        raise ConfigError(
            f"{name}={text!r} is too short: the interval must be at least "
            f"{MIN_POLL_INTERVAL_SECONDS:g} second",
            name=name,
        )
    return seconds


def parse_timezone(text: str, *, name: str = "LEDGER_TIMEZONE") -> ZoneInfo:
    """Return the IANA zone named by `text`."""
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(
            f"{name}={text!r} is not a known IANA time zone: use a name such as "
            "Europe/Berlin, America/New_York or UTC",
            name=name,
        ) from error


def parse_api_url(text: str, *, name: str) -> str:
    """Validate an http(s) base URL and return it without a trailing slash."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{name}={text!r} is not a valid URL: expected http(s)://host[:port]",
            name=name,
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{name} must be a plain base URL without credentials, query or "
            f"fragment, got {_hide_credentials(text)!r}",
            name=name,
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise ConfigError(f"{name}={text!r} has an invalid port", name=name) from error
    return text.strip().rstrip("/")


def parse_database_url(text: str, *, name: str = "LEDGER_DATABASE_URL") -> URL:
    """Parse a SQLAlchemy URL; a bare file path is taken as a SQLite file."""
    from sqlalchemy.exc import ArgumentError

    value = text.strip()
    if value and "://" not in value:
        return _make_url(f"sqlite:///{Path(value).expanduser().resolve()}")
    try:
        url = _make_url(value)
    except ArgumentError as error:
        raise ConfigError(
            f"{name}={_hide_credentials(value)!r} is not a valid database URL: "
            "use sqlite:///path/to/ledger.sqlite or a file path",
            name=name,
        ) from error
    if url.get_backend_name() != "sqlite":
        raise ConfigError(
            f"{name}={_hide_credentials(value)!r} uses {url.get_backend_name()!r}: "
            "only SQLite ledgers are supported in this version "
            "(sqlite:///path/to/ledger.sqlite)",
            name=name,
        )
    return url


def _make_url(text: str) -> URL:
    # Imported on first use: SQLAlchemy takes about 0.3 s to import, which `--help`
    # and the commands that never open the ledger should not wait for.
    from sqlalchemy.engine import make_url

    return make_url(text)


def describe_database_url(url: URL) -> str:
    """Render a database URL for output, with any password hidden."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """Return the file behind a SQLite URL, or None for an in-memory database."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _hide_credentials(text: str) -> str:
    return re.sub(r"//([^:/@]+):([^@]*)@", r"//\1:***@", text)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (byte {error.start}): save it as UTF-8"
        ) from error


def read_env_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines from a `.env` file; `#` starts a comment."""
    values: dict[str, str] = {}
    for number, line in enumerate(_read_text(path, "env file").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").strip()
        key, separator, value = stripped.partition("=")
        if not separator or not key.strip():
            # The line may hold a token, so the message must not quote it.
            raise ConfigError(
                f"{path}:{number}: expected KEY=VALUE; fix or remove that line"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def read_config_file(path: Path) -> dict[str, Any]:
    """Read the TOML config file and reject keys this tool does not know."""
    try:
        data = tomllib.loads(_read_text(path, "config file"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error

    known = set(TOML_KEYS.values()) | {"notion"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"config file {path} has unknown key(s) {', '.join(unknown)}: "
            f"known keys are {', '.join(sorted(known))}"
        )
    return data


def _property_names(
    data: Mapping[str, Any], table: str, path: Path | None
) -> dict[str, str]:
    notion = data.get("notion", {})
    names = notion.get(table, {}) if isinstance(notion, Mapping) else {}
    if not isinstance(names, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) and value.strip()
        for key, value in names.items()
    ):
        raise ConfigError(
            f"config file {path}: [notion.{table}] must map property roles to "
            'non-empty names, for example Revenue = "Net revenue"'
        )
    return dict(names)


def load_settings(
    overrides: Mapping[str, str | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    env_file: Path | None = None,
) -> Settings:
    """Build validated settings.

    `overrides` maps variable names (as in the environment) to values from flags.
    """
    environment = dict(os.environ if environ is None else environ)
    dotenv = env_file if env_file is not None else Path(".env")
    if dotenv.is_file():
        for key, value in read_env_file(dotenv).items():
            environment.setdefault(key, value)
    elif env_file is not None:
        raise ConfigError(f"env file {env_file} does not exist")

    config_path = config_file or _config_path_from(environment)
    file_data = read_config_file(config_path) if config_path else {}

    sources: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        flag = (overrides or {}).get(name)
        if flag is not None:
            sources[name] = FLAG_NAMES.get(name, name)
            return flag
        for variable in (name, FALLBACK_VARIABLES.get(name)):
            if variable and environment.get(variable, "").strip():
                sources[name] = variable
                return environment[variable]
        value = file_data.get(TOML_KEYS[name])
        if value is None:
            return None
        sources[name] = f"{TOML_KEYS[name]} in {config_path}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(
                f"{sources[name]} is a TOML {type(value).__name__}, expected a "
                'string such as "10m"',
                name=TOML_KEYS[name],
            )
        return str(value)

    def label(name: str) -> str:
        """Name the setting as the user gave it: flag, variable or config key."""
        return sources.get(name, name)

    settings = _build(lookup, label, file_data, config_path)
    _check_property_names(settings)
    return settings


def _check_property_names(settings: Settings) -> None:
    """Reject unknown roles and shared names under [notion.*_properties] now.

    Every command loads settings, so a typo in the config file stops each of them,
    not only the ones that write to Notion.
    """
    from ledger.notion.layout import layouts

    layouts(settings)


def _config_path_from(environment: Mapping[str, str]) -> Path | None:
    explicit = environment.get("LEDGER_CONFIG", "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"LEDGER_CONFIG={explicit!r} does not exist: create the file or unset "
                "the variable",
                name="LEDGER_CONFIG",
            )
        return path
    default = default_config_path()
    return default if default.is_file() else None


def _build(
    lookup: Any,
    label: Any,
    file_data: Mapping[str, Any],
    config_path: Path | None,
) -> Settings:
    database = lookup("LEDGER_DATABASE_URL")
    timezone = lookup("LEDGER_TIMEZONE")
    gumroad_token = lookup("GUMROAD_ACCESS_TOKEN")
    notion_token = lookup("NOTION_TOKEN")

    return Settings(
        database_url=(
            parse_database_url(database, name=label("LEDGER_DATABASE_URL"))
            if database
            else _make_url(f"sqlite:///{default_database_path()}")
        ),
        timezone=(
            parse_timezone(timezone, name=label("LEDGER_TIMEZONE"))
            if timezone
            else _local_zone()
        ),
        poll_interval=parse_interval(
            lookup("LEDGER_POLL_INTERVAL") or DEFAULT_POLL_INTERVAL,
            name=label("LEDGER_POLL_INTERVAL"),
        ),
        gumroad_api_url=parse_api_url(
            lookup("GUMROAD_API_URL") or DEFAULT_GUMROAD_API_URL,
            name=label("GUMROAD_API_URL"),
        ),
        notion_api_url=parse_api_url(
            lookup("NOTION_API_URL") or DEFAULT_NOTION_API_URL,
            name=label("NOTION_API_URL"),
        ),
        gumroad_token=_secret(gumroad_token, label("GUMROAD_ACCESS_TOKEN")),
        notion_token=_secret(notion_token, label("NOTION_TOKEN")),
        notion_parent_page_id=_notion_id(lookup, label, "NOTION_PARENT_PAGE_ID"),
        notion_products_database_id=_notion_id(
            lookup, label, "NOTION_PRODUCTS_DATABASE_ID"
        ),
        notion_daily_database_id=_notion_id(lookup, label, "NOTION_DAILY_DATABASE_ID"),
        products_properties=_property_names(
            file_data, "products_properties", config_path
        ),
        daily_properties=_property_names(file_data, "daily_properties", config_path),
        config_file=config_path,
    )


def _secret(value: str | None, name: str) -> Secret | None:
    if value is None or not value.strip():
        return None
    token = value.strip()
    if (
        any(character.isspace() for character in token)
        or not token.isprintable()
        or not token.isascii()
    ):
        # The value itself is a secret, so the message must not quote it.
        raise ConfigError(
            f"{name} contains whitespace, control or non-ASCII characters (such as "
            "curly quotes): copy the token again as plain text",
            name=name,
        )
    return Secret(token)


def _notion_id(lookup: Any, label: Any, name: str) -> str | None:
    value = lookup(name)
    if value is None or not value.strip():
        return None
    from ledger.notion.ids import parse_notion_id

    return parse_notion_id(value, name=label(name))


def _local_zone() -> ZoneInfo:
    """Return the machine's IANA zone, or UTC when it cannot be determined."""
    tz_variable = os.environ.get("TZ", "").strip().lstrip(":")
    candidates = [tz_variable] if tz_variable else []
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    for candidate in candidates:
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")
