"""`atlas experiment …`: run a toy experiment in this process, without the service."""

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from app.experiments.base import Result
from app.experiments.registry import all_experiments, get_experiment
from app.jobs import provenance

experiment_cli = typer.Typer(help="Toy experiments that test claims.", no_args_is_help=True)
STEPS = 1000


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    """k=v pairs; v is read as JSON when it parses (numbers, lists, true), else as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r}: expected key=value", param_hint="--param")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


@experiment_cli.command("list")
def list_experiments() -> None:
    """The registered experiments and the claims they test."""
    for name, spec in all_experiments().items():
        typer.echo(f"{name:<28} {spec.title}")


@experiment_cli.command("run")
def run_experiment(
    name: Annotated[str, typer.Argument(help="Experiment name (see `atlas experiment list`).")],
    preset: Annotated[str, typer.Option(help="quick, full or control.")] = "quick",
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random draw.")] = 0,
    param: Annotated[
        list[str] | None, typer.Option(help="Override a parameter: key=value (repeatable).")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Where to write the plot (.png or .svg).", dir_okay=False)
    ] = None,
) -> None:
    """Runs an experiment here, with a progress bar; prints metrics, checks and verdict."""
    spec = get_experiment(name)
    if spec is None:
        typer.echo(f"error: unknown experiment {name!r}; known: {', '.join(all_experiments())}")
        raise typer.Exit(2)
    if preset not in ("quick", "full", "control"):
        raise typer.BadParameter("choose quick, full or control", param_hint="--preset")
    try:
        params = spec.resolve(preset, _parse_params(param or []))  # type: ignore[arg-type]
    except ValidationError as exc:
        for e in exc.errors():
            typer.echo(f"error: {'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}", err=True)
        raise typer.Exit(2) from None
    started = time.monotonic()
    with typer.progressbar(length=STEPS, label=name, show_percent=True) as bar:
        done = 0

        def progress(fraction: float, message: str) -> None:
            nonlocal done
            target = int(min(1.0, max(0.0, fraction)) * STEPS)
            if target > done:
                bar.update(target - done)
                done = target

        result = spec.compute(params, seed, progress)
        bar.update(STEPS - done)
    elapsed = time.monotonic() - started
    _print(result, elapsed, provenance.code_version(spec))
    out = plot or Path(f"{name}-{preset}-seed{seed}.png")
    _write_plot(name, result, out)
    typer.echo(f"plot: {out}")


def _print(result: Result, elapsed: float, version: str) -> None:
    typer.echo("metrics:")
    for key, value in result.metrics.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        typer.echo(f"  {key:<40} {shown}")
    typer.echo("signature:")
    for c in result.checks:
        mark = {True: "yes", False: "NO", None: "n/a"}[c.passed]
        value = "undefined" if c.value is None else f"{c.value:.4g}"
        typer.echo(f"  [{mark:>3}] {c.description} (value {value})")
    typer.echo(f"verdict: {result.verdict.value}  ({elapsed:.1f} s, code {version})")


def _write_plot(name: str, result: Result, out: Path) -> None:
    from app.services.plots import PlotFormat, draw

    fmt: PlotFormat = "svg" if out.suffix.lower() == ".svg" else "png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(draw(name, result, fmt))
