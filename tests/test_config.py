"""Configuration parsing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import (
    Secret,
    load_settings,
    parse_database_url,
    parse_interval,
    read_env_file,
)
from ledger.errors import ConfigError
from tests.conftest import GUMROAD_TOKEN, NOTION_TOKEN


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("600", 600),
        ("90s", 90),
        ("10m", 600),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2.5", 2.5),
    ],
    ids=["bare", "seconds", "minutes", "hours", "combined", "fraction"],
)
def test_interval_forms_parse(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "ten", "10x", "-5", "0", "m10", "1h 30m"],
    ids=["empty", "word", "unit", "negative", "zero", "unit-first", "space"],
)
def test_bad_interval_names_variable(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_interval(text)

    assert "LEDGER_POLL_INTERVAL" in str(raised.value)
    assert raised.value.exit_code == 2


CASES = [
    ({"LEDGER_TIMEZONE": "Mars/Olympus"}, "LEDGER_TIMEZONE", "Mars/Olympus"),
    ({"LEDGER_POLL_INTERVAL": "often"}, "LEDGER_POLL_INTERVAL", "often"),
    ({"GUMROAD_API_URL": "ftp://x"}, "GUMROAD_API_URL", "ftp://x"),
    ({"NOTION_API_URL": "notaurl"}, "NOTION_API_URL", "notaurl"),
    (
        {"LEDGER_DATABASE_URL": "postgresql://u:pw@db/x"},
        "LEDGER_DATABASE_URL",
        "postgresql",
    ),
    ({"NOTION_PARENT_PAGE_ID": "not-an-id"}, "NOTION_PARENT_PAGE_ID", "not-an-id"),
]


@pytest.mark.parametrize(("environ", "name", "value"), CASES, ids=[c[1] for c in CASES])
def test_bad_value_names_variable_and_value(
    environ: dict[str, str], name: str, value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=environ)

    assert name in str(raised.value)
    assert value in str(raised.value)


def test_database_password_hidden_in_error() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"LEDGER_DATABASE_URL": "postgresql://u:hunter2@db/x"})

    assert "hunter2" not in str(raised.value)


def test_tutorial_variable_names_accepted() -> None:
    settings = load_settings(
        environ={
            "MY_GUMROAD_SECRET_TOKEN": GUMROAD_TOKEN,
            "MY_NOTION_SECRET_TOKEN": NOTION_TOKEN,
        }
    )

    assert settings.require_gumroad_token() == GUMROAD_TOKEN
    assert settings.require_notion_token() == NOTION_TOKEN


def test_missing_token_says_fix() -> None:
    settings = load_settings(environ={})

    with pytest.raises(ConfigError, match="GUMROAD_ACCESS_TOKEN is not set"):
        settings.require_gumroad_token()


def test_secret_repr_hides_value() -> None:
    assert GUMROAD_TOKEN not in repr(Secret(GUMROAD_TOKEN))
    assert GUMROAD_TOKEN not in f"{Secret(GUMROAD_TOKEN)}"


def test_settings_repr_hides_tokens() -> None:
    settings = load_settings(environ={"GUMROAD_ACCESS_TOKEN": GUMROAD_TOKEN})

    assert GUMROAD_TOKEN not in repr(settings)


def test_token_with_space_rejected_without_echo() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"NOTION_TOKEN": "secret part two"})

    assert "secret part two" not in str(raised.value)
    assert "NOTION_TOKEN" in str(raised.value)


def test_flags_override_environment() -> None:
    settings = load_settings(
        {"LEDGER_TIMEZONE": "Asia/Tokyo"}, environ={"LEDGER_TIMEZONE": "Europe/Paris"}
    )

    assert settings.timezone.key == "Asia/Tokyo"


def test_env_file_does_not_override_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('LEDGER_TIMEZONE="Europe/Paris"\nLEDGER_POLL_INTERVAL=5m\n')

    settings = load_settings(environ={"LEDGER_TIMEZONE": "UTC"}, env_file=env_file)

    assert settings.timezone.key == "UTC"
    assert settings.poll_interval == 300


def test_bad_env_file_line_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("JUSTAWORD\n")

    with pytest.raises(ConfigError, match=r"\.env:1"):
        read_env_file(env_file)


def test_config_file_supplies_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'timezone = "Europe/Berlin"\npoll_interval = "1h"\n'
        '[notion.products_properties]\nRevenue = "Net revenue"\n'
    )

    settings = load_settings(environ={}, config_file=config)

    assert settings.timezone.key == "Europe/Berlin"
    assert settings.poll_interval == 3600
    assert settings.products_properties == {"Revenue": "Net revenue"}


def test_config_file_unknown_key_rejected(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('timezon = "UTC"\n')

    with pytest.raises(ConfigError, match="timezon"):
        load_settings(environ={}, config_file=config)


def test_bare_path_is_sqlite_file(tmp_path: Path) -> None:
    url = parse_database_url(str(tmp_path / "x.sqlite"))

    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "x.sqlite")


def test_bad_flag_value_names_flag() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"LEDGER_TIMEZONE": "Europe/Berln"}, environ={})

    assert "--timezone='Europe/Berln'" in str(raised.value)


def test_bad_config_file_value_names_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('poll_interval = "often"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, config_file=config)

    assert f"poll_interval in {config}" in str(raised.value)


def test_fallback_variable_named_in_error() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"MY_NOTION_SECRET_TOKEN": "two words"})

    assert "MY_NOTION_SECRET_TOKEN" in str(raised.value)


@pytest.mark.parametrize("kind", ["env", "toml"])
def test_non_utf8_file_rejected_clearly(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("x.env" if kind == "env" else "x.toml")
    path.write_bytes(b'timezone = "Europe/Z\xfcrich"\n')

    with pytest.raises(ConfigError, match="not UTF-8 text"):
        if kind == "env":
            read_env_file(path)
        else:
            load_settings(environ={}, config_file=path)


def test_config_value_of_wrong_type_rejected(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("database_url = [1, 2]\n")

    with pytest.raises(ConfigError, match="database_url in .* is a TOML list"):
        load_settings(environ={}, config_file=config)


def test_curly_quote_in_token_rejected_without_echo() -> None:
    token = "ntn_abc123\u201d"

    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"NOTION_TOKEN": token})

    assert "non-ASCII" in str(raised.value)
    assert token not in str(raised.value)


def test_bad_env_line_not_quoted(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GUMROAD_ACCESS_TOKEN secret-value-123\n")

    with pytest.raises(ConfigError) as raised:
        read_env_file(env_file)

    assert "secret-value-123" not in str(raised.value)
