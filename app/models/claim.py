"""Claim (with scope conditions and dated status history) and Evidence."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped, utcnow
from app.models.common import (
    ClaimKind,
    ClaimStatus,
    CreateModel,
    EvidenceRelation,
    Id,
    NonEmptyText,
    ORMModel,
    Slug,
    Timestamps,
    UpdateModel,
    UTCDateTime,
    db_enum,
)


class Claim(Timestamped, Base):
    __node_type__ = "claim"
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[ClaimKind] = mapped_column(db_enum(ClaimKind, "claim_kind"), index=True)
    status: Mapped[ClaimStatus] = mapped_column(db_enum(ClaimStatus, "claim_status"), index=True)
    scope: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)
    experiment: Mapped[str | None] = mapped_column(String(100), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    status_history: Mapped[list["ClaimStatusChange"]] = relationship(
        order_by="ClaimStatusChange.changed_at, ClaimStatusChange.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ClaimStatusChange(Base):
    __tablename__ = "claim_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ClaimStatus | None] = mapped_column(db_enum(ClaimStatus, "from_status"))
    to_status: Mapped[ClaimStatus] = mapped_column(db_enum(ClaimStatus, "to_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Evidence(Timestamped, Base):
    """A typed link from a source, or an endorsed experiment run, to a claim."""

    __node_type__ = "evidence"
    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("claim_id", "source_id", "relation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    # Set instead of source_id when a curator endorsed an experiment run (one row per run).
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment_runs.id"), unique=True, index=True
    )
    relation: Mapped[EvidenceRelation] = mapped_column(
        db_enum(EvidenceRelation, "evidence_relation"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(200))


# ---------------------------------------------------------------- API schemas


class Scope(BaseModel):
    """Conditions under which a claim holds; null means not limited."""

    model_config = ConfigDict(extra="forbid")
    architecture: str | None = Field(None, max_length=300, examples=["two-layer networks"])
    regime: str | None = Field(None, max_length=300, examples=["mean-field, large width"])
    data: str | None = Field(None, max_length=300, examples=["synthetic Gaussian inputs"])
    scale: str | None = Field(None, max_length=300)


CLAIM_EXAMPLE: dict[str, Any] = {
    "slug": "memorization-necessary",
    "problem_id": 1,
    "text": "Fitting rare examples of a long-tailed distribution requires memorizing them.",
    "kind": "theoretical",
    "status": "contested",
    "scope": {"architecture": None, "regime": "long-tailed data", "data": None, "scale": None},
}


class ClaimCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_EXAMPLE]})
    slug: Slug | None = None
    problem_id: Id | None = None
    text: NonEmptyText
    kind: ClaimKind
    status: ClaimStatus = ClaimStatus.open
    scope: Scope = Field(default_factory=Scope)
    experiment: str | None = Field(None, max_length=100, description="Experiment testing it.")
    note: str | None = None


class ClaimUpdate(UpdateModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "contested", "status_reason": "Three submissions dispute it."}]
        }
    )
    slug: Slug | None = None
    problem_id: Id | None = None
    text: NonEmptyText | None = None
    kind: ClaimKind | None = None
    status: ClaimStatus | None = None
    scope: Scope | None = None
    experiment: str | None = Field(None, max_length=100)
    note: str | None = None
    status_reason: str | None = Field(None, description="Why the status changed (kept in history).")
    changed_by: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _reason_needs_status(self) -> "ClaimUpdate":
        if self.status_reason and self.status is None:
            raise ValueError("status_reason is only meaningful together with status")
        return self


class ClaimStatusChangePublic(ORMModel):
    from_status: ClaimStatus | None
    to_status: ClaimStatus
    reason: str | None
    changed_by: str | None
    changed_at: UTCDateTime


class EvidenceSummary(BaseModel):
    """Evidence on a claim (or a tension side), with copies of one work counted once."""

    supports: int = Field(..., description="Evidence rows that support or replicate.")
    contests: int = Field(..., description="Evidence rows that contest or fail to replicate.")
    supporting_works: int
    contesting_works: int
    score: float = Field(..., description="2·S·C/(S+C) over works; see GET /claims.")


class RunTally(BaseModel):
    """Finished runs of the experiment that tests a claim (listed once they finish);
    control runs are left out: they test the method, not the claim."""

    succeeded: int
    reproduced: int
    not_reproduced: int
    inconclusive: int
    failed: int
    endorsed: int
    latest_run_id: int | None = Field(None, description="See GET /claims/{id}/runs.")


class ClaimPublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 7, **CLAIM_EXAMPLE}]}
    )
    slug: str
    problem_id: Id | None
    text: str
    kind: ClaimKind
    status: ClaimStatus
    scope: Scope
    experiment: str | None
    note: str | None
    status_history: list[ClaimStatusChangePublic]
    evidence_summary: EvidenceSummary | None = None
    runs: RunTally | None = Field(None, description="Null when no experiment tests the claim.")


EVIDENCE_EXAMPLE: dict[str, Any] = {
    "claim_id": 7,
    "source_id": 44,
    "relation": "supports",
    "note": "States and proves the long-tail argument.",
    "recorded_by": "curator",
}


class EvidenceCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EVIDENCE_EXAMPLE]})
    claim_id: Id
    source_id: Id
    relation: EvidenceRelation
    note: str | None = None
    recorded_by: str | None = Field(None, max_length=200)


class EvidenceUpdate(UpdateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"relation": "refines"}]})
    relation: EvidenceRelation | None = None
    note: str | None = None
    recorded_by: str | None = Field(None, max_length=200)


class EvidencePublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 3, **EVIDENCE_EXAMPLE}]}
    )
    claim_id: Id
    source_id: Id | None
    run_id: Id | None = Field(None, description="Set when the evidence is an endorsed run.")
    relation: EvidenceRelation
    note: str | None
    recorded_by: str | None
