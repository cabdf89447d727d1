"""Settings, read once from MEDCODE_* environment variables: the only place env vars are read."""

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.profiles import Profile

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _default_data_dir() -> Path | None:
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDCODE_", extra="ignore")

    data_dir: Path | None = Field(
        default_factory=_default_data_dir,
        description="Folder with cms/ and codiesp/ (default ../shared/data when it exists)",
    )
    var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Git-ignored folder for built catalogs, models and the SQLite database",
    )
    max_body_bytes: int = Field(
        default=4_000_000, ge=1024, description="Requests with a larger body are refused (413)"
    )
    log_level: str = "INFO"

    link_k: int = Field(default=10, ge=1, le=100, description="Near codes kept per mention")
    link_threshold: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Cosine similarity a near alias needs"
    )

    conventions: Profile = Field(
        default=Profile.US,
        description="Coding conventions that decide `recommended` when a request does not"
        " say: us (ICD-10-CM/PCS Official Guidelines) or learned (the training coders' habits)",
    )

    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the /admin API; the admin API is off while unset",
    )
    model_poll_seconds: float = Field(
        default=2.0,
        ge=0.0,
        description="How often the service checks the registry for a newly promoted model"
        " (0: never; the admin API still switches at once)",
    )

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the review database: sqlite:///<file> or"
        " postgresql+psycopg://user:password@host/db (default: sqlite:///<var_dir>/medcode.db)",
    )
    claim_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a coder's claim on an encounter lasts"
    )

    token_cache_seconds: float = Field(
        default=60.0,
        ge=0.0,
        description="How long a checked token is trusted without asking the database again"
        " (a revoked token is refused at the latest this long after)",
    )
    rate_limit_per_minute: float = Field(
        default=600.0, gt=0.0, description="Requests per minute each caller earns, per worker"
    )
    rate_limit_burst: int = Field(
        default=120, ge=1, description="Requests a caller may make at once before the rate applies"
    )
    failed_auth_per_minute: float = Field(
        default=30.0,
        gt=0.0,
        description="Refused tokens per minute one client address may send, per worker",
    )
    failed_auth_burst: int = Field(
        default=10, ge=1, description="Refused tokens one client address may send at once"
    )
    max_in_flight: int = Field(
        default=32, ge=1, description="Requests in flight per worker before new ones get 503"
    )
    request_seconds: float = Field(
        default=4.5,
        gt=0.0,
        description="Processor seconds reading one note may take, so that every /suggest"
        " of one caller answers within about 5 s on an idle worker; a note over it gets 422"
        " reading_budget_exceeded (time spent waiting for a busy worker is not counted)",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Purge stored note text older than this many days (codes and decisions"
        " stay); unset: keep it",
    )
    shutdown_seconds: float = Field(
        default=30.0, ge=0.0, description="How long a stopping worker lets requests finish"
    )

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'medcode.db'}"
        return self

    @property
    def catalog_dir(self) -> Path:
        return self.var_dir / "catalog"

    @property
    def lexicon_dir(self) -> Path:
        return self.var_dir / "lexicon"

    @property
    def models_dir(self) -> Path:
        return self.var_dir / "models"

    def require_data_dir(self) -> Path:
        if self.data_dir is None:
            raise ValueError(
                "no data folder: set MEDCODE_DATA_DIR to the folder holding cms/ and codiesp/"
            )
        return self.data_dir
