"""The `atlas` command line: serve, migrate, seed, tokens, experiments, watches."""

import contextlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from app.core import migrations
from app.core.config import get_settings
from app.core.db import make_engine, make_sessionmaker
from app.experiment_cli import experiment_cli
from app.token_cli import token_cli
from app.watch_cli import watch_cli


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
cli.add_typer(token_cli, name="token")
cli.add_typer(watch_cli, name="watches")


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


def few_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
    an arena keeps what it freed: a threaded server's memory creeps up. Two arenas cost
    nothing measurable here and saved 15-20 MB under load (the usual MALLOC_ARENA_MAX=2)."""
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if "MALLOC_ARENA_MAX" in os.environ or libc_name is None:
        return
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)  # for worker processes (--workers 2+)
    with contextlib.suppress(OSError, AttributeError):  # not glibc: no mallopt
        ctypes.CDLL(libc_name).mallopt(-8, arenas)  # -8: M_ARENA_MAX


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    reload: bool = False,
    upgrade: Annotated[bool, typer.Option(help="Migrate to the latest revision first.")] = True,
    seed_data: Annotated[bool, typer.Option("--seed", help="Load the seed debate first.")] = False,
    worker_healthcheck_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds a worker may take to answer uvicorn's health check before it is "
            "restarted (with --workers 2 or more; a large graph takes long to build).",
        ),
    ] = 60,
) -> None:
    """Serve the API with uvicorn (migrates the database first unless --no-upgrade)."""
    import uvicorn

    few_malloc_arenas()
    if upgrade:
        migrations.upgrade(get_settings())
    if seed_data:
        seed()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        timeout_worker_healthcheck=worker_healthcheck_timeout,
    )


@cli.command()
def worker(
    processes: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    threads: Annotated[
        int, typer.Option(min=1, max=64, help="Runs at once per process (training is CPU-bound).")
    ] = 1,
    shutdown_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds a stopping worker waits for its runs.")
    ] = 30.0,
) -> None:
    """Run experiment jobs from Redis (for an API with JOB_RUNNER=dramatiq).

    Becomes a dramatiq worker; SIGTERM or Ctrl-C stops it and hands its runs back.
    """
    import os

    from app.jobs.dramatiq_runner import make_broker, worker_command

    settings = get_settings()
    engine = make_engine(settings)
    try:
        migrations.check_schema(engine, settings)
    except migrations.SchemaOutOfDate as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    broker = make_broker(settings)
    try:
        broker.client.ping()
    except Exception as exc:
        typer.echo(f"error: Redis (REDIS_URL) does not answer: {exc}", err=True)
        raise typer.Exit(3) from None
    finally:
        broker.client.close()
    argv, env = worker_command(settings, processes, threads, shutdown_timeout)
    os.execvpe(argv[0], argv, env)


# ---------------------------------------------------------------- backup archives


@cli.command("export")
def export_archive_cmd(
    path: Annotated[
        Path, typer.Argument(help="The archive to write: .json, or .json.gz to compress.")
    ],
) -> None:
    """Write the whole database to one JSON archive (restore it with `atlas import-archive`)."""
    from app.core.db import write_intent
    from app.services.archive import ArchiveError, check_path, export_archive, write_archive

    try:
        check_path(path)
    except ArchiveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    engine = make_engine(settings)
    reading = write_intent.set(False)  # SQLite: a plain read transaction (one WAL snapshot)
    try:
        migrations.check_schema(engine, settings)
        with make_sessionmaker(engine)() as session:
            data = export_archive(session)
    except migrations.SchemaOutOfDate as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        write_intent.reset(reading)
        engine.dispose()
    size = write_archive(path, data)
    counts = {name: len(t["rows"]) for name, t in data["tables"].items()}
    for name, n in counts.items():
        typer.echo(f"{name:<24} {n:>8}")
    typer.echo(
        f"wrote {path} ({size:,} bytes): {sum(counts.values())} rows in {len(counts)} tables, "
        f"schema revision {data['schema_revision']}"
    )


@cli.command("import-archive")
def import_archive_cmd(
    path: Annotated[
        Path,
        typer.Argument(help="An archive written by `atlas export`.", exists=True, dir_okay=False),
    ],
) -> None:
    """Load an archive into an empty database (migrated first if it has no schema yet)."""
    from app.services.archive import ArchiveError, check_header, import_archive, read_archive

    settings = get_settings()
    engine = make_engine(settings)
    try:
        data = read_archive(path)
        check_header(data)
        if migrations.current_revision(engine) is None:
            head = migrations.head_revision(settings)
            if data["schema_revision"] != head:
                raise ArchiveError(
                    f"schema revision mismatch: the archive is at {data['schema_revision']} "
                    f"but this code builds {head}: import it with the code of that revision"
                )
            migrations.upgrade(settings)
        with make_sessionmaker(engine)() as session:
            counts = import_archive(session, data)
            session.commit()
    except ArchiveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    for name, n in counts.items():
        typer.echo(f"{name:<24} {n:>8}")
    typer.echo(f"loaded {sum(counts.values())} rows in {len(counts)} tables from {path}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
