"""Typed settings for the library and the CLI.

Read from environment variables (``WGS_TRE_*``) and, if ``WGS_TRE_CONFIG`` names one, a TOML file;
environment variables win. Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from wgs_tre.errors import ConfigurationError

__all__ = ["MODELS_DIR", "Settings", "default_policy_dir", "load_settings"]

MODELS_DIR = "models"  # the model registry's documents, under the data directory


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wgs-tre"


def default_policy_dir() -> Path:
    """``policies/`` of the source checkout this package runs from (editable installs)."""
    return Path(__file__).resolve().parent.parent / "policies"


class Settings(BaseSettings):
    """Where the TRE keeps its state and reads its policies."""

    model_config = SettingsConfigDict(env_prefix="WGS_TRE_", extra="forbid")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for the embedded SQLite store and managed data.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the governance store, e.g. "
            "postgresql+psycopg://tre@db/tre. Default: SQLite file governance.db in data_dir."
        ),
    )
    policy_dir: Path = Field(
        default_factory=default_policy_dir,
        description="Directory of policy YAML files. A missing file grants nothing.",
    )

    audit_signing_key: Path | None = Field(
        default=None,
        description=(
            "Ed25519 key that signs audit checkpoints; only the audit signer should read it. "
            "Its public key is the same path + '.pub'. Default: audit/signing.key in data_dir."
        ),
    )
    audit_checkpoints: Path | None = Field(
        default=None,
        description=(
            "JSON Lines file of signed audit checkpoints, kept outside the database. "
            "Default: audit/checkpoints.jsonl in data_dir."
        ),
    )

    @property
    def signing_key_path(self) -> Path:
        return self.audit_signing_key or self.data_dir / "audit" / "signing.key"

    @property
    def checkpoints_path(self) -> Path:
        return self.audit_checkpoints or self.data_dir / "audit" / "checkpoints.jsonl"

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'governance.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from ``WGS_TRE_CONFIG`` (TOML), then the environment, then ``overrides``."""
    file_values: dict[str, Any] = {}
    config_path = os.environ.get("WGS_TRE_CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as fh:
                file_values = tomllib.load(fh)
        except OSError as exc:
            raise ConfigurationError(f"config file {config_path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config file {config_path}: {exc}") from None
    try:
        env_values = Settings().model_dump(exclude_unset=True)
        return Settings(**{**file_values, **env_values, **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"setting {field}: {first['msg']}") from None
