"""Edge: a generic typed relation between two nodes of the debate graph."""

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped
from app.models.common import CreateModel, Id, Timestamps, UpdateModel, db_enum


class NodeType(StrEnum):
    problem = "problem"
    source = "source"
    work = "work"
    actor = "actor"
    claim = "claim"
    evidence = "evidence"
    perspective = "perspective"
    tension = "tension"
    event = "event"
    thread = "thread"


class Relation(StrEnum):
    cites = "cites"
    addresses = "addresses"
    holds = "holds"
    about = "about"
    same_work_as = "same_work_as"
    supports = "supports"
    contests = "contests"
    refines = "refines"
    extends = "extends"
    replicates = "replicates"
    fails_to_replicate = "fails_to_replicate"
    responds_to = "responds_to"
    mirrors = "mirrors"
    authored = "authored"
    works_on = "works_on"
    part_of = "part_of"


class Edge(Timestamped, Base):
    __tablename__ = "edges"
    __table_args__ = (
        UniqueConstraint("from_type", "from_id", "relation", "to_type", "to_id"),
        Index("ix_edges_to", "to_type", "to_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_type: Mapped[NodeType] = mapped_column(db_enum(NodeType, "from_type"))
    from_id: Mapped[int] = mapped_column(Integer)
    relation: Mapped[Relation] = mapped_column(db_enum(Relation, "relation"), index=True)
    to_type: Mapped[NodeType] = mapped_column(db_enum(NodeType, "to_type"))
    to_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(200))


EDGE_EXAMPLE: dict[str, Any] = {
    "from_type": "source",
    "from_id": 29,
    "relation": "mirrors",
    "to_type": "source",
    "to_id": 1,
    "note": "LessWrong crosspost of the Alignment Forum post.",
}


class EdgeCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EDGE_EXAMPLE]})
    from_type: NodeType
    from_id: Id
    relation: Relation
    to_type: NodeType
    to_id: Id
    note: str | None = None
    recorded_by: str | None = Field(None, max_length=200)


class EdgeUpdate(UpdateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "Checked by hand."}]})
    relation: Relation | None = None
    note: str | None = None
    recorded_by: str | None = Field(None, max_length=200)


class EdgePublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 1, **EDGE_EXAMPLE}]}
    )
    from_type: NodeType
    from_id: Id
    relation: Relation
    to_type: NodeType
    to_id: Id
    note: str | None
    recorded_by: str | None
