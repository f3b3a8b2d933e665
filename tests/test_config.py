"""Settings: environment variables, a TOML file, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from wgs_tre.config import load_settings
from wgs_tre.errors import ConfigurationError


def test_defaults_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WGS_TRE_DATABASE_URL",
        "WGS_TRE_DATA_DIR",
        "WGS_TRE_POLICY_DIR",
        "WGS_TRE_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert (
        load_settings().store_url == f"sqlite:///{tmp_path / 'xdg' / 'wgs-tre' / 'governance.db'}"
    )

    config = tmp_path / "tre.toml"
    config.write_text('data_dir = "/srv/tre"\npolicy_dir = "/etc/tre/policies"\n')
    monkeypatch.setenv("WGS_TRE_CONFIG", str(config))
    settings = load_settings()
    assert settings.store_url == "sqlite:////srv/tre/governance.db"
    assert settings.policy_dir == Path("/etc/tre/policies")

    monkeypatch.setenv("WGS_TRE_DATABASE_URL", "postgresql+psycopg://tre@db/tre")
    assert load_settings().store_url == "postgresql+psycopg://tre@db/tre"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("data_dir = [1, 2]\n", "setting data_dir"),
        ("colour = 'red'\n", "setting colour"),
        ("data_dir = \n", "config file"),
    ],
)
def test_bad_settings_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    config = tmp_path / "tre.toml"
    config.write_text(content)
    monkeypatch.setenv("WGS_TRE_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_a_bad_database_url_is_a_configuration_error() -> None:
    from wgs_tre.store import Store

    with pytest.raises(ConfigurationError, match="not a database URL"):
        Store("not a url")
