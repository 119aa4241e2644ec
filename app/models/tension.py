"""Tension: an open question between claims/perspectives, with sides and status history."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped, utcnow
from app.models.common import (
    CreateModel,
    Id,
    InstantIn,
    NonEmptyText,
    ORMModel,
    ShortText,
    Slug,
    TensionStatus,
    Timestamps,
    UpdateModel,
    UTCDateTime,
    db_enum,
)
from app.models.links import (
    side_claims,
    side_perspectives,
    side_sources,
    status_change_sources,
    tension_sources,
)


class Tension(Timestamped, Base):
    __node_type__ = "tension"
    __tablename__ = "tensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), index=True)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[TensionStatus] = mapped_column(
        db_enum(TensionStatus, "tension_status"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    sides: Mapped[list["TensionSide"]] = relationship(
        order_by="TensionSide.position", cascade="all, delete-orphan", passive_deletes=True
    )
    status_history: Mapped[list["TensionStatusChange"]] = relationship(
        order_by="TensionStatusChange.changed_at, TensionStatusChange.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    sources = relationship(
        "Source", secondary=tension_sources, order_by=tension_sources.c.position, viewonly=True
    )

    @property
    def source_ids(self) -> list[int]:
        return [s.id for s in self.sources]


class TensionSide(Base):
    __tablename__ = "tension_sides"

    id: Mapped[int] = mapped_column(primary_key=True)
    tension_id: Mapped[int] = mapped_column(
        ForeignKey("tensions.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0)

    claims = relationship(
        "Claim", secondary=side_claims, order_by=side_claims.c.position, viewonly=True
    )
    perspectives = relationship(
        "Perspective",
        secondary=side_perspectives,
        order_by=side_perspectives.c.position,
        viewonly=True,
    )
    sources = relationship(
        "Source", secondary=side_sources, order_by=side_sources.c.position, viewonly=True
    )

    @property
    def claim_ids(self) -> list[int]:
        return [c.id for c in self.claims]

    @property
    def perspective_ids(self) -> list[int]:
        return [p.id for p in self.perspectives]

    @property
    def source_ids(self) -> list[int]:
        return [s.id for s in self.sources]


class TensionStatusChange(Base):
    __tablename__ = "tension_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tension_id: Mapped[int] = mapped_column(
        ForeignKey("tensions.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[TensionStatus | None] = mapped_column(db_enum(TensionStatus, "from_status"))
    to_status: Mapped[TensionStatus] = mapped_column(db_enum(TensionStatus, "to_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    sources = relationship(
        "Source",
        secondary=status_change_sources,
        order_by=status_change_sources.c.position,
        viewonly=True,
    )

    @property
    def source_ids(self) -> list[int]:
        return [s.id for s in self.sources]


# ---------------------------------------------------------------- API schemas


class SideIn(ORMModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    label: ShortText
    claim_ids: list[Id] = Field(default_factory=list)
    perspective_ids: list[Id] = Field(default_factory=list)
    source_ids: list[Id] = Field(default_factory=list)


class ClaimBrief(BaseModel):
    id: int
    slug: str
    text: str
    status: str
    evidence_summary: dict[str, Any]


class PerspectiveBrief(BaseModel):
    id: int
    slug: str
    label: str


class RunEvidence(BaseModel):
    run_id: int
    experiment: str
    seed: int
    verdict: str | None
    claim_id: int
    evidence_id: int
    relation: str = Field(..., examples=["replicates"])


class SidePublic(SideIn):
    id: int
    claims: list[ClaimBrief] = Field(default_factory=list)
    perspectives: list[PerspectiveBrief] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="Evidence on the side's claims: supports / contests rows and works.",
    )
    experiment_runs: list[RunEvidence] = Field(
        default_factory=list,
        description="Endorsed experiment runs on the side's claims: replicates supports the "
        "side, fails_to_replicate contests it.",
    )


class StatusChangePublic(ORMModel):
    from_status: TensionStatus | None
    to_status: TensionStatus
    reason: str | None
    changed_by: str | None
    changed_at: UTCDateTime
    source_ids: list[Id]


class TensionStatusChangeIn(CreateModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "narrowing",
                    "reason": "A replication settles one of the two regimes.",
                    "source_ids": [12],
                    "changed_by": "curator",
                }
            ]
        }
    )
    status: TensionStatus
    reason: NonEmptyText
    source_ids: list[Id] = Field(default_factory=list, description="Sources justifying it.")
    changed_by: str | None = Field(None, max_length=200, description="Curator name.")
    changed_at: InstantIn | None = Field(
        None, description="Default: now. Not before the last recorded change, not in the future."
    )


TENSION_EXAMPLE: dict[str, Any] = {
    "slug": "memorization-necessity",
    "thread_id": 1,
    "problem_id": 1,
    "title": "Is memorization necessary?",
    "question": "Is memorizing rare examples needed for learning, harmful, or incidental?",
    "status": "open",
    "source_ids": [44, 12],
    "sides": [
        {"label": "Necessary", "claim_ids": [7], "perspective_ids": [5], "source_ids": [44]},
        {"label": "Harmful", "claim_ids": [8], "perspective_ids": [6], "source_ids": [12]},
    ],
}


class TensionCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TENSION_EXAMPLE]})
    slug: Slug | None = None
    thread_id: Id | None = None
    problem_id: Id | None = None
    title: ShortText
    question: NonEmptyText
    status: TensionStatus = TensionStatus.open
    source_ids: list[Id] = Field(default_factory=list)
    sides: list[SideIn] = Field(default_factory=list)


class TensionUpdate(UpdateModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"question": "A sharper statement of the question."}]}
    )
    slug: Slug | None = None
    thread_id: Id | None = None
    problem_id: Id | None = None
    title: ShortText | None = None
    question: NonEmptyText | None = None
    source_ids: list[Id] | None = None
    sides: list[SideIn] | None = Field(None, description="Replaces all sides.")


class TensionPublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 2, **TENSION_EXAMPLE}]}
    )
    slug: str
    thread_id: Id | None
    problem_id: Id | None
    title: str
    question: str
    status: TensionStatus
    source_ids: list[Id]
    sides: list[SidePublic]
    status_history: list[StatusChangePublic]
