"""Support for tests/test_fuzz.py: the seeded world the fuzzer runs against, restored before
each operation, recorded provider answers for look-ups, and the Schemathesis driver that
runs one operation's cases and tallies its answers.

Schemathesis is used through its Python API: the schema comes from the ASGI app, each
operation's explicit examples (the `examples` of its parameters and body) are drawn first,
then a bounded number of generated cases (positive and negative), and every answer goes
through the checks below. Failures are collected, not raised, so one run reports them all
(and Hypothesis does not spend time shrinking them).
"""

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation
from sqlalchemy import Engine, Integer, select, text

from app.models import Base
from tests.helpers import AUTH
from tests.watch_fixtures import RSS_URL

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PROVIDERS = Path(__file__).parent / "fixtures" / "providers"

# File imports are sent as the text they are (the schema names their media types).
for _media_type in ("application/x-bibtex", "application/x-research-info-systems"):
    schemathesis.serializer.alias(_media_type, "text/plain")


# --- the world: the seed debate plus two runs, snapshotted once and restored per operation


class Snapshot:
    """Every row of every table, put back with the same ids (and sequences moved past them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tables = list(Base.metadata.sorted_tables)
        with engine.connect() as conn:
            self.rows = {
                t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in self.tables
            }

    def restore(self) -> None:
        postgres = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            if postgres:
                names = ", ".join(t.name for t in self.tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(self.tables):
                    conn.execute(table.delete())
            for table in self.tables:
                if self.rows[table.name]:
                    conn.execute(table.insert(), self.rows[table.name])
            if postgres:
                for table in self.tables:
                    for column in table.primary_key.columns:
                        if isinstance(column.type, Integer) and column.autoincrement in (
                            True,
                            "auto",
                        ):
                            conn.execute(
                                text(
                                    f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                    f"'{column.name}'), coalesce(max({column.name}), 1), "
                                    f"max({column.name}) IS NOT NULL) FROM {table.name}"
                                )
                            )


def build_world(app: Any, engine: Engine, database_url: str, seeds_dir: Path) -> Snapshot:
    """Loads the seed debate, adds run 1 (double_descent, quick preset, trained here, so
    its plot, page and endorsement exist), run 2 (queued, never started: it can be
    cancelled), a new version of the seed thread, a thread without versions (which can
    be deleted) and a watch with two inbox items, and snapshots the lot."""
    from schemathesis.python.asgi import get_client

    from app.core.db import make_sessionmaker
    from app.jobs.execute import execute
    from app.services.seed import load_seed

    with make_sessionmaker(engine)() as session:
        load_seed(session, seeds_dir)
        session.commit()
    client = get_client(app)
    for name in ("double_descent", "random_labels"):
        answer = client.post(
            f"/api/v1/experiments/{name}/runs", json={"preset": "quick", "seed": 0}, headers=AUTH
        )
        assert answer.status_code == 202, answer.text
    assert execute(database_url, 1) == "succeeded"
    # A second version of the seed thread (loaded as Version 6), so versions can be compared.
    answer = client.post("/api/v1/threads/1/versions", json={}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    # A thread without published versions (those make a thread undeletable).
    answer = client.post("/api/v1/threads", json={"title": "Scratch thread"}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    # Watch 1 on the seed thread, polled from recordings: inbox items 1 and 2 are pending.
    watch = {"name": "A blog", "provider": "feed", "query": RSS_URL}
    answer = client.post("/api/v1/threads/1/watches", json=watch, headers=AUTH)
    assert answer.status_code == 201, answer.text
    answer = client.post("/api/v1/watches/1/poll", headers=AUTH)
    assert answer.status_code == 200 and answer.json()["item_ids"] == [1, 2], answer.text
    return Snapshot(engine)


# --- outside APIs: recorded answers, so look-ups never touch the network


ARXIV_NOT_FOUND = (
    '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<entry><id>http://arxiv.org/api/errors#incorrect_id_format</id><title>Error</title>"
    "<summary>incorrect id format</summary></entry></feed>"
)
# host: (the identifier recorded, the file holding the provider's answer for it)
RECORDED = {
    "api.crossref.org": ("10.5555/12345678", "crossref_10.5555_12345678.json"),
    "export.arxiv.org": ("1111.2011", "arxiv_1111.2011v2.xml"),
    "api.semanticscholar.org": (
        "10.1101/2024.04.01.587366",
        "semanticscholar_DOI_10.1101_2024.04.01.587366.json",
    ),
    "api.openalex.org": ("W97658052", "openalex_W97658052.json"),
}
# Identifiers that providers answer from their recordings (for hints).
RECORDED_IDENTIFIERS = ["10.5555/12345678", "arXiv:1111.2011v2", "W97658052"]


def provider_transport() -> httpx.MockTransport:
    """Each provider answers its recorded record when asked for it, and "not found"
    (as that provider says it) for anything else: look-ups never touch the network."""

    def answer(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host not in RECORDED:
            return httpx.Response(404, text="not recorded")
        identifier, name = RECORDED[host]
        if identifier.lower() not in unquote(str(request.url)).lower():
            if host == "export.arxiv.org":
                return httpx.Response(200, text=ARXIV_NOT_FOUND)
            return httpx.Response(404, text="Resource not found.")
        body = (PROVIDERS / name).read_text()
        kind = "application/atom+xml" if name.endswith(".xml") else "application/json"
        return httpx.Response(200, text=body, headers={"content-type": kind})

    return httpx.MockTransport(answer)


# --- running one operation


@dataclass
class Tally:
    """What one operation's cases got back."""

    label: str
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values())

    def count(self, low: int) -> int:
        return sum(n for code, n in self.statuses.items() if low <= code < low + 100)


