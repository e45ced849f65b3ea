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
    max_points_per_request: int = Field(
        1_000_000, gt=0, description="Most points one write request may carry (413)."
    )
    max_tsquery_series: int = Field(
        100, gt=0, description="Most time series one v2 tsquery may ask for (400)."
    )
    max_json_depth: int = Field(
        32, gt=0, le=1000, description="Deepest nesting of a JSON request body (400)."
    )
    max_header_bytes: int = Field(
        16 * 1024, gt=0, description="Largest request line and headers together (431)."
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a connection has to send a request's headers."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest wait for the next piece of a request body (408)."
    )
    keep_alive_seconds: int = Field(
        5, gt=0, description="Time an idle keep-alive connection stays open."
    )
    read_cache_points: int = Field(
        4_000_000,
        ge=0,
        description="Points of series read again and again that the embedded store keeps in "
        "memory for raw reads (16 bytes each; a series of up to a quarter of them); 0: none.",
    )
    switch_interval_us: int = Field(
        50,
        ge=1,
        le=1_000_000,
        description="Microseconds a busy Python thread keeps the GIL from one that waits for "
        "it (Python's default: 5000); each store call waits for it many times.",
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    token_ttl_seconds: int = Field(
        3600, gt=0, description="Lifetime of an apollo access token from POST /oauth/token."
    )

    rate_per_second: float = Field(
        1000.0,
        gt=0,
        description="Requests per second each API key may make (a domain may have its own).",
    )
    rate_burst: int = Field(
        2000, ge=1, description="Requests an API key may make at once before the rate applies."
    )
    auth_failures_per_second: float = Field(
        1.0, gt=0, description="Failed authentications per second allowed from one address."
    )
    auth_failures_burst: int = Field(
        20, ge=1, description="Failed authentications from one address before the rate applies."
    )

    cors_origins: str | None = Field(
        None,
        description="Comma-separated origins browsers may call the API from (* for any); "
        "unset: no CORS.",
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
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in (self.cors_origins or "").split(",") if o.strip()]

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
