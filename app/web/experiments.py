"""HTML pages of the toy experiments: the catalogue, one experiment with its run form, the
form's submission, and a run's page (progress while it trains, then the plot)."""

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.api.crud import write
from app.api.deps import SessionDep
from app.api.routes.experiments import runner_submit
from app.core.auth import Forbidden, Unauthorized, require
from app.core.errors import AppError
from app.models.common import MAX_ID
from app.models.run import ACTIVE
from app.services import runs
from app.services.runs import RunFilters, RunRequest
from app.services.tokens import Scope
from app.web.common import html_router, render
from app.web.run_form import fields, parse

router = html_router()
Name = Annotated[
    str, Path(max_length=100, description="Experiment name", examples=["random_labels"])
]
PRESETS = ("quick", "control", "full")


@router.get(
    "/experiments",
    summary="The experiment catalogue (HTML)",
    description="Every toy experiment, the claim it tests and its latest runs.",
)
def catalogue_page(request: Request, session: SessionDep) -> Any:
    return render(request, "experiments.html", {"experiments": runs.catalogue(session)})


def _experiment_context(session: SessionDep, name: str) -> dict[str, Any]:
    spec = runs.require_experiment(name)
    info = runs.describe(session, spec, runs.claims_by_experiment(session))
    recent, _ = runs.list_runs(session, RunFilters(experiment=name), 10, 0)
    return {
        "info": info,
        "fields": fields(info.params_schema, info.presets),
        "presets": [p for p in PRESETS if p in info.presets],
        "recent": recent,
        "sent": {},
        "errors": [],
    }


@router.get(
    "/experiments/{name}",
    summary="An experiment and its run form (HTML)",
    description="What the experiment tests, its signature and control, a form built from "
    "its parameter schema, and its recent runs.",
)
def experiment_page(name: Name, request: Request, session: SessionDep) -> Any:
    return render(request, "experiment.html", _experiment_context(session, name))


def _validation_messages(error: RequestValidationError | ValidationError) -> list[str]:
    out = []
    for e in error.errors():
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        out.append(f"{'.'.join(loc) or 'form'}: {e.get('msg', 'invalid')}")
    return out


def _start(request: Request, session: SessionDep, name: str, sent: dict[str, str]) -> Any:
    context = _experiment_context(session, name)
    try:
        body = RunRequest(
            preset=sent.get("preset") or "quick",
            seed=sent.get("seed") or 0,
            params=parse(context["fields"], sent),
        )
        if body.preset == "full" or body.params:
            require(request, session, Scope.write)  # minutes of CPU, or one's own parameters
        settings = request.app.state.settings
        run, created = write(session, lambda: runs.submit(session, settings, name, body))
    except (Unauthorized, Forbidden) as refused:
        context["errors"] = [
            f"{refused.message}. The full preset and custom parameters need a token that may "
            "write: log in first; the quick and control presets need none"
        ]
        context["sent"] = sent
        return render(request, "experiment.html", context, status_code=refused.status_code)
    except (AppError, RequestValidationError, ValidationError) as bad:
        context["errors"] = (
            [bad.message] if isinstance(bad, AppError) else _validation_messages(bad)
        )
        context["sent"] = sent
        status = bad.status_code if isinstance(bad, AppError) else 422
        return render(request, "experiment.html", context, status_code=status)
    if created:
        runner_submit(request, run.id)  # after the commit: the worker must see the row
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.post(
    "/experiments/{name}/runs",
    name="start_run_form",
    summary="Start a run from the form (HTML)",
    description="Queues a run with the chosen preset, seed and any filled fields as "
    "overrides, then redirects to its page (the stored run when the same run exists). "
    "Quick and control presets need no token; the full preset and custom parameters need "
    "the write scope (a logged-in browser sends `csrf_token`). A bad field gets the form "
    "again, saying which field and why.",
    responses={303: {"description": "The run's page"}},
)
async def start_run_form(name: Name, request: Request, session: SessionDep) -> Any:
    form = await request.form()
    sent = {k: v for k, v in form.items() if isinstance(v, str)}
    return await run_in_threadpool(_start, request, session, name, sent)


@router.get(
    "/runs/{run_id}",
    summary="A run's page (HTML)",
    description="The run's plot, signature checks, metrics, verdict and provenance; while "
    "the run is queued or training its progress updates in place (or the page reloads "
    "every two seconds without JavaScript).",
)
def run_page(
    run_id: Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])],
    request: Request,
    session: SessionDep,
) -> Any:
    run = runs.get_run(session, run_id)
    public = runs.publish(session, [run])[0]
    spec = runs.require_experiment(run.experiment)
    return render(
        request, "run.html", {"run": public, "spec": spec, "active": run.status in ACTIVE}
    )
