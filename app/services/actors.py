"""Actors and the problems they work on."""

from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.models import Actor, Problem
from app.models.actor import ActorCreate, ActorPublic, ActorUpdate
from app.models.common import ActorKind, Id
from app.models.links import problem_actors
from app.services.changes import mark, mark_link_targets
from app.services.crud import Resource
from app.services.refs import assign, contains, require_ids, unique_slug


class ActorFilters(BaseModel):
    kind: ActorKind | None = None
    problem_id: Id | None = Field(None, description="Actors working on this problem.")
    q: str | None = Field(None, max_length=200, description="Substring of the name.")


def _filters(stmt: Select, f: ActorFilters) -> Select:
    if f.kind:
        stmt = stmt.where(Actor.kind == f.kind)
    if f.problem_id is not None:
        stmt = stmt.where(
            Actor.id.in_(
                select(problem_actors.c.actor_id).where(problem_actors.c.problem_id == f.problem_id)
            )
        )
    if f.q:
        stmt = stmt.where(contains(Actor.name, f.q))
    return stmt


def _link_problems(session: Session, actor: Actor, problem_ids: list[Id]) -> None:
    require_ids(session, Problem, problem_ids, "problem_ids")
    # The link table is owned by problems; replace only this actor's rows.
    mark_link_targets(session, problem_actors, problem_actors.c.actor_id, actor.id)
    mark(session, [("problem", pid) for pid in problem_ids])
    session.execute(problem_actors.delete().where(problem_actors.c.actor_id == actor.id))
    for pid in dict.fromkeys(problem_ids):
        position = len(
            session.execute(
                select(problem_actors.c.actor_id).where(problem_actors.c.problem_id == pid)
            ).all()
        )
        session.execute(
            problem_actors.insert().values(problem_id=pid, actor_id=actor.id, position=position)
        )


def create_actor(session: Session, data: ActorCreate) -> Actor:
    require_ids(session, Problem, data.problem_ids, "problem_ids")
    actor = Actor(
        slug=unique_slug(session, Actor, data.slug, data.name),
        **data.model_dump(exclude={"slug", "problem_ids"}),
    )
    session.add(actor)
    session.flush()
    _link_problems(session, actor, data.problem_ids)
    return actor


def update_actor(session: Session, actor: Actor, data: ActorUpdate) -> Actor:
    if data.problem_ids is not None:
        _link_problems(session, actor, data.problem_ids)
        session.expire(actor, ["problems"])
    assign(actor, data, exclude={"problem_ids"})
    return actor


RESOURCE = Resource(
    name="actor",
    plural="actors",
    model=Actor,
    public=ActorPublic,
    create_schema=ActorCreate,
    update_schema=ActorUpdate,
    create=create_actor,
    update=update_actor,
    filters_schema=ActorFilters,
    apply_filters=_filters,
    sortable={"name": Actor.name, "kind": Actor.kind, "created_at": Actor.created_at},
    default_sort="name",
    load_options=[selectinload(Actor.problems)],
)
