"""The deployment files (Dockerfile, docker-compose.yml, scripts/prestart.sh, the deployment
guide) against the code: every command they run is a real entry point with real options,
every variable they set is a setting, and the API's start step migrates and seeds a new
database, once.

No container runs here. `compose_service()` gives what a compose service would run (its
argv, environment and working directory) with the compose hostnames pointed at this machine,
for tests that start the API and the worker the way compose does.
"""

import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import typer
import yaml
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from app.cli import cli
from app.core import migrations
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.models import Problem, Source, Thread, ThreadVersion
from tests.conftest import make_database
from tests.helpers import snapshot

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"
IMAGE_WORKDIR = "/app"  # the repository root, inside the image
IMAGE_DATA = "/data"  # the image's volume
# SECRET_KEY has no default in docker-compose.yml; tests give this one (16+ characters).
TEST_SECRET_KEY = "deploy-tests-secret-key-not-for-production"
# Variables the Dockerfile sets for Python, pip and matplotlib themselves, not for Settings.
TOOL_ENV = re.compile(r"^(PYTHON|PIP_|MPL)")


# ------------------------------------------------------------------ reading the files


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or (not current and not line.strip()):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def _instruction_argv(arguments: str) -> list[str]:
    """An exec form (JSON array) as is; a shell form as Docker runs it, through sh -c."""
    if arguments.startswith("["):
        return list(yaml.safe_load(arguments))
    return ["/bin/sh", "-c", arguments]


def image_cmd() -> list[str]:
    return _instruction_argv([a for k, a in dockerfile() if k == "CMD"][-1])


def image_healthcheck() -> list[str]:
    arguments = [a for k, a in dockerfile() if k == "HEALTHCHECK"][-1]
    _, _, command = arguments.partition("CMD ")
    return _instruction_argv(command.strip())


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile():
        if keyword == "ENV":
            for item in shlex.split(arguments):
                name, sep, value = item.partition("=")
                assert sep, f"ENV {arguments}: write ENV NAME=value"
                env[name] = value
    return env


class ComposeVariableMissing(ValueError):
    pass


_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's variable substitution: $VAR, ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op") or "", match.group("arg") or ""
        value = variables.get(name)
        unset = value is None or (op.startswith(":") and value == "")
        if unset and op.endswith("-"):
            return arg
        if unset and op.endswith("?"):
            raise ComposeVariableMissing(f"{name}: {arg}")
        return value or ""

    return _INTERPOLATION.sub(replace, text)


def _interpolated(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolated(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, variables) for key, value in node.items()}
    return node


