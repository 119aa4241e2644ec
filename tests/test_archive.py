"""Backup archives (`atlas export`, `atlas import-archive`): the whole database as JSON,
identical across SQLite and PostgreSQL, loaded only into an empty database, all or nothing,
and a restored database that answers like the original (search, graph, fresh ids)."""

import gzip
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)
from typer.testing import CliRunner

from app.cli import cli
from app.core import migrations
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.experiments.base import Verdict
from app.main import create_app
from app.models import Actor, Claim, Evidence, ExperimentRun, Source
from app.models.common import EvidenceRelation
from app.models.run import RunStatus
from app.services.archive import (
    FORMAT,
    ArchiveError,
    archived_tables,
    dump_tables,
    export_archive,
    import_archive,
    load_tables,
)
from tests.conftest import PG_ADMIN, _pg_admin, _pg_url, make_database
from tests.helpers import API, AUTH, snapshot

# Numbers that a lossy float or text conversion would change.
THIRD = 1 / 3
POINT_THREE = 0.1 + 0.2  # 0.30000000000000004
STARTED = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _add_runs(session_factory: Any) -> dict[str, int]:
    """A finished run endorsed as evidence (floats, JSON, instants) and a queued one."""
    with session_factory() as session, session.begin():
        claim = session.scalar(select(Claim).where(Claim.experiment == "scaling_law"))
        common: dict[str, Any] = {
            "experiment": "scaling_law",
            "preset": "quick",
            "seed": 0,
            "code_version": "test",
            "cache_key": "k" * 64,
            "attempts": 1,
            "cancel_requested": False,
        }
        done = ExperimentRun(
            **common,
            registered=True,
            params={"n_max": 400, "alpha": 0.5, "noise": POINT_THREE},
            status=RunStatus.succeeded,
            progress=1.0,
            message="done — ✓",
            worker="host:1",
            heartbeat_at=STARTED,
            started_at=STARTED,
            finished_at=datetime(2026, 5, 1, 12, 0, 3, 999999, tzinfo=UTC),
            duration_s=THIRD,
            verdict=Verdict.reproduced,
            metrics={"exponent": 0.5916843, "tiny": 5e-324, "huge": 1.7976931348623157e308},
            series={"n": [50, 100, 200], "loss": [THIRD, POINT_THREE, 2.5e-17]},
            checks=[{"name": "exponent near 0.5", "passed": True, "value": THIRD}],
            libraries={"numpy": "2.1.0"},
            requested_by="tests",
        )
        queued = ExperimentRun(
            **common, registered=False, params={"n_max": 10}, status=RunStatus.queued, progress=0.0
        )
        session.add_all([done, queued])
        session.flush()
        evidence = Evidence(
            claim_id=claim.id,
            run_id=done.id,
            relation=EvidenceRelation.replicates,
            note=f"Experiment run {done.id}: scaling_law, quick preset, seed 0",
            recorded_by="tests",
        )
        session.add(evidence)
        session.flush()
        return {"run": done.id, "queued": queued.id, "evidence": evidence.id}


def _without_time(archive: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in archive.items() if k != "exported_at"}


def _export(session_factory: Any) -> dict[str, Any]:
    with session_factory() as session:
        return export_archive(session)


def _fresh(settings: Settings) -> Settings:
    """The settings with experiment jobs only queued (no worker pool in these apps)."""
    return settings.model_copy(update={"job_runner": "none"})


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[Settings]:
    """A new database of the backend under test, migrated, with no rows."""
    settings, drop = make_database(tmp_path)
    migrations.upgrade(settings)
    try:
        yield _fresh(settings)
    finally:
        drop()