@dataclass
class Hint:
    """Cases designed for an operation that random data cannot bring to a success, run
    after its examples: each dict holds `path_parameters`, `query`, `body` (and
    `media_type`), as `APIOperation.Case` takes them."""

    cases: list[dict[str, Any]] = field(default_factory=list)


def _settings(max_examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: CI results do not flicker
        phases=[Phase.generate],  # failures are recorded, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )


def _drive(strategy: st.SearchStrategy[Case], n: int, record: Callable[[Case], None]) -> None:
    @_settings(n)
    @hypothesis.given(case=strategy)
    def run(case: Case) -> None:
        record(case)

    run()


def _describe(case: Case, detail: str) -> str:
    body = case.body if isinstance(case.body, str | bytes | list | dict) else None
    sent = json.dumps(
        {"path": case.path_parameters, "query": case.query, "body": body},
        default=repr,
        ensure_ascii=False,
    )
    return f"{case.operation.label} {sent[:600]}\n    {detail.strip()[:1500]}"


def fuzz_operation(
    operation: APIOperation,
    *,
    max_examples: int,
    negative_examples: int,
    hint: Hint | None = None,
) -> Tally:
    """The schema's examples, the hint's cases, then generated positive and negative cases."""
    tally = Tally(operation.label)

    def record(case: Case) -> None:
        try:
            response = case.call(headers=AUTH)
        except Exception as exc:  # the app raised instead of answering
            tally.statuses[500] += 1
            tally.failures.append(_describe(case, f"raised {type(exc).__name__}: {exc}"))
            return
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=AUTH)
        except (AssertionError, BaseExceptionGroup) as exc:
            tally.failures.append(_describe(case, str(exc)))

    for example in operation.get_strategies_from_examples():
        _drive(example, 1, record)
    for kwargs in hint.cases if hint else []:
        record(operation.Case(**kwargs))
    _drive(operation.as_strategy(GenerationMode.POSITIVE), max_examples, record)
    if negative_examples:
        try:
            negative = operation.as_strategy(GenerationMode.NEGATIVE)
            _drive(negative, negative_examples, record)
        except Unsatisfiable:
            pass  # nothing in this operation can be made invalid
    return tally


def table(tallies: list[Tally]) -> str:
    """The per-operation summary printed at the end of the run."""
    width = max(len(t.label) for t in tallies)
    lines = [f"{'operation':<{width}}  cases   2xx   3xx   4xx   5xx"]
    for t in tallies:
        counts = "".join(f"  {t.count(low):>4}" for low in (200, 300, 400, 500))
        lines.append(f"{t.label:<{width}}  {t.cases:>5}{counts}")
    total = sum(t.cases for t in tallies)
    lines.append(f"{len(tallies)} operations, {total} cases")
    return "\n".join(lines)
