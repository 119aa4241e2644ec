"""Settings read from the environment (and an optional .env file)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


DEV_SECRET = "development-only-secret"  # refused outside development and tests


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'atlas.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    database_url: str = Field(default_factory=default_database_url)
    # How long a SQLite writer waits for a lock before giving up (milliseconds).
    sqlite_busy_timeout_ms: int = 15000
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    plots_dir: Path = Field(PROJECT_ROOT / "var" / "plots", description="Cached run plots.")
    max_body_bytes: int = Field(20_000_000, description="Larger request bodies get 413.")
    # Outside APIs (Crossref, arXiv, Semantic Scholar, OpenAlex).
    contact_email: str = Field("atlas-admin@example.org", description="Sent in the User-Agent.")
    lookup_timeout_s: float = Field(5.0, gt=0, le=60, description="Per HTTP attempt.")
    lookup_retries: int = Field(2, ge=0, le=5, description="Retries on 429, 5xx, network errors.")
    lookup_deadline_s: float = Field(
        12.0, gt=0, le=120, description="Whole look-up, retries included."
    )
    semantic_scholar_api_key: str | None = None
    # Experiment runs (jobs).
    job_runner: Literal["embedded", "dramatiq", "none"] = Field(
        "embedded",
        description="embedded: a local process pool runs jobs; dramatiq: separate `atlas "
        "worker` processes take them from Redis; none: only queue them.",
    )
    job_workers: int = Field(1, ge=1, le=32, description="Processes in the embedded pool.")
    job_queue_limit: int = Field(50, ge=1, description="Queued runs beyond this get 429.")
    job_stale_after_s: float = Field(
        60.0, gt=0, description="A running job without a heartbeat this long is lost."
    )
    job_time_limit_s: float = Field(
        3600.0, gt=0, description="A run still training after this long is stopped and failed."
    )
    job_max_attempts: int = Field(2, ge=1, le=10, description="Tries before a lost job fails.")
    job_sweep_every_s: float = Field(10.0, gt=0, description="How often lost jobs are looked for.")
    auto_endorse_presets: bool = Field(
        False, description="Endorse finished quick/full preset runs as evidence automatically."
    )
    # Jobs on Dramatiq (job_runner="dramatiq"): the API enqueues, `atlas worker` runs them.
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="The Dramatiq broker.")
    dramatiq_queue: str = Field(
        "atlas-runs",
        pattern=r"^[a-zA-Z_][a-zA-Z0-9._-]*$",
        description="Queue of run messages; the API and its workers must use the same one.",
    )

    # Watches: saved queries polled on a schedule into each thread's inbox.
    watch_scheduler: bool = Field(
        True, description="Poll due watches from this server process (off: `atlas watches poll`)."
    )
    watch_tick_s: float = Field(
        30.0, gt=0, description="How often the scheduler looks for due watches."
    )
    watch_page_size: int = Field(50, ge=1, le=100, description="Items asked per provider page.")
    watch_max_pages: int = Field(
        3, ge=1, le=20, description="Pages a poll reads back until one holds nothing new."
    )
    watch_backoff_s: float = Field(
        60.0, gt=0, description="First retry delay after a failed poll; doubles per failure."
    )
    watch_private_hosts: bool = Field(
        False,
        description="Let feed watches fetch localhost and private or link-local addresses.",
    )
    embeddings: Literal["auto", "off"] = Field(
        "auto",
        description="auto: rank suggestions with the sentence-embedding model when the "
        "`embeddings` extra is installed; off: always full-text similarity.",
    )

    # Access.
    secret_key: str = Field(
        DEV_SECRET, description="Signs session cookies; must be set outside development."
    )
    read_requires_token: bool = Field(False, description="Reads need a read-scope token too.")
    read_cache_mb: int = Field(
        64, ge=0, le=4096, description="Memory per server process for repeated API reads (0: off)."
    )
    sync_threads: int = Field(
        8,
        ge=1,
        le=256,
        description="Threads per server process that run synchronous request handlers.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )

    @model_validator(mode="after")
    def _secret_outside_development(self) -> "Settings":
        if self.environment not in ("development", "test") and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 16
        ):
            raise ValueError(
                f"SECRET_KEY must be set to a random value of 16+ characters when ENVIRONMENT "
                f"is {self.environment!r} (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
