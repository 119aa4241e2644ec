"""Experiment runs: the catalogue, submitting (with the result cache and a bounded queue),
reading, cancelling, and endorsing a finished run as evidence on its claim."""

from datetime import UTC, datetime
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import Busy, Conflict, DuplicateIdentifier, NotFound
from app.experiments.base import Experiment, PresetName, Verdict
from app.experiments.registry import all_experiments, get_experiment
from app.jobs import provenance
from app.models import Claim, Evidence, Source
from app.models.common import MAX_ID, EvidenceRelation, Id, UTCDateTime
from app.models.run import ACTIVE, ExperimentRun, RunStatus

# ---------------------------------------------------------------- schemas


class ClaimRef(BaseModel):
    id: Id
    slug: str
    text: str
    status: str
    sources: list[dict[str, Any]] = Field(
        ..., description="Sources recorded as evidence on the claim: id, title, year, relation."
    )


class ExperimentInfo(BaseModel):
    name: str = Field(..., examples=["random_labels"])
    title: str
    claim_text: str = Field(..., description="The claim the experiment tests, in a sentence.")
    claim: ClaimRef | None = Field(
        None, description="The seeded claim it tests (the claim whose `experiment` names it)."
    )
    references: list[str]
    description: str
    signature: str = Field(..., description="What must hold for the verdict `reproduced`.")
    control: str = Field(..., description="The variant that must give `not_reproduced`.")
    presets: dict[str, dict[str, Any]] = Field(
        ..., description="The full parameters of the quick, full and control presets."
    )
    params_schema: dict[str, Any] = Field(..., description="JSON schema of the parameters.")


class RunRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"preset": "quick", "seed": 0},
                {"preset": "quick", "seed": 1, "params": {"max_epochs": 300}},
            ]
        },
    )
    preset: PresetName = Field(
        "quick", description="quick (seconds), full (minutes) or control (the mechanism removed)."
    )
    seed: int = Field(0, ge=0, le=MAX_ID, description="Seed of every random draw.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the preset's parameters."
    )
    requested_by: str | None = Field(None, max_length=200)


class Progress(BaseModel):
    fraction: float = Field(..., ge=0, le=1)
    message: str | None


class Provenance(BaseModel):
    params: dict[str, Any]
    seed: int
    code_version: str
    libraries: dict[str, str] | None
    requested_at: UTCDateTime
    requested_by: str | None
    started_at: UTCDateTime | None
    finished_at: UTCDateTime | None
    duration_s: float | None
    attempts: int
    worker: str | None


class RunPublic(BaseModel):
    id: Id
    experiment: str
    preset: str
    registered: bool = Field(..., description="The preset's parameters, unchanged.")
    status: RunStatus
    progress: Progress
    verdict: Verdict | None
    metrics: dict[str, Any] | None
    checks: list[dict[str, Any]] | None = Field(
        None, description="Each condition of the signature: value and whether it passed."
    )
    error: str | None
    cancel_requested: bool
    claim_id: Id | None = Field(None, description="The claim this experiment tests.")
    evidence_id: Id | None = Field(None, description="Set once the run is endorsed.")
    provenance: Provenance
    links: dict[str, str]
    series: dict[str, Any] | None = Field(
        None, description="The data behind the plot (only on GET /runs/{id})."
    )


class EndorseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"recorded_by": "curator", "note": "Checked the plot."}]},
    )
    recorded_by: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=2000)


class RunFilters(BaseModel):
    experiment: str | None = Field(None, max_length=100)
    status: RunStatus | None = None
    verdict: Verdict | None = None
    preset: PresetName | None = None
    seed: int | None = Field(None, ge=0, le=MAX_ID)
    claim_id: Id | None = Field(None, description="Runs of the experiment testing this claim.")
    endorsed: bool | None = None


# ---------------------------------------------------------------- catalogue


def require_experiment(name: str) -> Experiment:
    spec = get_experiment(name)
    if spec is None:
        known = ", ".join(all_experiments())
        raise NotFound(f"experiment {name!r} not found; known: {known}", field="name")
    return spec


def claims_by_experiment(session: Session) -> dict[str, Claim]:
    rows = session.scalars(select(Claim).where(Claim.experiment.is_not(None)).order_by(Claim.id))
    found: dict[str, Claim] = {}
    for claim in rows:
        found.setdefault(str(claim.experiment), claim)
    return found


def _claim_ref(session: Session, claim: Claim) -> ClaimRef:
    rows = session.execute(
        select(Source.id, Source.title, Source.date, Evidence.relation)
        .join(Evidence, Evidence.source_id == Source.id)
        .where(Evidence.claim_id == claim.id)
        .order_by(Source.id)
    )
    sources = [
        {"id": sid, "title": title, "year": date.year if date else None, "relation": relation}
        for sid, title, date, relation in rows
    ]
    return ClaimRef(
        id=claim.id, slug=claim.slug, text=claim.text, status=claim.status, sources=sources
    )


