"""Problems and their facets."""

from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.models import Actor, Claim, Problem, ProblemFacet
from app.models.common import Id
from app.models.links import facet_claims, problem_actors
from app.models.problem import Facets, ProblemCreate, ProblemPublic, ProblemUpdate
from app.services.crud import Resource
from app.services.refs import assign, contains, require_ids, set_links, unique_slug


class ProblemFilters(BaseModel):
    actor_id: Id | None = Field(None, description="Problems this actor works on.")
    q: str | None = Field(None, max_length=200, description="Substring of the title.")


def _filters(stmt: Select, f: ProblemFilters) -> Select:
    if f.actor_id is not None:
        stmt = stmt.where(
            Problem.id.in_(
                select(problem_actors.c.problem_id).where(problem_actors.c.actor_id == f.actor_id)
            )
        )
    if f.q:
        stmt = stmt.where(contains(Problem.title, f.q))
    return stmt


def _write_facets(session: Session, problem: Problem, facets: Facets) -> None:
    for field, items in (
        ("known", facets.known),
        ("partial", facets.partial),
        ("unknown", facets.unknown),
    ):
        for index, item in enumerate(items):
            require_ids(session, Claim, item.claim_ids, f"facets.{field}.{index}.claim_ids")
    problem.facets.clear()
    session.flush()
    position = 0
    for status in ("known", "partial", "unknown"):
        for item in getattr(facets, status):
            facet = ProblemFacet(status=status, text=item.text, position=position)
            problem.facets.append(facet)
            session.flush()
            set_links(session, facet_claims, "facet_id", facet.id, "claim_id", item.claim_ids)
            position += 1


def create_problem(session: Session, data: ProblemCreate) -> Problem:
    require_ids(session, Actor, data.actor_ids, "actor_ids")
    problem = Problem(
        slug=unique_slug(session, Problem, data.slug, data.title),
        number=data.number,
        title=data.title,
        summary=data.summary,
    )
    session.add(problem)
    session.flush()
    _write_facets(session, problem, data.facets)
    set_links(session, problem_actors, "problem_id", problem.id, "actor_id", data.actor_ids)
    return problem


def update_problem(session: Session, problem: Problem, data: ProblemUpdate) -> Problem:
    if "slug" in data.model_fields_set and data.slug:
        unique_slug(session, Problem, data.slug, "", own_id=problem.id)
    if data.actor_ids is not None:
        require_ids(session, Actor, data.actor_ids, "actor_ids")
        set_links(session, problem_actors, "problem_id", problem.id, "actor_id", data.actor_ids)
    if data.facets is not None:
        _write_facets(session, problem, data.facets)
    assign(problem, data, exclude={"facets", "actor_ids"})
    return problem


RESOURCE = Resource(
    name="problem",
    plural="problems",
    model=Problem,
    public=ProblemPublic,
    create_schema=ProblemCreate,
    update_schema=ProblemUpdate,
    create=create_problem,
    update=update_problem,
    filters_schema=ProblemFilters,
    apply_filters=_filters,
    sortable={"number": Problem.number, "title": Problem.title, "created_at": Problem.created_at},
    default_sort="number",
    load_options=[
        selectinload(Problem.facets).selectinload(ProblemFacet.claims),
        selectinload(Problem.actors),
    ],
)
