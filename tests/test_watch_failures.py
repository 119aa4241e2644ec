"""A watch whose provider cannot be reached: the error, the failure count and the next retry
time are recorded, the cursor is kept, and the service goes on answering meanwhile."""

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.clients import addresses
from app.core.config import get_settings
from app.main import create_app
from app.models import Watch
from app.services import watches
from tests.helpers import API, AUTH, post

FEED = "https://blog.example.org/feed.xml"
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A blog</title><id>urn:blog</id>
<updated>2026-11-01T00:00:00Z</updated>
<entry><id>urn:post:1</id><title>Why grokking happens</title>
<link href="https://blog.example.org/grokking"/><published>2026-11-01T00:00:00Z</published>
<author><name>Ada Example</name></author><summary>A post.</summary></entry>
</feed>"""


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _watch_on(client: TestClient, name: str, url: str, **more: Any) -> dict[str, Any]:
    """A feed watch on thread 1."""
    body = {"name": name, "provider": "feed", "query": url, **more}
    return post(client, "/threads/1/watches", body)


def _feed_watch(client: TestClient) -> dict[str, Any]:
    post(client, "/threads", {"title": "A thread"})
    return _watch_on(client, "blog", FEED, every_minutes=60)


def test_unreachable_provider_is_recorded_and_backed_off(client: TestClient) -> None:
    state = {"down": True}

    def answer(request: httpx.Request) -> httpx.Response:
        if state["down"]:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, text=ATOM, headers={"content-type": "application/atom+xml"})

    client.app.state.watch_transport = httpx.MockTransport(answer)  # type: ignore[attr-defined]
    client.app.state.watch_sleep = lambda _s: None  # type: ignore[attr-defined]
    watch = _feed_watch(client)
    started = datetime.now(UTC)
    failed = client.post(f"{API}/watches/{watch['id']}/poll")
    assert failed.status_code == 503, failed.text
    error = failed.json()["error"]
    assert "unreachable" in error["message"]
    retry_at = _parse(error["details"]["next_poll_at"])
    after_first = client.get(f"{API}/watches/{watch['id']}").json()
    assert after_first["failures"] == 1 and "unreachable" in after_first["last_error"]
    assert _parse(after_first["next_retry_at"]) == retry_at
    # watch_backoff_s (60 s) after the failure; the cursor is untouched.
    assert started + timedelta(seconds=59) < retry_at < datetime.now(UTC) + timedelta(seconds=61)
    assert after_first["cursor"] == {}
    # Not due: the scheduler leaves it alone until the retry time.
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as session:
        assert watches.due(session) == []

    client.post(f"{API}/watches/{watch['id']}/poll")
    second = client.get(f"{API}/watches/{watch['id']}").json()
    assert second["failures"] == 2
    delay = _parse(second["next_retry_at"]) - _parse(second["last_polled_at"])
    assert timedelta(seconds=119) < delay < timedelta(seconds=122)  # doubled

    state["down"] = False
    ok = post(client, f"/watches/{watch['id']}/poll", None, 200)
    assert (ok["status"], ok["added"]) == ("ok", 1)
    healed = client.get(f"{API}/watches/{watch['id']}").json()
    assert (healed["failures"], healed["last_error"], healed["next_retry_at"]) == (0, None, None)
    assert _parse(healed["next_poll_at"]) > datetime.now(UTC) + timedelta(minutes=59)


def test_backoff_is_capped_and_honours_retry_after(db_settings: Any) -> None:
    watch = Watch(every_minutes=10)
    assert watches.backoff(db_settings, watch, 1, None) == 60
    assert watches.backoff(db_settings, watch, 4, None) == 480
    assert watches.backoff(db_settings, watch, 9, None) == 600  # never past the interval
    assert watches.backoff(db_settings, watch, 1, 900.0) == 900  # the provider's Retry-After


def test_requests_complete_while_a_poll_waits_on_its_provider(
    db_settings: Any, session_factory: Any
) -> None:
    """The scheduler polls in the background; its provider hangs; the API still answers
    reads and writes; when the provider finally fails, the failure is recorded."""
    entered, release = threading.Event(), threading.Event()

    def hanging(request: httpx.Request) -> httpx.Response:
        if request.url.host == "fast.example.org":  # another provider answers at once
            return httpx.Response(200, text=ATOM, headers={"content-type": "application/atom+xml"})
        entered.set()
        release.wait(30)
        raise httpx.ConnectError("no route to host", request=request)

    settings = db_settings.model_copy(
        update={"watch_scheduler": True, "watch_tick_s": 0.1, "lookup_deadline_s": 60.0}
    )
    app = create_app(settings)
    app.state.watch_transport = httpx.MockTransport(hanging)
    app.state.watch_sleep = lambda _s: None
    with TestClient(app, headers=AUTH) as client:
        watch = _feed_watch(client)
        assert entered.wait(10), "the scheduler never polled the due watch"
        # The poll is now inside the provider call. Reads and writes go through.
        waiting = client.get(f"{API}/watches/{watch['id']}").json()
        assert waiting["polling"] is True and waiting["failures"] == 0
        # Another watch, due now, is polled meanwhile: a hanging provider holds up only
        # its own watches.
        fast = _watch_on(client, "fast", "https://fast.example.org/atom.xml")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if client.get(f"{API}/watches/{fast['id']}").json()["items_found"]:
                break
            time.sleep(0.05)
        assert client.get(f"{API}/watches/{fast['id']}").json()["items_found"] == 1
        created = client.post(f"{API}/problems", json={"title": "Asked while a poll waits"})
        assert created.status_code == 201, created.text
        assert client.get(f"{API}/problems/{created.json()['id']}").status_code == 200
        # A poll asked by hand meanwhile is told the watch is busy, not queued behind it.
        busy = client.post(f"{API}/watches/{watch['id']}/poll")
        assert busy.status_code == 409, busy.text
        release.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = client.get(f"{API}/watches/{watch['id']}").json()
            if state["failures"]:
                break
            time.sleep(0.05)
        assert state["failures"] == 1 and "unreachable" in state["last_error"]
        assert _parse(state["next_retry_at"]) > datetime.now(UTC) + timedelta(seconds=50)


def test_the_command_polls_due_watches(
    client: TestClient, db_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`atlas watches poll` (for cron): one JSON report per due watch, exit 1 on a failure;
    a watch waiting for its retry is not due."""
    post(client, "/threads", {"title": "A thread"})
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.settings = settings.model_copy(update={"watch_private_hosts": True})  # type: ignore[attr-defined]
    refused = "http://127.0.0.1:9/feed.xml"  # the discard port: connection refused at once
    _watch_on(client, "local", refused)
    monkeypatch.setenv("DATABASE_URL", db_settings.database_url)
    monkeypatch.setenv("LOOKUP_RETRIES", "0")
    monkeypatch.setenv("WATCH_PRIVATE_HOSTS", "true")
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli, ["watches", "poll"])
        second = CliRunner().invoke(cli, ["watches", "poll"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 1, first.output
    report = json.loads(first.output.strip().splitlines()[-1])
    assert report["status"] == "failed" and "unreachable" in report["error"]
    assert (second.exit_code, second.output) == (0, "")


@pytest.mark.parametrize(
    ("retry_after", "delay_s"),
    [("inf", 60), ("1e400", 60), ("nan", 60), ("600", 600), ("9999999", 86_400)],
)
def test_retry_after_is_believed_within_reason(
    client: TestClient, retry_after: str, delay_s: int
) -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": retry_after}, text="busy")

    client.app.state.watch_transport = httpx.MockTransport(busy)  # type: ignore[attr-defined]
    client.app.state.watch_sleep = lambda _s: None  # type: ignore[attr-defined]
    post(client, "/threads", {"title": "A thread"})
    watch = _watch_on(client, "blog", FEED, every_minutes=60 * 24 * 30)
    failed = client.post(f"{API}/watches/{watch['id']}/poll")
    assert failed.status_code == 503, failed.text
    state = client.get(f"{API}/watches/{watch['id']}").json()
    delay = _parse(state["next_retry_at"]) - _parse(state["last_polled_at"])
    assert timedelta(seconds=delay_s - 1) < delay < timedelta(seconds=delay_s + 2)
    assert state["polling"] is False


class Trickle(httpx.SyncByteStream):
    """A feed that sends a few bytes at a time, slowly: never a read timeout, never done."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
        for _ in range(100):
            time.sleep(0.05)
            yield b" "


class Vast(httpx.SyncByteStream):
    """An answer that goes on past 10 MB."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        for _ in range(11):
            yield b" " * 1_000_000


def test_a_trickling_feed_times_out_and_a_huge_one_is_cut(client: TestClient) -> None:
    entries = "".join(
        f"<entry><id>urn:post:{n}</id><title>Post {n}</title>"
        f'<link href="https://big.example.org/{n}"/><updated>2026-11-01T00:00:00Z</updated></entry>'
        for n in range(1000)
    )
    big = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Big</title>{entries}</feed>'

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.example.org":
            return httpx.Response(200, stream=Trickle())
        if request.url.host == "late.example.org":  # the headers themselves come late
            time.sleep(3)
        if request.url.host == "vast.example.org":
            return httpx.Response(200, stream=Vast())
        return httpx.Response(200, text=big)

    client.app.state.watch_transport = httpx.MockTransport(answer)  # type: ignore[attr-defined]
    client.app.state.watch_sleep = lambda _s: None  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.settings = settings.model_copy(update={"lookup_deadline_s": 1.0})  # type: ignore[attr-defined]
    post(client, "/threads", {"title": "A thread"})
    slow = _watch_on(client, "slow", "https://slow.example.org/rss")
    timed_out = client.post(f"{API}/watches/{slow['id']}/poll")
    assert timed_out.status_code == 504, timed_out.text
    assert "did not answer in full" in timed_out.json()["error"]["message"]
    late = _watch_on(client, "late", "https://late.example.org/rss")
    started = time.monotonic()
    late_answer = client.post(f"{API}/watches/{late['id']}/poll")
    assert late_answer.status_code == 504, late_answer.text
    assert time.monotonic() - started < 2.9  # given up at the deadline, not at the headers
    vast = _watch_on(client, "vast", "https://vast.example.org/rss")
    too_big = client.post(f"{API}/watches/{vast['id']}/poll")
    assert too_big.status_code == 502 and "more than 10 MB" in too_big.json()["error"]["message"]
    huge = _watch_on(client, "huge", "https://big.example.org/atom")
    report = post(client, f"/watches/{huge['id']}/poll", None, 200)
    # At most WATCH_PAGE_SIZE x WATCH_MAX_PAGES entries of one feed, the first (newest).
    cap = settings.watch_page_size * settings.watch_max_pages
    assert report["added"] == cap == 150
    assert client.get(f"{API}/threads/1/inbox", params={"limit": 1}).json()["total"] == cap


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/feed.xml",
        "http://localhost/feed.xml",
        "http://[::1]/feed.xml",
        "http://10.0.0.5/feed.xml",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.1.1/rss",
        "http://127.1:8134/feed.xml",
        "http://2130706433/feed.xml",
        "http://0x7f000001/feed.xml",
    ],
)
def test_feeds_on_private_addresses_are_refused(client: TestClient, url: str) -> None:
    post(client, "/threads", {"title": "A thread"})
    refused = client.post(
        f"{API}/threads/1/watches", json={"name": "inward", "provider": "feed", "query": url}
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "query"
    assert "WATCH_PRIVATE_HOSTS" in refused.json()["error"]["message"]
    public = _feed_watch(client)
    moved = client.patch(f"{API}/watches/{public['id']}", json={"query": url})
    assert moved.status_code == 422
    assert client.get(f"{API}/watches/{public['id']}").json()["query"] == FEED


def test_a_public_name_pointing_inwards_is_refused_when_fetched(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked on every request the real client sends (no test transport here): the name
    resolves to a private address, so nothing is fetched."""

    def resolve(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "inward.example.org"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", resolve)
    post(client, "/threads", {"title": "A thread"})
    watch = _watch_on(client, "inward", "https://inward.example.org/feed")
    failed = client.post(f"{API}/watches/{watch['id']}/poll")
    assert failed.status_code == 502, failed.text
    assert "private network" in failed.json()["error"]["message"]
