"""Problem: an open problem with known / partially known / not known facets."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped
from app.models.common import (
    CreateModel,
    FacetStatus,
    Id,
    NonEmptyText,
    ShortText,
    Slug,
    Timestamps,
    UpdateModel,
    db_enum,
)
from app.models.links import facet_claims, problem_actors

if TYPE_CHECKING:
    from app.models.actor import Actor
    from app.models.claim import Claim


class Problem(Timestamped, Base):
    __node_type__ = "problem"
    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[int | None] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)

    facets: Mapped[list["ProblemFacet"]] = relationship(
        back_populates="problem",
        order_by="ProblemFacet.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    actors: Mapped[list["Actor"]] = relationship(
        secondary=problem_actors, order_by=problem_actors.c.position, viewonly=True
    )

    @property
    def actor_ids(self) -> list[int]:
        return [a.id for a in self.actors]


class ProblemFacet(Base):
    __tablename__ = "problem_facets"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problems.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[FacetStatus] = mapped_column(db_enum(FacetStatus, "facet_status"))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)

    problem: Mapped[Problem] = relationship(back_populates="facets")
    claims: Mapped[list["Claim"]] = relationship(
        secondary=facet_claims, order_by=facet_claims.c.position, viewonly=True
    )

    @property
    def claim_ids(self) -> list[int]:
        return [c.id for c in self.claims]


# ---------------------------------------------------------------- API schemas


def _facet_item(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class FacetItem(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    text: NonEmptyText = Field(..., examples=["Networks can fit random labels."])
    claim_ids: list[Id] = Field(default_factory=list, description="Claims this statement rests on.")


FacetItemIn = Annotated[FacetItem, BeforeValidator(_facet_item)]


class Facets(BaseModel):
    """A problem's statements grouped by how well they are understood."""

    model_config = ConfigDict(extra="forbid")
    known: list[FacetItemIn] = Field(default_factory=list)
    partial: list[FacetItemIn] = Field(default_factory=list)
    unknown: list[FacetItemIn] = Field(default_factory=list)


PROBLEM_EXAMPLE: dict[str, Any] = {
    "slug": "scaling-laws",
    "number": 4,
    "title": "Why do scaling laws hold?",
    "summary": "Test loss falls as a power law in model size, data and compute; why?",
    "facets": {
        "known": ["Loss follows a power law over many orders of magnitude."],
        "partial": [
            {"text": "For linear models the exponent follows the spectrum.", "claim_ids": []}
        ],
        "unknown": ["What sets the exponents of large language models."],
    },
    "actor_ids": [],
}


class ProblemCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PROBLEM_EXAMPLE]})
    slug: Slug | None = Field(None, description="Defaults to a slug made from the title.")
    number: int | None = Field(None, ge=1, le=10_000)
    title: ShortText
    summary: str | None = None
    facets: Facets = Field(default_factory=Facets)
    actor_ids: list[Id] = Field(default_factory=list, description="Actors working on it.")


class ProblemUpdate(UpdateModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"summary": "A shorter summary.", "actor_ids": [1, 2]}]}
    )
    slug: Slug | None = None
    number: int | None = Field(None, ge=1, le=10_000)
    title: ShortText | None = None
    summary: str | None = None
    facets: Facets | None = Field(None, description="Replaces all facets when given.")
    actor_ids: list[Id] | None = None


class ProblemPublic(Timestamps):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": 4, **PROBLEM_EXAMPLE}]}, from_attributes=True
    )
    slug: str
    number: int | None
    title: str
    summary: str | None
    facets: Facets
    actor_ids: list[Id]

    @classmethod
    def from_row(cls, row: Problem) -> "ProblemPublic":
        grouped: dict[str, list[FacetItem]] = {s.value: [] for s in FacetStatus}
        for f in row.facets:
            grouped[f.status.value].append(FacetItem(text=f.text, claim_ids=f.claim_ids))
        return cls(
            id=row.id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            slug=row.slug,
            number=row.number,
            title=row.title,
            summary=row.summary,
            facets=Facets(**grouped),
            actor_ids=row.actor_ids,
        )
