"""Perspective: an actor's position in a thread, with an evolution entry per version."""

from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped
from app.models.common import (
    CreateModel,
    EvolutionKind,
    Id,
    NonEmptyText,
    ORMModel,
    ShortText,
    Slug,
    Timestamps,
    UpdateModel,
    db_enum,
)
from app.models.links import perspective_claims, perspective_sources


class Perspective(Timestamped, Base):
    __node_type__ = "perspective"
    __tablename__ = "perspectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"), index=True)
    label: Mapped[str] = mapped_column(String(500))
    stance: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)

    evolution: Mapped[list["PerspectiveEvolution"]] = relationship(
        order_by="PerspectiveEvolution.version",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    sources = relationship(
        "Source",
        secondary=perspective_sources,
        order_by=perspective_sources.c.position,
        viewonly=True,
    )
    claims = relationship(
        "Claim",
        secondary=perspective_claims,
        order_by=perspective_claims.c.position,
        viewonly=True,
    )

    @property
    def source_ids(self) -> list[int]:
        return [s.id for s in self.sources]

    @property
    def claim_ids(self) -> list[int]:
        return [c.id for c in self.claims]


class PerspectiveEvolution(Base):
    """How a perspective moved in one narrative version of its thread."""

    __tablename__ = "perspective_evolutions"
    __table_args__ = (UniqueConstraint("perspective_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    perspective_id: Mapped[int] = mapped_column(
        ForeignKey("perspectives.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EvolutionKind] = mapped_column(db_enum(EvolutionKind, "evolution_kind"))
    note: Mapped[str | None] = mapped_column(Text)


class EvolutionEntry(ORMModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    version: int = Field(..., ge=1, le=100_000)
    kind: EvolutionKind
    note: str | None = None


PERSPECTIVE_EXAMPLE: dict[str, Any] = {
    "slug": "feldman-memorization-necessary",
    "thread_id": 1,
    "actor_id": 5,
    "label": "Vitaly Feldman (memorization is necessary)",
    "stance": "Learning from long-tailed data needs memorization of rare examples.",
    "source_ids": [44],
    "claim_ids": [7],
    "evolution": [{"version": 6, "kind": "shifted", "note": "Now under formal challenge."}],
}


class PerspectiveCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PERSPECTIVE_EXAMPLE]})
    slug: Slug | None = None
    thread_id: Id | None = None
    actor_id: Id | None = None
    label: ShortText
    stance: NonEmptyText
    source_ids: list[Id] = Field(default_factory=list)
    claim_ids: list[Id] = Field(default_factory=list)
    evolution: list[EvolutionEntry] = Field(default_factory=list)


class PerspectiveUpdate(UpdateModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"stance": "Restated position.", "source_ids": [44, 48]}]}
    )
    slug: Slug | None = None
    thread_id: Id | None = None
    actor_id: Id | None = None
    label: ShortText | None = None
    stance: NonEmptyText | None = None
    source_ids: list[Id] | None = None
    claim_ids: list[Id] | None = None
    evolution: list[EvolutionEntry] | None = Field(None, description="Replaces all entries.")


class PerspectivePublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 5, **PERSPECTIVE_EXAMPLE}]}
    )
    slug: str
    thread_id: Id | None
    actor_id: Id | None
    label: str
    stance: str
    source_ids: list[Id]
    claim_ids: list[Id]
    evolution: list[EvolutionEntry]
