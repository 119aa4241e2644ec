"""/experiments and /runs: the catalogue of toy experiments, runs as jobs, their plots,
and endorsing a finished run as evidence on its claim."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api.crud import write
from app.api.deps import Limit, Offset, SessionDep
from app.core.auth import require
from app.core.errors import Conflict, NotFound
from app.models import Claim
from app.models.claim import EvidencePublic
from app.models.common import MAX_ID, Page
from app.models.run import RunStatus
from app.services import plots, runs
from app.services.crud import page
from app.services.runs import EndorseIn, ExperimentInfo, RunFilters, RunPublic, RunRequest
from app.services.tokens import Scope

router = APIRouter(tags=["experiments"])

Name = Annotated[
    str, Path(max_length=100, description="Experiment name", examples=["double_descent"])
]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="Run id", examples=[1])]

RUN_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "experiment": "double_descent",
    "preset": "quick",
    "registered": True,
    "status": "succeeded",
    "progress": {"fraction": 1.0, "message": "finished"},
    "verdict": "reproduced",
    "metrics": {"peak_ratio": 1.0, "peak_over_risk_at_4": 12.3},
    "checks": [
        {
            "name": "peak_location",
            "description": "test risk peaks at N/n in [0.9, 1.1]",
            "value": 1.0,
            "passed": True,
        }
    ],
    "error": None,
    "cancel_requested": False,
    "claim_id": 12,
    "evidence_id": None,
    "provenance": {
        "params": {"n": 200, "d": 20, "noise": 0.5},
        "seed": 0,
        "code_version": "0.1.0+3f2a9c1d0b4e",
        "libraries": {"numpy": "2.4.6", "scipy": "1.17.1", "scikit-learn": "1.9.1"},
        "requested_at": "2026-11-25T18:00:00Z",
        "requested_by": None,
        "started_at": "2026-11-25T18:00:01Z",
        "finished_at": "2026-11-25T18:00:05Z",
        "duration_s": 3.9,
        "attempts": 1,
        "worker": "atlas:4242",
    },
    "links": {
        "self": "/api/v1/runs/1",
        "page": "/runs/1",
        "plot_png": "/api/v1/runs/1/plot.png",
        "plot_svg": "/api/v1/runs/1/plot.svg",
    },
    "series": None,
}
RUN_OK = {"content": {"application/json": {"example": RUN_EXAMPLE}}}
QUEUE_FULL = {
    "description": "The job queue is full; the Retry-After header says when to try again",
    "content": {
        "application/json": {
            "example": {
                "error": {
                    "code": "queue_full",
                    "message": "the job queue is full (50 runs waiting); try again shortly",
                    "details": {"retry_after_s": 30},
                }
            }
        }
    },
}


def runner_submit(request: Request, run_id: int) -> None:
    runner = getattr(request.app.state, "runner", None)
    if runner is not None:
        runner.submit(run_id)


@router.get(
    "/experiments",
    summary="The toy experiments",
    description="Every registered experiment: the claim it tests (the seeded claim whose "
    "`experiment` field names it, with the sources recorded on that claim), the signature "
    "that decides the verdict, the control, the presets' parameters and the JSON schema of "
    "its parameters (bounds and defaults).",
    response_model=list[ExperimentInfo],
    responses={200: {"content": {"application/json": {"example": []}}}},
)
def list_experiments(session: SessionDep) -> list[ExperimentInfo]:
    return runs.catalogue(session)


@router.get(
    "/experiments/{name}",
    summary="One toy experiment",
    description="The experiment's claim, signature, control, presets and parameter schema.",
    response_model=ExperimentInfo,
    responses={200: {"content": {"application/json": {"example": {"name": "random_labels"}}}}},
)
def get_experiment(name: Name, session: SessionDep) -> ExperimentInfo:
    spec = runs.require_experiment(name)
    return runs.describe(session, spec, runs.claims_by_experiment(session))


@router.post(
    "/experiments/{name}/runs",
    status_code=202,
    summary="Start a run",
    description="Validates the parameters (the preset's, then `params` overrides; 422 names "
    "the field as `params.<name>`) and queues a run: 202 with the run, whose status and "
    "progress `GET /runs/{id}` follows. The same experiment, parameters, seed and code "
    "version are answered from the stored run (200, no new job) unless that run failed or "
    "was cancelled. A full queue answers 429 with Retry-After. Quick and control presets "
    "need no token (when reads are public); the full preset and custom `params` need a "
    "token with the write scope.",
    response_model=RunPublic,
    responses={
        200: {"description": "The stored run with the same parameters, seed and code", **RUN_OK},
        202: {"description": "Queued", **RUN_OK},
        429: QUEUE_FULL,
    },
)
def start_run(
    name: Name,
    request: Request,
    session: SessionDep,
    body: Annotated[RunRequest, Body()] = RunRequest(),
) -> Response:
    if body.preset == "full" or body.params:
        require(request, session, Scope.write)  # minutes of CPU, or parameters of one's own
    settings = request.app.state.settings
    run, created = write(session, lambda: runs.submit(session, settings, name, body))
    if created:
        runner_submit(request, run.id)  # after the commit: the worker must see the row
    public = runs.publish(session, [run])[0]
    return JSONResponse(
        status_code=202 if created else 200,
        content=public.model_dump(mode="json"),
        headers={"Location": public.links["self"]},
    )


@router.get(
    "/runs",
    summary="List runs",
    description="Newest first; filter by experiment, status, verdict, preset, seed, the claim "
    "the experiment tests, or whether the run was endorsed as evidence.",
    response_model=Page[RunPublic],
    responses={200: {"content": {"application/json": {"example": {"items": [RUN_EXAMPLE]}}}}},
)
def list_runs(
    session: SessionDep,
    filters: Annotated[RunFilters, Depends()],
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    rows, total = runs.list_runs(session, filters, limit, offset)
    return page(runs.publish(session, rows), total, limit, offset)


@router.get(
    "/runs/{run_id}",
    summary="A run: status, progress, metrics, verdict, provenance",
    description="Progress is updated while the run trains. Once it succeeded: the metrics of "
    "the signature, each check with its value, the verdict, and the series behind the plot.",
    response_model=RunPublic,
    responses={200: RUN_OK},
)
def get_run(run_id: RunId, session: SessionDep) -> RunPublic:
    return runs.publish(session, [runs.get_run(session, run_id)], with_series=True)[0]


def _plot(run_id: int, fmt: plots.PlotFormat, request: Request, session: Any) -> Response:
    run = runs.get_run(session, run_id)
    if run.status != RunStatus.succeeded:
        raise Conflict(f"run {run_id} is {run.status.value}: its plot exists once it succeeds")
    data = plots.plot_bytes(run, fmt, request.app.state.settings.plots_dir)
    return Response(
        content=data,
        media_type=plots.MEDIA[fmt],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get(
    "/runs/{run_id}/plot.png",
    summary="A finished run's plot (PNG)",
    description="Drawn by matplotlib from the stored series; 409 until the run succeeded.",
    response_class=Response,
    responses={200: {"content": {"image/png": {"example": "(PNG bytes)"}}}},
)
def plot_png(run_id: RunId, request: Request, session: SessionDep) -> Response:
    return _plot(run_id, "png", request, session)


@router.get(
    "/runs/{run_id}/plot.svg",
    summary="A finished run's plot (SVG)",
    description="The same figure as plot.png, as SVG; 409 until the run succeeded.",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"example": "<svg …>"}}}},
)
def plot_svg(run_id: RunId, request: Request, session: SessionDep) -> Response:
    return _plot(run_id, "svg", request, session)


@router.post(
    "/runs/{run_id}/cancel",
    summary="Cancel a run",
    description="A queued run is cancelled at once; a running one stops at its next progress "
    "report (within about a second). 409 if the run has already finished.",
    response_model=RunPublic,
    responses={200: RUN_OK},
)
def cancel_run(run_id: RunId, session: SessionDep) -> RunPublic:
    run = write(session, lambda: runs.cancel(session, runs.get_run(session, run_id)))
    return runs.publish(session, [run])[0]


@router.post(
    "/runs/{run_id}/endorse",
    status_code=201,
    summary="Endorse a finished run as evidence",
    description="The run becomes evidence on the claim its experiment tests: `replicates` if "
    "the verdict is reproduced, `fails_to_replicate` if not, with the run's provenance in the "
    "note; it then counts in the claim's evidence and appears in the graph (run → claim). "
    "409 if the run has not succeeded, is inconclusive, is a control run, has no linked "
    "claim, or is already endorsed (with the evidence id).",
    response_model=EvidencePublic,
    responses={201: {"content": {"application/json": {"example": {"id": 200, "run_id": 1}}}}},
)
def endorse_run(
    run_id: RunId,
    session: SessionDep,
    body: Annotated[EndorseIn, Body()] = EndorseIn(),
) -> EvidencePublic:
    evidence = write(session, lambda: runs.endorse(session, runs.get_run(session, run_id), body))
    return EvidencePublic.model_validate(evidence)


@router.get(
    "/claims/{claim_id}/runs",
    summary="Runs of the experiment testing a claim",
    description="Every run of the claim's experiment, newest first, finished or not; "
    "endorsed ones carry their evidence id.",
    response_model=Page[RunPublic],
    responses={200: {"content": {"application/json": {"example": {"items": [RUN_EXAMPLE]}}}}},
)
def claim_runs(
    claim_id: Annotated[int, Path(ge=1, le=MAX_ID, examples=[12])],
    session: SessionDep,
    status: Annotated[RunStatus | None, Query(examples=["succeeded"])] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    if session.get(Claim, claim_id) is None:
        raise NotFound(f"claim {claim_id} not found", field="claim_id")
    filters = RunFilters(claim_id=claim_id, status=status)
    rows, total = runs.list_runs(session, filters, limit, offset)
    return page(runs.publish(session, rows), total, limit, offset)
