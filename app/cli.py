"""The `atlas` command line: serve, migrate, seed."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from app.core import migrations
from app.core.config import get_settings
from app.core.db import make_engine, make_sessionmaker
from app.experiment_cli import experiment_cli


class ImportFormat(StrEnum):
    auto = "auto"
    bibtex = "bibtex"
    csljson = "csljson"
    ris = "ris"


class ImportMode(StrEnum):
    report = "report"
    all = "all"


cli = typer.Typer(help="Theory Atlas: a tracker for a scientific debate.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(experiment_cli, name="experiment")


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database to REVISION (default: the latest)."""
    migrations.upgrade(get_settings(), revision)
    typer.echo(f"database at {revision}")


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Migrate the database down to REVISION ('base' empties it)."""
    migrations.downgrade(get_settings(), revision)
    typer.echo(f"database at {revision}")


@db_cli.command("current")
def db_current() -> None:
    """Print the database's revision and the latest one."""
    settings = get_settings()
    engine = make_engine(settings)
    typer.echo(f"current: {migrations.current_revision(engine)}")
    typer.echo(f"head:    {migrations.head_revision(settings)}")
    engine.dispose()


@cli.command()
def seed() -> None:
    """Load the seed debate from seeds/ (idempotent: a second run changes nothing)."""
    from app.services.seed import load_seed

    settings = get_settings()
    engine = make_engine(settings)
    migrations.check_schema(engine, settings)
    with make_sessionmaker(engine)() as session:
        report = load_seed(session, settings.seeds_dir)
        session.commit()
    engine.dispose()
    if not report:
        typer.echo("seed data already loaded: nothing changed")
    for name, counts in report.items():
        typer.echo(f"{name:<24} created {counts['created']:>4}  updated {counts['updated']:>4}")


@cli.command("import")
def import_file(
    path: Annotated[
        Path, typer.Argument(help="A .bib, CSL-JSON or RIS file.", exists=True, dir_okay=False)
    ],
    format: Annotated[ImportFormat, typer.Option(help="The file's format.")] = ImportFormat.auto,
    mode: Annotated[
        ImportMode, typer.Option(help="report: import what can be read; all: or nothing.")
    ] = ImportMode.report,
    encoding: str = "utf-8",
) -> None:
    """Import sources from a bibliography file, reporting duplicates and broken entries."""
    from app.core.errors import AppError
    from app.services.formats.common import decode
    from app.services.importing import import_text

    settings = get_settings()
    engine = make_engine(settings)
    migrations.check_schema(engine, settings)
    try:
        text = decode(path.read_bytes(), encoding)
        with make_sessionmaker(engine)() as session:
            result = import_text(session, text, format.value, mode.value, None, None)
            session.commit()
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(
        f"{result['format']}: {result['entries']} entries, {result['created']} created, "
        f"{result['duplicates']} duplicates, {result['invalid']} invalid, "
        f"{result['unreadable']} unreadable"
    )
    for problem in [i for i in result["items"] if i["status"] != "created"] + result["errors"]:
        line = problem.get("line")
        typer.echo(f"  line {line if line is not None else '?'}: {problem.get('message')}")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    reload: bool = False,
    upgrade: Annotated[bool, typer.Option(help="Migrate to the latest revision first.")] = True,
    seed_data: Annotated[bool, typer.Option("--seed", help="Load the seed debate first.")] = False,
) -> None:
    """Serve the API with uvicorn (migrates the database first unless --no-upgrade)."""
    import uvicorn

    if upgrade:
        migrations.upgrade(get_settings())
    if seed_data:
        seed()
    uvicorn.run("app.main:app", host=host, port=port, workers=workers, reload=reload)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
