"""ExperimentRun: one run of a toy experiment, and the job that computes it.

The row is the single source of truth for the job: its status, progress and heartbeat are
written by whichever process runs it (the embedded pool or a task-engine worker).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.experiments.base import Verdict
from app.models.base import Base, Timestamped
from app.models.common import db_enum


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


ACTIVE = (RunStatus.queued, RunStatus.running)
FINISHED = (RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled)


class ExperimentRun(Timestamped, Base):
    __tablename__ = "experiment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment: Mapped[str] = mapped_column(String(100), index=True)
    preset: Mapped[str] = mapped_column(String(20))
    # The preset's parameters unchanged (quick/full/control): runs a setting may endorse.
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    code_version: Mapped[str] = mapped_column(String(80))
    # sha256 of experiment, parameters, seed and code version: the result cache's key.
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[RunStatus] = mapped_column(db_enum(RunStatus, "run_status"), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[Verdict | None] = mapped_column(db_enum(Verdict, "verdict"), index=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    series: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    checks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    libraries: Mapped[dict[str, str] | None] = mapped_column(JSON)
    requested_by: Mapped[str | None] = mapped_column(String(200))
