"""No 5xx on any input (issue 9): Schemathesis against the OpenAPI schema, with a token.

Every operation gets its documented examples, the cases designed for it below (`_hints`)
and a bounded number of generated cases, positive and negative, on the seeded database
(restored before each operation, so a DELETE never takes rows from the next one). Each
answer must not be a server error, must have a documented status code and content type,
and must match the documented schema; and the database backstops in app/core/errors.py
(an IntegrityError answered 409, a DataError 422) must not fire: with one writer there is
no race for them to catch, so a check is missing. The test prints how many answers of each
class every operation got, and every operation must get at least one success.

Runs are only queued (JOB_RUNNER=none); run 1 is trained once, in-process, on its quick
preset (see tests/fuzz_support.build_world). Look-ups answer from recorded provider data.
"""

import json
import os
import re
import warnings
from typing import Any

import pytest
import schemathesis
from schemathesis.core.result import Err, Ok
from schemathesis.python.asgi import shutdown_lifespans
from sqlalchemy import Engine, func, select

from app.core.config import Settings
from app.main import create_app
from app.models import Edge, ExperimentRun, InboxItem, Source, Thread, ThreadItem, ThreadVersion
from app.models.run import RunStatus
from app.models.watch import InboxStatus
from app.services.graph import DebateGraph
from tests.fuzz_support import (
    RECORDED_IDENTIFIERS,
    Hint,
    Tally,
    build_world,
    fuzz_operation,
    provider_transport,
    table,
)
from tests.helpers import API, TEST_TOKEN
from tests.watch_fixtures import RecordedProviders

# Generated cases per operation, on top of its examples and hints (ATLAS_FUZZ_EXAMPLES=200
# for a longer hunt); two in five as many negative ones.
MAX_EXAMPLES = int(os.environ.get("ATLAS_FUZZ_EXAMPLES", "15"))
NEGATIVE_EXAMPLES = MAX_EXAMPLES * 2 // 5
# HTML pages read through the same services as the API operations fuzzed in full: fewer.
PAGE_EXAMPLES = max(MAX_EXAMPLES // 4, 4)
# Operations whose documented success is a redirect (303), not a 2xx.
REDIRECTS = {
    "POST /login",
    "POST /logout",
    "GET /works/{work_id}",
    "GET /perspectives/{ref}",
    "GET /events/{event_id}",
    "POST /threads/{ref}/versions",
    "POST /experiments/{name}/runs",
    "POST /inbox/{item_id}/decision",
}


class FuzzReport(UserWarning):
    """Carries the per-operation table to the terminal when pytest-xdist runs the test
    (workers' output is not shown; their warnings are)."""


def _hints(engine: Engine) -> dict[str, Hint]:
    """Cases for operations that the examples and random data cannot bring to a success,
    derived from the seeded world (not from ids that the seed might renumber)."""
    with engine.connect() as conn:
        thread_id = conn.scalar(select(func.min(Thread.id)))
        older, newer = conn.scalars(
            select(ThreadVersion.number)
            .where(ThreadVersion.thread_id == thread_id)
            .order_by(ThreadVersion.number)
        ).all()[-2:]
        queued = conn.scalar(
            select(func.min(ExperimentRun.id)).where(ExperimentRun.status == RunStatus.queued)
        )
        unpublished = conn.scalar(
            select(func.min(Thread.id)).where(Thread.id.not_in(select(ThreadVersion.thread_id)))
        )
        in_thread = select(ThreadItem.source_id).where(ThreadItem.thread_id == thread_id)
        outside = conn.scalar(select(func.min(Source.id)).where(Source.id.not_in(in_thread)))
        work_id, first_copy = conn.execute(
            select(Source.work_id, func.min(Source.id))
            .group_by(Source.work_id)
            .having(func.count() > 1)
            .order_by(Source.work_id)
        ).first()  # type: ignore[misc]
        a, b = conn.execute(select(Source.id).order_by(Source.id).limit(2)).scalars()
        pending = list(
            conn.scalars(select(InboxItem.id).where(InboxItem.status == InboxStatus.pending))
        )
        taken = conn.scalar(
            select(func.count()).where(
                Edge.from_type == "source",
                Edge.from_id == a,
                Edge.relation == "cites",
                Edge.to_type == "source",
                Edge.to_id == b,
            )
        )
    assert None not in (outside, unpublished, queued) and not taken
    return {
        "POST /login": Hint(
            [
                {
                    "body": {"token": TEST_TOKEN, "next": "/"},
                    "media_type": "application/x-www-form-urlencoded",
                }
            ]
        ),
        "POST /api/v1/sources/lookup": Hint(
            [{"body": {"identifier": i}} for i in RECORDED_IDENTIFIERS]
        ),
        "POST /api/v1/works/{ref}/split": Hint(
            [{"path_parameters": {"ref": str(work_id)}, "body": {"source_ids": [first_copy]}}]
        ),
        "DELETE /api/v1/threads/{ref}": Hint(
            [{"path_parameters": {"ref": str(unpublished)}, "query": {"cascade": "true"}}]
        ),
        "POST /api/v1/threads/{ref}/items": Hint(
            [
                {
                    "path_parameters": {"ref": str(thread_id)},
                    "body": {"source_id": outside, "found_via": "manual"},
                }
            ]
        ),
        "GET /api/v1/threads/{ref}/versions/{a}/diff/{b}": Hint(
            [{"path_parameters": {"ref": str(thread_id), "a": older, "b": newer}}]
        ),
        "POST /api/v1/edges": Hint(
            [
                {
                    "body": {
                        "from_type": "source",
                        "from_id": a,
                        "relation": "cites",
                        "to_type": "source",
                        "to_id": b,
                    }
                }
            ]
        ),
        "POST /api/v1/runs/{run_id}/cancel": Hint([{"path_parameters": {"run_id": queued}}]),
        "POST /api/v1/threads/{ref}/inbox/bulk": Hint(
            [
                {
                    "path_parameters": {"ref": str(thread_id)},
                    "body": {"action": "reject", "item_ids": pending},
                }
            ]
        ),
    }


@pytest.fixture
def fuzz_app(db_settings: Settings, session_factory: Any) -> Any:
    """The app on the test database, with runs only queued and look-ups answered from
    recordings; its lifespan (started by Schemathesis) is ended afterwards."""
    settings = db_settings.model_copy(update={"job_runner": "none"})
    app = create_app(settings)
    app.state.lookup_transport = provider_transport()
    app.state.lookup_sleep = lambda _seconds: None
    app.state.watch_transport = RecordedProviders()
    app.state.watch_sleep = lambda _seconds: None
    yield app
    shutdown_lifespans()


def _report(tallies: list[Tally], capsys: pytest.CaptureFixture[str]) -> None:
    text = "schemathesis answers per operation\n" + table(tallies)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        warnings.warn(FuzzReport(text), stacklevel=1)
    else:
        with capsys.disabled():
            print("\n" + text)


def test_no_server_error_on_any_input(
    fuzz_app: Any,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    settings = fuzz_app.state.settings
    world = build_world(fuzz_app, engine, settings.database_url, settings.seeds_dir)
    hints = _hints(engine)
    results = list(schema.get_all_operations())
    assert [r.err() for r in results if isinstance(r, Err)] == [], "operations unreadable"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert set(hints) <= {op.label for op in operations}, "a hint names no operation"

    tallies = []
    changed = True
    for operation in operations:
        if changed:  # a read changes nothing: the next operation finds the world as it was
            world.restore()
            fuzz_app.state.graph = DebateGraph()  # the restored rows, not the last operation's
        logged = len(caplog.records)
        is_page = not operation.label.split(" ", 1)[1].startswith(API)
        tally = fuzz_operation(
            operation,
            max_examples=PAGE_EXAMPLES if is_page else MAX_EXAMPLES,
            negative_examples=PAGE_EXAMPLES * 2 // 5 if is_page else NEGATIVE_EXAMPLES,
            hint=hints.get(operation.label),
        )
        tally.failures += [
            f"{operation.label}: the server logged {r.getMessage()!r}"
            for r in caplog.records[logged:]
            if r.name == "atlas.errors"
        ]
        tallies.append(tally)
        changed = operation.label.split(" ", 1)[0] not in ("GET", "HEAD")
    _report(tallies, capsys)

    failures = [f for t in tallies for f in t.failures]
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:30])
    unsuccessful = [
        t.label for t in tallies if not t.count(200) and not (t.label in REDIRECTS and t.count(300))
    ]
    assert unsuccessful == [], "operations that never succeeded"


