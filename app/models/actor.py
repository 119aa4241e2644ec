"""Actor: a person or group that holds positions."""

from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped
from app.models.common import (
    ActorKind,
    CreateModel,
    Id,
    ShortText,
    Slug,
    Timestamps,
    UpdateModel,
    db_enum,
)
from app.models.links import problem_actors
from app.models.problem import Problem


class Actor(Timestamped, Base):
    __node_type__ = "actor"
    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[ActorKind] = mapped_column(db_enum(ActorKind, "actor_kind"))
    affiliation: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2000))
    note: Mapped[str | None] = mapped_column(Text)

    problems: Mapped[list[Problem]] = relationship(
        secondary=problem_actors, order_by=problem_actors.c.problem_id, viewonly=True
    )

    @property
    def problem_ids(self) -> list[int]:
        return [p.id for p in self.problems]


ACTOR_EXAMPLE: dict[str, Any] = {
    "slug": "vitaly-feldman",
    "name": "Vitaly Feldman",
    "kind": "person",
    "affiliation": None,
    "problem_ids": [1],
}


class ActorCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ACTOR_EXAMPLE]})
    slug: Slug | None = Field(None, description="Defaults to a slug made from the name.")
    name: ShortText
    kind: ActorKind = ActorKind.person
    affiliation: str | None = Field(None, max_length=300)
    url: str | None = Field(None, max_length=2000)
    note: str | None = None
    problem_ids: list[Id] = Field(default_factory=list, description="Problems they work on.")


class ActorUpdate(UpdateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"affiliation": "Apple"}]})
    slug: Slug | None = None
    name: ShortText | None = None
    kind: ActorKind | None = None
    affiliation: str | None = Field(None, max_length=300)
    url: str | None = Field(None, max_length=2000)
    note: str | None = None
    problem_ids: list[Id] | None = None


class ActorPublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 3, **ACTOR_EXAMPLE}]}
    )
    slug: str
    name: str
    kind: ActorKind
    affiliation: str | None
    url: str | None
    note: str | None
    problem_ids: list[Id]
