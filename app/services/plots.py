"""A run's plot as PNG or SVG, drawn by its experiment from the stored series.

Rendering uses matplotlib's object API with the Agg canvas (no pyplot, no global state),
so requests can draw in parallel threads. Files are cached under `plots_dir`, keyed by the
run and its result, so a plot is drawn once.
"""

import io
import os
import threading
from pathlib import Path
from typing import Literal

from app.experiments.base import Check, Result
from app.experiments.registry import get_experiment
from app.models.run import ExperimentRun

PlotFormat = Literal["png", "svg"]
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


def result_of(run: ExperimentRun) -> Result:
    return Result(
        metrics=run.metrics or {},
        series=run.series or {},
        checks=[Check.model_validate(c) for c in run.checks or []],
        verdict=run.verdict,
    )


def draw(name: str, result: Result, fmt: PlotFormat, title: str | None = None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = get_experiment(name)
    if spec is None:
        raise LookupError(f"experiment {name!r} is not registered")
    fig = Figure(figsize=(9, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    spec.plot(result, fig)
    if title:
        fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    # Fixed metadata and hash salt: the same run always gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "theory-atlas"}):
        fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def plot_bytes(run: ExperimentRun, fmt: PlotFormat, plots_dir: Path) -> bytes:
    path = plots_dir / f"run-{run.id}-{run.cache_key[:12]}.{fmt}"
    if path.exists():
        return path.read_bytes()
    title = f"{run.experiment} · run {run.id} · seed {run.seed} · {run.verdict}"
    data = draw(run.experiment, result_of(run), fmt, title)
    plots_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return data
