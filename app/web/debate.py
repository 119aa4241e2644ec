"""HTML pages of the debate itself: home, problem, claim, tension, source, actor, and the
redirects that give works, perspectives and events a page to land on."""

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.api.deps import SessionDep
from app.core.errors import NotFound
from app.models import (
    Actor,
    Claim,
    Evidence,
    ExperimentRun,
    Perspective,
    Problem,
    Source,
    Tension,
    TensionSide,
    Thread,
    TimelineEvent,
    Work,
)
from app.models.common import MAX_ID, TensionStatus
from app.models.links import perspective_claims, side_claims
from app.models.run import RunStatus
from app.services import actors, claims, narratives, perspectives, problems, sources, tensions
from app.services.contested import CONTESTING, SUPPORTING
from app.services.crud import get_row
from app.services.runs import RunFilters, list_runs
from app.web.common import html_router, render
from app.web.lookups import by_id, in_order, newest

router = html_router()
Ref = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id", examples=[1])]
FACETS = (("known", "Known"), ("partial", "Partly understood"), ("unknown", "Open"))


@router.get(
    "/",
    summary="Home page (HTML)",
    description="Problems, open tensions, the latest narrative versions and recent additions.",
)
def home(request: Request, session: SessionDep) -> Any:
    problem_rows = session.scalars(
        select(Problem).options(*problems.RESOURCE.load_options).order_by(Problem.number)
    ).all()
    unresolved = session.scalars(
        select(Tension)
        .options(selectinload(Tension.sides))
        .where(Tension.status != TensionStatus.resolved)
        .order_by(Tension.position, Tension.id)
    ).all()
    threads = session.scalars(select(Thread).order_by(Thread.id).limit(20)).all()
    latest = [(t, narratives.latest(session, t.id)) for t in threads]
    return render(
        request,
        "home.html",
        {
            "problems": problems.RESOURCE.publish(session, list(problem_rows)),
            "facets": FACETS,
            "unresolved": unresolved,
            "latest": latest,
            "recent_sources": newest(session, Source, 8),
            "recent_claims": newest(session, Claim, 5),
            "recent_runs": newest(
                session, ExperimentRun, 5, ExperimentRun.status == RunStatus.succeeded
            ),
        },
    )


@router.get(
    "/problems/{ref}",
    summary="A problem's page (HTML)",
    description="Its known, partly understood and open facets, claims, tensions and actors.",
)
def problem_page(ref: Ref, request: Request, session: SessionDep) -> Any:
    row = get_row(session, problems.RESOURCE, ref)
    problem = problems.RESOURCE.publish_one(session, row)
    claim_rows = session.scalars(
        select(Claim)
        .options(*claims.CLAIMS.load_options)
        .where(Claim.problem_id == row.id)
        .order_by(Claim.id)
    ).all()
    return render(
        request,
        "problem.html",
        {
            "problem": problem,
            "facets": FACETS,
            "claims": claims.publish_claims(session, list(claim_rows)),
            "claim_text": {c.id: c.text for c in claim_rows},
            "tensions": session.scalars(
                select(Tension).where(Tension.problem_id == row.id).order_by(Tension.id)
            ).all(),
            "actors": in_order(by_id(session, Actor, problem.actor_ids), problem.actor_ids),
        },
    )


def _evidence_groups(session: Session, claim_id: int) -> dict[str, list[dict[str, Any]]]:
    """The claim's evidence split into the side it takes, each row with its source or run."""
    rows = session.scalars(
        select(Evidence).where(Evidence.claim_id == claim_id).order_by(Evidence.id)
    ).all()
    found_sources = by_id(session, Source, [r.source_id for r in rows if r.source_id])
    found_runs = by_id(session, ExperimentRun, [r.run_id for r in rows if r.run_id])
    groups: dict[str, list[dict[str, Any]]] = {"supporting": [], "contesting": [], "other": []}
    for r in rows:
        side = (
            "supporting"
            if r.relation in SUPPORTING
            else "contesting"
            if r.relation in CONTESTING
            else "other"
        )
        groups[side].append(
            {
                "row": r,
                "source": found_sources.get(r.source_id or 0),
                "run": found_runs.get(r.run_id or 0),
            }
        )
    return groups


@router.get(
    "/claims/{ref}",
    summary="A claim's page (HTML)",
    description="The claim with the evidence on each side (sources and experiment runs), "
    "its status history, the tensions and perspectives it belongs to.",
)
def claim_page(ref: Ref, request: Request, session: SessionDep) -> Any:
    row = get_row(session, claims.CLAIMS, ref)
    claim = claims.publish_claims(session, [row])[0]
    side_ids = select(side_claims.c.side_id).where(side_claims.c.claim_id == row.id)
    held_by = select(perspective_claims.c.perspective_id).where(
        perspective_claims.c.claim_id == row.id
    )
    run_list: list[Any] = []
    if row.experiment:
        run_list, _ = list_runs(session, RunFilters(experiment=row.experiment), 10, 0)
    return render(
        request,
        "claim.html",
        {
            "claim": claim,
            "problem": session.get(Problem, row.problem_id) if row.problem_id else None,
            "evidence": _evidence_groups(session, row.id),
            "tensions": session.scalars(
                select(Tension)
                .join(TensionSide)
                .where(TensionSide.id.in_(side_ids))
                .distinct()
                .order_by(Tension.id)
            ).all(),
            "perspectives": session.scalars(
                select(Perspective).where(Perspective.id.in_(held_by)).order_by(Perspective.id)
            ).all(),
            "runs": run_list,
        },
    )