# ---------------------------------------------------------------- the round trip


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Runs `atlas` in this process against DATABASE_URL=url (settings are cached)."""

    def run(url: str, *args: str) -> Any:
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        return CliRunner().invoke(cli, list(args))

    yield run
    get_settings.cache_clear()


def _new_pg_database() -> tuple[str, Any]:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    name = f"atlas_test_{secrets.token_hex(6)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    return _pg_url(name), lambda: _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _read(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


@pytest.mark.once
def test_round_trip_sqlite_postgresql_sqlite_gives_identical_archives(
    seeded: TestClient, session_factory: Any, db_settings: Settings, tmp_path: Path, cli_env: Any
) -> None:
    """Seed + runs on SQLite → archive → a new PostgreSQL database → archive → a new SQLite
    file → archive: the three documents are the same, byte for byte (but exported_at)."""
    assert db_settings.is_sqlite
    ids = _add_runs(session_factory)
    pg_url, drop = _new_pg_database()
    sqlite_url = f"sqlite:///{tmp_path / 'restored.db'}"
    files = [tmp_path / "from-sqlite.json.gz", tmp_path / "from-pg.json", tmp_path / "back.json"]
    try:
        steps = [
            (db_settings.database_url, "export", files[0]),
            (pg_url, "import-archive", files[0]),  # migrates the empty database first
            (pg_url, "export", files[1]),
            (sqlite_url, "import-archive", files[1]),  # a file that does not exist yet
            (sqlite_url, "export", files[2]),
        ]
        for url, command, path in steps:
            result = cli_env(url, command, str(path))
            assert result.exit_code == 0, (command, url, result.output)
        again = cli_env(pg_url, "import-archive", str(files[0]))
        assert again.exit_code == 2 and "not empty" in again.output
    finally:
        drop()

    archives = [_read(p) for p in files]
    texts = [json.dumps(_without_time(a), ensure_ascii=False) for a in archives]
    assert texts[0] == texts[1] == texts[2]

    first = archives[0]
    assert first["format"] == FORMAT and first["version"] == 1
    assert first["schema_revision"] == migrations.head_revision(db_settings)
    assert datetime.fromisoformat(first["exported_at"]).tzinfo is not None
    assert list(first["tables"]) == [t.name for t in archived_tables()]
    assert "graph_changes" not in first["tables"]
    assert not any(name.startswith("search") for name in first["tables"])
    counts = {name: len(t["rows"]) for name, t in first["tables"].items()}
    assert counts["sources"] == 127 and counts["claims"] == 87 and counts["thread_versions"] == 1
    assert counts["experiment_runs"] == 2 and counts["api_tokens"] == 1

    runs = archives[2]["tables"]["experiment_runs"]
    run = dict(zip(runs["columns"], runs["rows"][0], strict=True))
    assert run["id"] == ids["run"] and run["duration_s"] == THIRD
    assert run["params"]["noise"] == POINT_THREE
    assert run["metrics"] == {"exponent": 0.5916843, "tiny": 5e-324, "huge": 1.7976931348623157e308}
    assert run["series"]["loss"] == [THIRD, POINT_THREE, 2.5e-17]
    assert run["started_at"] == "2026-05-01T12:00:00.123456Z"
    assert run["status"] == "succeeded" and run["verdict"] == "reproduced"
    assert run["registered"] is True and run["cancel_requested"] is False
    assert run["message"] == "done — ✓"
    queued = dict(zip(runs["columns"], runs["rows"][1], strict=True))
    assert queued["metrics"] is None and queued["finished_at"] is None
    evidence = archives[2]["tables"]["evidence"]
    endorsed = [r for r in evidence["rows"] if r[evidence["columns"].index("run_id")] is not None]
    assert len(endorsed) == 1 and endorsed[0][0] == ids["evidence"]
    sources = archives[2]["tables"]["sources"]
    dates = {r[sources["columns"].index("date")] for r in sources["rows"]} - {None}
    assert dates and all(len(d) == 10 for d in dates)  # YYYY-MM-DD


# ---------------------------------------------------------------- refusals


def test_import_into_a_non_empty_database_is_refused_and_changes_nothing(
    seeded: TestClient, session_factory: Any, db_settings: Settings, tmp_path: Path, cli_env: Any
) -> None:
    archive = _export(session_factory)
    before = snapshot(session_factory)
    with session_factory() as session:
        with pytest.raises(ArchiveError, match="not empty") as refused:
            import_archive(session, archive)
        session.rollback()
    assert "actors" in str(refused.value)
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(archive))
    result = cli_env(db_settings.database_url, "import-archive", str(path))
    assert result.exit_code == 2
    assert "the database is not empty" in result.output
    assert snapshot(session_factory) == before


def _broken(archive: dict[str, Any], how: str) -> Any:
    data = json.loads(json.dumps(archive))
    tables = data["tables"]
    if how == "format":
        data["format"] = "something-else"
    elif how == "version":
        data["version"] = 2
    elif how == "revision":
        data["schema_revision"] = "0001"
    elif how == "unknown table":
        tables["gadgets"] = {"columns": ["id"], "rows": []}
    elif how == "missing table":
        del tables["edges"]
    elif how == "columns":
        tables["actors"]["columns"][1] = "nickname"
    elif how == "short row":
        tables["claims"]["rows"][3].pop()
    elif how == "bad instant":
        cols = tables["sources"]["columns"]
        tables["sources"]["rows"][0][cols.index("created_at")] = "yesterday"
    elif how == "bad enum":
        cols = tables["claims"]["columns"]
        tables["claims"]["rows"][0][cols.index("status")] = "maybe"
    elif how == "null":
        cols = tables["works"]["columns"]
        tables["works"]["rows"][0][cols.index("title")] = None
    elif how == "dangling key":
        # The last table in dependency order: everything before it is inserted, then refused.
        cols = tables["status_change_sources"]["columns"]
        tables["status_change_sources"]["rows"][-1][cols.index("source_id")] = 999_999
    elif how == "not an object":
        return [1, 2, 3]
    return data


BREAKAGES = {
    "format": "not a Theory Atlas archive",
    "version": "version 2 is not supported",
    "revision": "schema revision mismatch",
    "unknown table": "does not know: gadgets",
    "missing table": "lacks tables: edges",
    "columns": "missing: slug; unknown: nickname",
    "short row": "table claims, row 3",
    "bad instant": "column created_at: 'yesterday' is not an ISO 8601 instant",
    "bad enum": "column status: 'maybe' is not one of",
    "null": "column title: is null",
    "dangling key": "table status_change_sources: the database refused",
    "not an object": "not a Theory Atlas archive",
}


def test_corrupt_or_foreign_archives_are_refused_and_load_nothing(
    seeded: TestClient, session_factory: Any, empty_db: Settings, tmp_path: Path, cli_env: Any
) -> None:
    archive = _export(session_factory)
    engine = make_engine(empty_db)
    factory = make_sessionmaker(engine)
    empty = snapshot(factory)
    try:
        for how, message in BREAKAGES.items():
            with factory() as session:
                with pytest.raises(ArchiveError) as refused:
                    import_archive(session, _broken(archive, how))
                session.rollback()
            assert message in str(refused.value), (how, str(refused.value))
            assert snapshot(factory) == empty, how

        # Through the command: unreadable files and foreign documents exit with 2.
        files = {
            "garbage.json": b"{not json",
            "truncated.json.gz": gzip.compress(json.dumps(archive).encode())[:500],
            "other.json": json.dumps({"format": "other", "version": 1}).encode(),
        }
        for name, body in files.items():
            (tmp_path / name).write_bytes(body)
            result = cli_env(empty_db.database_url, "import-archive", str(tmp_path / name))
            assert result.exit_code == 2, (name, result.output)
            assert "error:" in result.output
        wrong_suffix = cli_env(empty_db.database_url, "export", str(tmp_path / "x.txt"))
        assert wrong_suffix.exit_code == 2 and ".json or .json.gz" in wrong_suffix.output
        assert snapshot(factory) == empty
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the restored database


def test_a_restored_database_answers_like_the_original(
    seeded: TestClient, session_factory: Any, empty_db: Settings
) -> None:
    """On the backend under test: search (FTS rebuilt by the inserts), the graph (with the
    endorsed run), and new rows get fresh ids (PostgreSQL sequences moved on)."""
    ids = _add_runs(session_factory)
    archive = _export(session_factory)
    search = {"q": "memorization", "limit": 10}
    expected_hits = seeded.get(f"{API}/search", params=search).json()
    expected_stats = seeded.get(f"{API}/graph/stats").json()
    run_node = f"{API}/graph/nodes/run:{ids['run']}/neighbourhood"
    expected_run = seeded.get(run_node, params={"k": 1}).json()

    engine = make_engine(empty_db)
    factory = make_sessionmaker(engine)
    try:
        with factory() as session:
            counts = import_archive(session, archive)
            session.commit()
        assert counts["sources"] == 127 and counts["experiment_runs"] == 2
        assert _without_time(_export(factory)) == _without_time(archive)

        with TestClient(create_app(empty_db), headers=AUTH) as client:
            hits = client.get(f"{API}/search", params=search).json()
            assert hits["total"] == expected_hits["total"] > 0
            assert [(h["type"], h["id"]) for h in hits["items"]] == [
                (h["type"], h["id"]) for h in expected_hits["items"]
            ]
            assert client.get(f"{API}/graph/stats").json() == expected_stats
            assert client.get(run_node, params={"k": 1}).json() == expected_run

            with factory() as session:
                top_actor = session.scalar(select(func.max(Actor.id)))
                top_source = session.scalar(select(func.max(Source.id)))
            actor = client.post(f"{API}/actors", json={"name": "Restored Person"})
            assert actor.status_code == 201, actor.text
            assert actor.json()["id"] == top_actor + 1
            source = client.post(
                f"{API}/sources",
                json={"title": "Quokka generalization after restoring", "year": 2026},
            )
            assert source.status_code == 201, source.text
            assert source.json()["id"] == top_source + 1
            found = client.get(f"{API}/search", params={"q": "quokka"}).json()["items"]
            assert [h["id"] for h in found] == [source.json()["id"]]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- cyclic foreign keys


def test_self_referencing_and_cyclic_keys_load_in_a_second_pass(tmp_path: Path) -> None:
    """No table of the schema refers to itself or forms a cycle today; if one does, its keys
    are loaded as NULL and set once every row is in."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    md = MetaData()
    people = Table(
        "people",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False),
        Column("mentor_id", ForeignKey("people.id")),  # refers to its own table
        Column("team_id", Integer),
    )
    teams = Table(
        "teams",
        md,
        Column("id", Integer, primary_key=True),
        Column("lead_id", ForeignKey("people.id")),
    )
    people.append_constraint(ForeignKeyConstraint(["team_id"], ["teams.id"]))  # a cycle
    engine = create_engine(f"sqlite:///{tmp_path / 'cycles.db'}")
    event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA foreign_keys=ON"))
    md.create_all(engine)
    data = {
        # Person 1's mentor (3) and team (7) are loaded after person 1 itself.
        "people": {
            "columns": ["id", "name", "mentor_id", "team_id"],
            "rows": [[1, "Ada", 3, 7], [2, "Grace", 1, None], [3, "Edsger", None, 7]],
        },
        "teams": {"columns": ["id", "lead_id"], "rows": [[7, 3]]},
    }
    with Session(engine) as session:
        counts = load_tables(session, [teams, people], data)
        session.commit()
    assert counts == {"people": 3, "teams": 1}
    with Session(engine) as session:
        dumped = dump_tables(session, [people, teams])
    assert dumped == data
    engine.dispose()
