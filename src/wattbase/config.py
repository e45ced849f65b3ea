"""One typed Settings object; every field reads from a ``WATTBASE_`` environment variable."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Server and CLI settings. ``wattbase serve --help`` and the README list them."""

    model_config = SettingsConfigDict(env_prefix="WATTBASE_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the server listens on.")
    data_dir: Path = Field(
        Path("data"), description="Folder of the embedded store (used when no database URL)."
    )
    database_url: str | None = Field(
        None,
        description="postgresql://... selects the PostgreSQL backend; unset means embedded.",
    )
    database_pool_size: int = Field(
        10,
        gt=0,
        description="Most PostgreSQL connections per process (each --workers process has its own).",
    )
    max_body_bytes: int = Field(
        32 * MiB, gt=0, description="Largest request body accepted on the time-series paths (413)."
    )
    max_dataset_bytes: int = Field(
        64 * MiB, gt=0, description="Largest dataset content accepted (413 above it)."
    )
    max_raw_points: int = Field(
        100_000,
        gt=0,
        description="Most raw points in one answer; the rest is offered as a next page.",
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    token_ttl_seconds: int = Field(
        3600, gt=0, description="Lifetime of an apollo access token from POST /oauth/token."
    )

    backup_dir: Path | None = Field(
        None,
        description="Folder where POST /admin/backup writes snapshots (default: 'backups' "
        "beside the data folder).",
    )
    admin_domain: str | None = Field(
        None,
        description="The operator's domain: its admin-scoped keys may run server-wide "
        "operations (POST /admin/backup). Unset: none may, over HTTP.",
    )
    admin_secret: SecretStr | None = Field(
        None,
        description="For 'wattbase backup' against a running server: the secret of an "
        "admin key of the admin domain.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("WATTBASE_DATABASE_URL must start with postgresql://")
        return value or None

    @property
    def embedded_path(self) -> Path:
        return self.data_dir / "wattbase.duckdb"

    @property
    def backup_folder(self) -> Path:
        return self.backup_dir or self.data_dir.absolute().parent / "backups"


def settings_table() -> str:
    """The Markdown table of every setting, as the README shows it (a test keeps them equal)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else f"`{field.default}`"
        rows.append(f"| `WATTBASE_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows) + "\n"