# --- regressions for what the fuzzer found


def test_openapi_has_no_dangling_references(client: Any) -> None:
    """POST /sources documented its body with $refs to a SourceCreate component that
    FastAPI never emitted (the route reads raw JSON), so no client could resolve it."""
    spec = client.get("/openapi.json").json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs - set(spec["components"]["schemas"]) == set()
    body = spec["paths"][f"{API}/sources"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["oneOf"][0]["required"] == ["title"]


def test_patch_source_with_null_tags_is_a_field_error(client: Any) -> None:
    """`"tags": null` in a PATCH crashed the tag validator (500) instead of reaching the
    service's "may not be null" answer."""
    source = client.post(f"{API}/sources", json={"title": "A paper", "tags": ["x"]}).json()
    answer = client.patch(f"{API}/sources/{source['id']}", json={"tags": None})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "tags"


def test_bulk_into_a_thread_that_creates_nothing(client: Any) -> None:
    """An array that creates no source (empty, or only duplicates in report mode) with
    `thread_id` inserted an empty set of thread items: a NULL row, a 409."""
    thread = client.post(f"{API}/threads", json={"title": "A thread"}).json()["id"]
    empty = client.post(f"{API}/sources?thread_id={thread}", json=[])
    assert empty.status_code == 201 and empty.json()["created"] == 0, empty.text
    source = client.post(f"{API}/sources", json={"title": "Once", "arxiv": "2101.00001"}).json()
    again = client.post(
        f"{API}/sources?mode=report&thread_id={thread}",
        json=[{"title": "Once", "arxiv": "2101.00001"}],
    )
    assert again.status_code == 200, again.text
    assert again.json()["items"][0]["existing_id"] == source["id"]


def test_works_min_copies_beyond_32_bits_is_a_field_error(client: Any) -> None:
    """`min_copies` had no upper bound: a number past 64 bits crashed SQLite (500)."""
    answer = client.get(f"{API}/works", params={"min_copies": 2**80})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "query.min_copies"
