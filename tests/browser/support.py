"""What the browser tests share: the browser's launch, the watch that fails a test on any
console error, failed request, error answer or request leaving the machine, screenshots."""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy.orm import Session

from app.clients.watching import Found
from app.models import Thread
from app.models.watch import WatchProvider
from app.services import inbox, watches
from app.services.watches import WatchCreate

CHROMIUM = os.environ.get("ATLAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("ATLAS_SCREENSHOTS", ROOT / "var" / "screenshots"))


def require_chromium() -> None:
    """Skips the calling test module without Debian's Chromium, unless ATLAS_REQUIRE_BROWSER=1
    (as in .ci/run) makes that a failure."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("ATLAS_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)


@dataclass
class Site:
    base: str
    token: str  # may write


@dataclass
class Watch:
    """What went wrong in the browser: console errors, page errors, failed requests,
    error answers, and requests to anywhere but the service (blocked)."""

    problems: list[str] = field(default_factory=list)
    allowed_status: set[int] = field(default_factory=set)

    def console(self, kind: str, text: str, url: str) -> None:
        # Chromium also logs each error answer; those allowed by the test are not errors.
        answered = re.search(r"status of (\d+)", text)
        if kind == "error" and not (answered and int(answered[1]) in self.allowed_status):
            self.problems.append(f"console error: {text} ({url})")

    def failed(self, url: str, failure: str | None) -> None:
        # ERR_ABORTED: the browser dropped a request because the page navigated away (the
        # favicon, when a test clicks on at once); the server never failed it.
        if failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {url} {failure}")

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def watched_context(
    browser: Browser, site: Site, watch: Watch, **options: object
) -> BrowserContext:
    context = browser.new_context(base_url=site.base, **options)  # type: ignore[arg-type]
    host = urlsplit(site.base).netloc

    def guard(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).netloc != host:
            watch.problems.append(f"request leaving the machine: {request.url}")
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)

    def on_page(page: Page) -> None:
        page.on("console", lambda m: watch.console(m.type, m.text, page.url))
        page.on("pageerror", lambda e: watch.problems.append(f"page error: {e} ({page.url})"))
        page.on("requestfailed", lambda r: watch.failed(r.url, r.failure))
        page.on(
            "response",
            lambda r: (
                watch.problems.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 and r.status not in watch.allowed_status
                else None
            ),
        )

    context.on("page", on_page)
    return context


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


INBOX_TITLES = (
    "Grokking as a lazy-to-rich transition in training dynamics",
    "Benign overfitting when the covariance has many small directions",
)


def file_inbox_items(session: Session) -> None:
    """A paused watch on the seed thread and two items waiting in its inbox."""
    thread = session.get(Thread, 1)
    assert thread is not None
    blog = WatchCreate(
        name="A research blog",
        provider=WatchProvider.feed,
        query="https://blog.example.org/feed.xml",
        active=False,  # never polled: this machine reaches no outside host
    )
    watch = watches.create_watch(session, thread, blog)
    found = [
        Found(
            f"post-{n}",
            {"kind": "blog_post", "title": title, "url": f"https://blog.example.org/{n}"},
        )
        for n, title in enumerate(INBOX_TITLES)
    ]
    inbox.receive(session, watch, found)
