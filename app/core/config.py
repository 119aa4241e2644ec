"""Settings read from the environment (and an optional .env file)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'atlas.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    database_url: str = Field(default_factory=default_database_url)
    # How long a SQLite writer waits for a lock before giving up (milliseconds).
    sqlite_busy_timeout_ms: int = 15000
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    max_body_bytes: int = Field(20_000_000, description="Larger request bodies get 413.")
    # Outside APIs (Crossref, arXiv, Semantic Scholar, OpenAlex).
    contact_email: str = Field("atlas-admin@example.org", description="Sent in the User-Agent.")
    lookup_timeout_s: float = Field(5.0, gt=0, le=60, description="Per HTTP attempt.")
    lookup_retries: int = Field(2, ge=0, le=5, description="Retries on 429, 5xx, network errors.")
    lookup_deadline_s: float = Field(
        12.0, gt=0, le=120, description="Whole look-up, retries included."
    )
    semantic_scholar_api_key: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