def load_compose(variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml with its variables substituted (SECRET_KEY = TEST_SECRET_KEY
    unless `variables` says otherwise); YAML anchors and merge keys are resolved."""
    values = {"SECRET_KEY": TEST_SECRET_KEY} if variables is None else dict(variables)
    return dict(_interpolated(yaml.safe_load(COMPOSE_FILE.read_text()), values))


def _argv(value: str | list[Any] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _image_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run this project's image (built from the Dockerfile)."""
    image = compose["services"]["api"]["image"]
    return {
        name: svc
        for name, svc in compose["services"].items()
        if "build" in svc or svc.get("image") == image
    }


def _environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def _service_argv(svc: dict[str, Any]) -> list[str]:
    if "entrypoint" in svc:
        return _argv(svc["entrypoint"]) + _argv(svc.get("command"))
    return _argv(svc["command"]) if "command" in svc else image_cmd()


def _with_host(url: str, host: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    hostport = netloc[2]
    port = f":{parts.port}" if parts.port else ""
    assert parts.hostname and hostport.startswith(parts.hostname), url
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}{netloc[1]}{host}{port}"))


# ------------------------------------------------------------------ for tests that start services


@dataclass
class ServiceRun:
    """What a compose service runs, rewritten to run here: `subprocess.Popen(run.argv,
    cwd=run.cwd, env=run.env)`. cwd is the repository root (the image's WORKDIR /app)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def compose_service(
    name: str,
    database_url: str,
    *,
    data_dir: Path,
    redis_url: str | None = None,
    port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> ServiceRun:
    """The argv and environment of compose service `name` (api or worker), as the container
    would get them (the image's ENV, then the service's environment), pointed at this host:
    DATABASE_URL becomes `database_url` (the compose one names the `postgres` service),
    REDIS_URL's host `redis` becomes 127.0.0.1 (or `redis_url`), paths under the image's
    volume /data move to `data_dir` (PLOTS_DIR), and with `port` the API listens on
    127.0.0.1:port instead of 0.0.0.0:8000. PATH starts with this interpreter's directory,
    so `atlas` is this checkout's. `extra_env` comes last (e.g. a DRAMATIQ_QUEUE per test).
    Start it with `subprocess.Popen(run.argv, cwd=run.cwd, env=run.env)`."""
    compose = load_compose()
    svc = compose["services"][name]
    env = {**os.environ, **image_env(), **_environment(svc)}
    assert urlsplit(env["DATABASE_URL"]).hostname == "postgres", env["DATABASE_URL"]
    env["DATABASE_URL"] = database_url
    if "REDIS_URL" in env:
        assert urlsplit(env["REDIS_URL"]).hostname == "redis", env["REDIS_URL"]
        env["REDIS_URL"] = redis_url or _with_host(env["REDIS_URL"], "127.0.0.1")
    for key, value in list(env.items()):
        if value == IMAGE_DATA or value.startswith(f"{IMAGE_DATA}/"):
            env[key] = str(data_dir) + value[len(IMAGE_DATA) :]
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra_env or {})
    argv = _service_argv(svc)
    if port is not None:
        argv = [
            re.sub(r"--port(\s+|=)8000\b", rf"--port\g<1>{port}", arg).replace(
                "0.0.0.0", "127.0.0.1"
            )
            for arg in argv
        ]
    return ServiceRun(argv=argv, env=env, cwd=REPO)


# ------------------------------------------------------------------ the commands they run


def shell_commands(argv: list[str]) -> list[list[str]]:
    """The simple commands an argv runs: `sh -c "a && exec b"` is [a, b]."""
    if len(argv) == 3 and Path(argv[0]).name == "sh" and argv[1] == "-c":
        return [
            [word for i, word in enumerate(shlex.split(part)) if not (i == 0 and word == "exec")]
            for part in re.split(r"&&|\|\||;", argv[2])
            if part.strip()
        ]
    return [argv]


def script_commands(path: Path) -> Iterator[list[str]]:
    """The `atlas …` lines of a shell script."""
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["atlas"]:
            yield words


def check_atlas(args: list[str]) -> None:
    """`atlas ARGS` names real (sub)commands and options: walk the click tree, then let the
    command parse the arguments with --help (which parses, then stops before running)."""
    command: Any = typer.main.get_command(cli)
    words = list(args)
    while hasattr(command, "list_commands") and words and not words[0].startswith("-"):
        sub = command.get_command(typer.Context(command), words[0])
        assert sub is not None, f"`atlas {' '.join(args)}`: no command {words[0]!r}"
        command, words = sub, words[1:]
    assert not hasattr(command, "list_commands"), f"`atlas {' '.join(args)}` names a group"
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"`atlas {' '.join(args)}`: no option {word}"
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"`atlas {' '.join(args)}`: {result.output}"


def check_runs_real_commands(argv: list[str], where: str) -> None:
    for words in shell_commands(argv):
        program = words[0]
        if program == "atlas":
            check_atlas(words[1:])
        elif "/" in program:
            relative = program.removeprefix(f"{IMAGE_WORKDIR}/")
            script = REPO / relative
            assert script.is_file(), f"{where}: {program} does not exist"
            assert os.access(script, os.X_OK), f"{where}: {program} is not executable"
            for line in script_commands(script):
                check_atlas(line[1:])
        else:
            assert program == "python", f"{where}: runs {program!r}, not this project's"


def test_the_image_runs_real_commands():  # type: ignore[no-untyped-def]
    instructions = dockerfile()
    assert [a for k, a in instructions if k == "WORKDIR"][-1] == IMAGE_WORKDIR
    assert [a for k, a in instructions if k == "USER"][-1] not in ("root", "0")
    check_runs_real_commands(image_cmd(), "Dockerfile CMD")
    assert image_cmd() == ["sh", "-c", image_cmd()[2]]
    assert shell_commands(image_cmd())[0] == ["scripts/prestart.sh"]
    health = image_healthcheck()
    assert health[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/health" in health[2]
    from app.main import app

    assert "get" in app.openapi()["paths"]["/health"]


def test_the_image_installs_pyproject_dependencies_and_chosen_extras():  # type: ignore[no-untyped-def]
    """The RUN that lists requirements, run here as the image runs it, by build argument."""
    run = next(a for k, a in dockerfile() if k == "RUN" and "tomllib" in a)
    script = shlex.split(run.split("&&")[0].split(">")[0])
    assert script[:2] == ["python", "-c"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for extras, wanted in (
        ("", project["dependencies"]),
        ("embeddings", project["dependencies"] + project["optional-dependencies"]["embeddings"]),
    ):
        listed = subprocess.run(
            [sys.executable, "-c", script[2]],
            cwd=REPO,
            env={**os.environ, "EXTRAS": extras},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert listed == [w.replace(" ", "") for w in wanted]
    assert "torch==2.13.0" in project["optional-dependencies"]["embeddings"]


def test_the_image_copies_what_exists_and_is_not_ignored():  # type: ignore[no-untyped-def]
    ignored = [
        p.strip().rstrip("/")
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copies = [shlex.split(a) for k, a in dockerfile() if k == "COPY"]
    assert copies
    for *sources, dest in copies:
        assert not sources[0].startswith("--"), "COPY --from/--chown: check by hand"
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert not any(fnmatch(source, p) for p in ignored), f".dockerignore drops {source}"
        assert dest.startswith("./"), f"COPY … {dest}: relative to WORKDIR, as in the repo"
        if len(sources) == 1 and (REPO / sources[0]).is_dir():
            assert dest.rstrip("/") == f"./{sources[0]}", "the layout inside /app is the repo's"
    copied = {source for *sources, _ in copies for source in sources}
    # What the code reads next to app/ (PROJECT_ROOT), and what the API's start runs.
    assert {"app", "migrations", "alembic.ini", "seeds", "scripts", "pyproject.toml"} <= copied
    # Never in the build context: secrets, local state.
    for path in (".env", ".git", ".venv", "var"):
        assert any(fnmatch(path, p) for p in ignored), f".dockerignore keeps {path}"


def test_compose_services_run_real_commands():  # type: ignore[no-untyped-def]
    compose = load_compose()
    services = _image_services(compose)
    assert set(services) == {"api", "worker"}
    for name, svc in services.items():
        check_runs_real_commands(_service_argv(svc), f"compose service {name}")
    # The API starts as the image does by default; the worker is `atlas worker`.
    assert _service_argv(services["api"]) == image_cmd()
    assert shell_commands(_service_argv(services["worker"])) == [["atlas", "worker"]]
    assert services["api"]["healthcheck"]["test"] == ["CMD", *image_healthcheck()]


def test_deployment_guide_commands_are_real():  # type: ignore[no-untyped-def]
    text = DEPLOYMENT_DOC.read_text()
    found = 0
    for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue
            # `atlas …` where a command starts: a line, or after `exec api` / `run … api`.
            command = r"(?:^\s*|\b(?:api|worker)\s+)atlas\s+((?:[^|;&>`$#]|\$\([^)]*\))*)"
            for match in re.finditer(command, line):
                words = shlex.split(re.sub(r"\$\([^)]*\)", "X", match.group(1)))
                check_atlas(words)
                found += 1
    assert found >= 3


def test_compose_environment_is_settings():  # type: ignore[no-untyped-def]
    fields = {name.upper() for name in Settings.model_fields}
    names = {n for n in image_env() if not TOOL_ENV.match(n)}
    for svc in _image_services(load_compose()).values():
        names |= set(_environment(svc))
    assert names - fields == set(), "not settings (app/core/config.py)"
    # The values are valid settings too (production: the secret is checked).
    for name in ("api", "worker"):
        url = "postgresql+psycopg://u@127.0.0.1:5432/x"
        env = compose_service(name, url, data_dir=Path(IMAGE_DATA)).env
        values = {k.lower(): env[k] for k in names if k in env}
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        assert settings.environment == "production"
        assert settings.job_runner == "dramatiq"
        assert settings.redis_url == "redis://127.0.0.1:6379/0"
        assert str(settings.plots_dir).startswith(IMAGE_DATA)


def test_compose_wiring():  # type: ignore[no-untyped-def]
    compose = load_compose()
    services = compose["services"]
    assert set(services) == {"api", "worker", "postgres", "redis"}
    # SECRET_KEY has no default: compose refuses to start without it.
    with pytest.raises(ComposeVariableMissing, match="SECRET_KEY"):
        load_compose({})
    api, worker, postgres = services["api"], services["worker"], services["postgres"]
    # The API and its workers must agree on the database, the broker and the queue.
    assert _environment(api) == _environment(worker)
    env = _environment(api)
    db = urlsplit(env["DATABASE_URL"])
    pg = postgres["environment"]
    assert db.scheme == "postgresql+psycopg" and (db.hostname, db.port) == ("postgres", 5432)
    assert (db.username, db.password, db.path) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        f"/{pg['POSTGRES_DB']}",
    )
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert env["SECRET_KEY"] == TEST_SECRET_KEY and env["ENVIRONMENT"] == "production"
    image_services = _image_services(compose)
    for name, svc in services.items():
        assert svc.get("restart") in ("unless-stopped", "always"), f"{name}: no restart policy"
        health = svc.get("healthcheck") or {}
        if name == "worker":
            assert health.get("disable") is True  # serves no HTTP: not the image's check
        else:
            assert health.get("test"), f"{name}: no healthcheck"
        for dependency, spec in (svc.get("depends_on") or {}).items():
            assert spec == {"condition": "service_healthy"}, f"{name} → {dependency}"
            assert not (services[dependency].get("healthcheck") or {}).get("disable")
    assert set(api["depends_on"]) == {"postgres", "redis"}
    # The worker starts once the API is healthy, i.e. after the API's start migrated.
    assert set(worker["depends_on"]) == {"api", "postgres", "redis"}
    # Named volumes, declared; plots on a volume of each image service.
    declared = set(compose["volumes"])
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, f"{name}: {source} is not a named volume"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    for name, svc in image_services.items():
        targets = [v.split(":")[1] for v in svc["volumes"]]
        plots = _environment(svc)["PLOTS_DIR"]
        assert any(plots == t or plots.startswith(f"{t}/") for t in targets), name


def test_compose_service_points_at_this_host(tmp_path):  # type: ignore[no-untyped-def]
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/atlas_test_x"
    api = compose_service("api", url, port=8123, data_dir=tmp_path)
    assert api.env["DATABASE_URL"] == url
    assert api.env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert api.env["PLOTS_DIR"] == str(tmp_path / "plots")
    assert api.argv[2].endswith("--host 127.0.0.1 --port 8123 --workers 1 --no-upgrade")
    worker = compose_service("worker", url, data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/5")
    assert worker.argv == ["atlas", "worker"]
    assert worker.env["REDIS_URL"] == "redis://127.0.0.1:6379/5"
    assert worker.env["PATH"].startswith(str(Path(sys.executable).parent))


# ------------------------------------------------------------------ the API's start step


def _prestart(run: ServiceRun) -> str:
    """Runs the API's start step (the part of its command before `&& exec atlas serve`)."""
    steps = shell_commands(run.argv)
    assert steps[-1][0] == "atlas" and steps[-1][1] == "serve"
    output = []
    for step in steps[:-1]:
        done = subprocess.run(
            step, cwd=run.cwd, env=run.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{step}: {done.stdout}\n{done.stderr}"
        output.append(done.stdout)
    return "".join(output)


def test_prestart_migrates_and_seeds_a_new_database_once(tmp_path):  # type: ignore[no-untyped-def]
    settings, drop = make_database(tmp_path)
    engine = make_engine(settings)
    try:
        run = compose_service("api", settings.database_url, data_dir=tmp_path / "data")
        assert migrations.current_revision(engine) is None
        first = _prestart(run)
        assert migrations.current_revision(engine) == migrations.head_revision(settings)
        with make_sessionmaker(engine)() as session:

            def count(model: Any) -> int:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)

            assert (count(Problem), count(Source), count(Thread), count(ThreadVersion)) == (
                7,
                127,
                1,
                1,
            )
        assert "problems" in first and "created" in first
        factory = make_sessionmaker(engine)
        before = snapshot(factory)
        second = _prestart(run)
        assert snapshot(factory) == before
        assert "not seeding" in second
        # A restart keeps what was edited through the API (`atlas seed` would restore it).
        with factory() as session, session.begin():
            session.execute(update(Problem).where(Problem.number == 1).values(title="Edited"))
        _prestart(run)
        with factory() as session:
            assert session.scalar(select(Problem.title).where(Problem.number == 1)) == "Edited"
    finally:
        engine.dispose()
        drop()