@router.get(
    "/tensions/{ref}",
    summary="A tension's page (HTML)",
    description="The question, each side with its claims, perspectives, sources, the "
    "evidence and experiment runs on it, and the status history.",
)
def tension_page(ref: Ref, request: Request, session: SessionDep) -> Any:
    tension = tensions.RESOURCE.publish_one(session, get_row(session, tensions.RESOURCE, ref))
    source_ids = set(tension.source_ids)
    for side in tension.sides:
        source_ids.update(side.source_ids)
    for change in tension.status_history:
        source_ids.update(change.source_ids)
    return render(
        request,
        "tension.html",
        {
            "tension": tension,
            "problem": session.get(Problem, tension.problem_id) if tension.problem_id else None,
            "sources": by_id(session, Source, source_ids),
        },
    )


@router.get(
    "/sources/{source_id}",
    summary="A source's page (HTML)",
    description="The source, the other copies of its work, the claims it bears on and the "
    "perspectives that cite it.",
)
def source_page(source_id: RowId, request: Request, session: SessionDep) -> Any:
    row = get_row(session, sources.SOURCES, source_id)
    copies = session.scalars(
        select(Source).where(Source.work_id == row.work_id).order_by(Source.id)
    ).all()
    evidence = session.scalars(
        select(Evidence).where(Evidence.source_id == row.id).order_by(Evidence.id)
    ).all()
    return render(
        request,
        "source.html",
        {
            "source": sources.SOURCES.publish_one(session, row),
            "work": session.get(Work, row.work_id),
            "copies": [c for c in copies if c.id != row.id],
            "evidence": evidence,
            "claims": by_id(session, Claim, [e.claim_id for e in evidence]),
            "perspectives": session.scalars(
                select(Perspective)
                .where(Perspective.sources.any(Source.id == row.id))
                .order_by(Perspective.id)
            ).all(),
        },
    )


@router.get(
    "/actors/{ref}",
    summary="An actor's page (HTML)",
    description="The actor, the perspectives they hold (with how each evolved) and the "
    "problems they work on.",
)
def actor_page(ref: Ref, request: Request, session: SessionDep) -> Any:
    row = get_row(session, actors.RESOURCE, ref)
    actor = actors.RESOURCE.publish_one(session, row)
    held = session.scalars(
        select(Perspective).where(Perspective.actor_id == row.id).order_by(Perspective.id)
    ).all()
    held_public = perspectives.RESOURCE.publish(session, list(held))
    cited: set[int] = {i for p in held_public for i in p.source_ids}
    claim_ids: set[int] = {i for p in held_public for i in p.claim_ids}
    return render(
        request,
        "actor.html",
        {
            "actor": actor,
            "perspectives": held_public,
            "sources": by_id(session, Source, cited),
            "claims": by_id(session, Claim, claim_ids),
            "problems": in_order(by_id(session, Problem, actor.problem_ids), actor.problem_ids),
            "threads": by_id(session, Thread, [p.thread_id for p in held_public if p.thread_id]),
        },
    )


@router.get(
    "/works/{work_id}",
    summary="A work (redirects to its first copy)",
    responses={303: {"description": "The page of the work's first copy"}},
)
def work_page(work_id: RowId, request: Request, session: SessionDep) -> Any:
    first = session.scalar(
        select(Source.id).where(Source.work_id == work_id).order_by(Source.id).limit(1)
    )
    if first is None:
        raise NotFound(f"work {work_id} not found", field="id")
    return RedirectResponse(f"/sources/{first}", status_code=303)


@router.get(
    "/perspectives/{ref}",
    summary="A perspective (redirects to its actor's or thread's page)",
    responses={303: {"description": "The actor's page, at the perspective"}},
)
def perspective_page(ref: Ref, request: Request, session: SessionDep) -> Any:
    row = get_row(session, perspectives.RESOURCE, ref)
    if row.actor_id is not None:
        return RedirectResponse(f"/actors/{row.actor_id}#perspective-{row.id}", status_code=303)
    if row.thread_id is not None:
        return RedirectResponse(f"/threads/{row.thread_id}#perspective-{row.id}", status_code=303)
    return RedirectResponse(f"/api/v1/perspectives/{row.id}", status_code=303)  # no page holds it


@router.get(
    "/events/{event_id}",
    summary="A timeline event (redirects to its thread's page)",
    responses={303: {"description": "The thread's page, at the event"}},
)
def event_page(event_id: RowId, request: Request, session: SessionDep) -> Any:
    row = session.get(TimelineEvent, event_id)
    if row is None:
        raise NotFound(f"event {event_id} not found", field="id")
    if row.thread_id is None:  # no page holds it: its JSON
        return RedirectResponse(f"/api/v1/events/{row.id}", status_code=303)
    return RedirectResponse(f"/threads/{row.thread_id}#event-{row.id}", status_code=303)