def describe(session: Session, spec: Experiment, claims: dict[str, Claim]) -> ExperimentInfo:
    claim = claims.get(spec.name)
    return ExperimentInfo(
        name=spec.name,
        title=spec.title,
        claim_text=spec.claim,
        claim=_claim_ref(session, claim) if claim else None,
        references=spec.references,
        description=spec.description,
        signature=spec.signature,
        control=spec.control,
        presets={p: spec.resolve(p).model_dump() for p in ("quick", "full", "control")},
        params_schema=spec.params.model_json_schema(),
    )


def catalogue(session: Session) -> list[ExperimentInfo]:
    claims = claims_by_experiment(session)
    return [describe(session, spec, claims) for spec in all_experiments().values()]


# ---------------------------------------------------------------- submitting


def resolve_params(spec: Experiment, request: RunRequest) -> dict[str, Any]:
    """The validated parameters; a bad one is a 422 that names it (params.<field>)."""
    try:
        return spec.resolve(request.preset, request.params).model_dump(mode="json")
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = e.get("loc", ())
            errors.append({**e, "loc": ("body", "params", *loc)})
        raise RequestValidationError(errors) from None


def submit(
    session: Session, settings: Settings, name: str, request: RunRequest
) -> tuple[ExperimentRun, bool]:
    """A queued run, or the stored run with the same parameters, seed and code version.
    Returns (run, created)."""
    spec = require_experiment(name)
    params = resolve_params(spec, request)
    version = provenance.code_version(spec)
    key = provenance.cache_key(name, params, request.seed, version)
    existing = session.scalar(
        select(ExperimentRun)
        .where(
            ExperimentRun.cache_key == key,
            ExperimentRun.status.in_([*ACTIVE, RunStatus.succeeded]),
            ExperimentRun.cancel_requested.is_(False),
        )
        .order_by(ExperimentRun.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, False
    queued = session.scalar(select(func.count()).where(ExperimentRun.status == RunStatus.queued))
    if (queued or 0) >= settings.job_queue_limit:
        raise Busy(
            f"the job queue is full ({queued} runs waiting); try again shortly",
            retry_after=30,
        )
    run = ExperimentRun(
        experiment=name,
        preset=request.preset,
        registered=params == spec.resolve(request.preset).model_dump(mode="json"),
        params=params,
        seed=request.seed,
        code_version=version,
        cache_key=key,
        status=RunStatus.queued,
        progress=0.0,
        message="queued",
        attempts=0,
        cancel_requested=False,
        libraries=provenance.libraries(),
        requested_by=request.requested_by,
    )
    session.add(run)
    session.flush()
    return run, True


# ---------------------------------------------------------------- reading


def get_run(session: Session, run_id: int) -> ExperimentRun:
    run = session.get(ExperimentRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found", field="id")
    return run


def _filters(stmt: Select, session: Session, f: RunFilters) -> Select:
    if f.experiment is not None:
        stmt = stmt.where(ExperimentRun.experiment == f.experiment)
    if f.status is not None:
        stmt = stmt.where(ExperimentRun.status == f.status)
    if f.verdict is not None:
        stmt = stmt.where(ExperimentRun.verdict == f.verdict)
    if f.preset is not None:
        stmt = stmt.where(ExperimentRun.preset == f.preset)
    if f.seed is not None:
        stmt = stmt.where(ExperimentRun.seed == f.seed)
    if f.claim_id is not None:
        name = session.scalar(select(Claim.experiment).where(Claim.id == f.claim_id))
        stmt = stmt.where(ExperimentRun.experiment == (name or ""))
    if f.endorsed is not None:
        endorsed = ExperimentRun.id.in_(select(Evidence.run_id).where(Evidence.run_id.is_not(None)))
        stmt = stmt.where(endorsed if f.endorsed else ~endorsed)
    return stmt


def list_runs(
    session: Session, f: RunFilters, limit: int, offset: int
) -> tuple[list[ExperimentRun], int]:
    total = session.scalar(_filters(select(func.count(ExperimentRun.id)), session, f)) or 0
    rows = session.scalars(
        _filters(select(ExperimentRun), session, f)
        .order_by(ExperimentRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def publish(
    session: Session, runs: list[ExperimentRun], *, with_series: bool = False
) -> list[RunPublic]:
    ids = [r.id for r in runs]
    evidence = dict(
        session.execute(select(Evidence.run_id, Evidence.id).where(Evidence.run_id.in_(ids))).all()
    )
    claims = {name: c.id for name, c in claims_by_experiment(session).items()}
    return [_public(r, claims.get(r.experiment), evidence.get(r.id), with_series) for r in runs]


def _public(
    run: ExperimentRun, claim_id: int | None, evidence_id: int | None, with_series: bool
) -> RunPublic:
    base = f"/api/v1/runs/{run.id}"
    return RunPublic(
        id=run.id,
        experiment=run.experiment,
        preset=run.preset,
        registered=run.registered,
        status=run.status,
        progress=Progress(fraction=run.progress, message=run.message),
        verdict=run.verdict,
        metrics=run.metrics,
        checks=run.checks,
        error=run.error,
        cancel_requested=run.cancel_requested,
        claim_id=claim_id,
        evidence_id=evidence_id,
        provenance=Provenance(
            params=run.params,
            seed=run.seed,
            code_version=run.code_version,
            libraries=run.libraries,
            requested_at=run.created_at,
            requested_by=run.requested_by,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_s=run.duration_s,
            attempts=run.attempts,
            worker=run.worker,
        ),
        links={
            "self": base,
            "page": f"/runs/{run.id}",
            "plot_png": f"{base}/plot.png",
            "plot_svg": f"{base}/plot.svg",
        },
        series=run.series if with_series else None,
    )


# ---------------------------------------------------------------- changing


def cancel(session: Session, run: ExperimentRun) -> ExperimentRun:
    """A queued run is cancelled at once; a running one stops at its next progress report.
    Conditional updates: a worker claiming the run at the same moment sees the request."""
    if run.status not in ACTIVE:
        raise Conflict(f"run {run.id} is already {run.status.value}", field="id")
    at = datetime.now(UTC)
    base = update(ExperimentRun).where(ExperimentRun.id == run.id)
    session.execute(
        base.where(ExperimentRun.status == RunStatus.queued).values(
            status=RunStatus.cancelled,
            cancel_requested=True,
            message="cancelled on request",
            finished_at=at,
            updated_at=at,
        )
    )
    session.execute(
        base.where(ExperimentRun.status == RunStatus.running).values(
            cancel_requested=True, updated_at=at
        )
    )
    session.flush()
    session.refresh(run)
    return run


def endorse(
    session: Session, run: ExperimentRun, body: EndorseIn, *, automatic: bool = False
) -> Evidence:
    """The run becomes evidence on its claim: `replicates` if its signature held, otherwise
    `fails_to_replicate`, with the run's provenance in the note."""
    existing = session.scalar(select(Evidence.id).where(Evidence.run_id == run.id))
    if existing is not None:
        raise DuplicateIdentifier(
            f"run {run.id} is already endorsed (evidence {existing})",
            field="id",
            existing_id=existing,
        )
    if run.status != RunStatus.succeeded or run.verdict is None:
        raise Conflict(f"run {run.id} is {run.status.value}: only a finished run can be endorsed")
    if run.verdict == Verdict.inconclusive:
        raise Conflict(
            f"run {run.id} is inconclusive (its parameters cannot test the whole signature)"
        )
    if run.preset == "control":
        raise Conflict(
            f"run {run.id} is a control run: it checks that the verdict can fail, "
            "so it is not evidence about the claim"
        )
    claim = claims_by_experiment(session).get(run.experiment)
    if claim is None:
        raise Conflict(
            f"no claim is linked to experiment {run.experiment!r} "
            "(set a claim's `experiment` field first)"
        )
    relation = (
        EvidenceRelation.replicates
        if run.verdict == Verdict.reproduced
        else EvidenceRelation.fails_to_replicate
    )
    evidence = Evidence(
        claim_id=claim.id,
        run_id=run.id,
        relation=relation,
        note=_provenance_note(run, body.note),
        recorded_by=body.recorded_by or ("auto-endorse" if automatic else None),
    )
    session.add(evidence)
    session.flush()  # the change log marks the run: it becomes a node of the graph
    return evidence


def _provenance_note(run: ExperimentRun, note: str | None) -> str:
    passed = sum(1 for c in run.checks or [] if c.get("passed"))
    text = (
        f"Experiment run {run.id}: {run.experiment}, {run.preset} preset"
        f"{'' if run.registered else ' with custom parameters'}, seed {run.seed}, "
        f"code {run.code_version}; verdict {run.verdict.value if run.verdict else '?'} "
        f"({passed} of {len(run.checks or [])} signature checks passed)."
    )
    return f"{text} {note}" if note else text


def endorse_if_registered(session: Session, run_id: int) -> Evidence | None:
    """Automatic endorsement (a setting): unchanged quick/full presets with a clear verdict."""
    run = session.get(ExperimentRun, run_id)
    if run is None or not run.registered or run.preset not in ("quick", "full"):
        return None
    if run.verdict not in (Verdict.reproduced, Verdict.not_reproduced):
        return None
    if session.scalar(select(Evidence.id).where(Evidence.run_id == run.id)) is not None:
        return None
    try:
        return endorse(session, run, EndorseIn(), automatic=True)
    except Conflict:
        return None  # e.g. no claim is linked to the experiment
