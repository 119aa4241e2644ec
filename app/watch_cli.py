"""`atlas watches poll|evaluate`: poll due watches from cron or a shell, and measure how
well triage suggestions find the problem or tension a work is tied to."""

import json
from typing import Annotated

import typer

from app.core import migrations
from app.core.config import get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.errors import AppError

watch_cli = typer.Typer(help="Watches, the inbox and its suggestions.", no_args_is_help=True)


@watch_cli.command("poll")
def poll(
    watch_id: Annotated[
        int | None, typer.Option("--id", help="Poll this watch now, due or not.")
    ] = None,
) -> None:
    """Poll every due watch (or one), print one JSON report per watch; exit 1 if any failed."""
    from app.services import watches

    settings = get_settings()
    engine = make_engine(settings)
    try:
        migrations.check_schema(engine, settings)
        factory = make_sessionmaker(engine)
        if watch_id is None:
            reports = watches.poll_due(factory, settings)
        else:
            reports = [watches.poll(factory, settings, watch_id)]
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    for r in reports:
        typer.echo(json.dumps(r.public()))
    if any(r.status == "failed" for r in reports):
        raise typer.Exit(1)


@watch_cli.command("evaluate")
def evaluate(
    k: Annotated[int, typer.Option(min=1, max=20, help="How many suggestions count.")] = 3,
    fulltext: Annotated[
        bool, typer.Option(help="Rank by full-text similarity even if the model is installed.")
    ] = False,
    title_only: Annotated[
        bool, typer.Option(help="Re-enter works by title alone (no note as abstract).")
    ] = False,
) -> None:
    """Hold back each work tied to a problem or tension, re-enter it as an inbox item, and
    count how often one of its problems or tensions is in the top k (database unchanged)."""
    from app.services import holdout

    settings = get_settings()
    engine = make_engine(settings)
    try:
        migrations.check_schema(engine, settings)
        result = holdout.evaluate(
            make_sessionmaker(engine),
            "off" if fulltext else settings.embeddings,
            k=k,
            with_note=not title_only,
        )
    finally:
        engine.dispose()
    typer.echo(json.dumps(result, indent=2))
