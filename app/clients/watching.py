"""What a watch asks its provider: the newest works matching a saved query, page by page.

Each provider's answer is read in its own format (arXiv's Atom API, the Semantic Scholar
Graph API's search / citations / references, OpenAlex's /works list, any RSS or Atom feed)
into source fields (those of POST /sources). Requests are spaced by the provider's rate
limit; the first poll of a watch reads one page, later ones page back until a page holds
nothing new (at most `watch_max_pages`).
"""

import calendar
import html
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import feedparser
import httpx

from app.clients import addresses, arxiv, openalex, semanticscholar
from app.clients.http import HttpProvider, ProviderError, ProviderTimeout
from app.clients.names import authors_from
from app.clients.rate import LIMITER, MIN_INTERVAL_S, RateLimiter
from app.core.config import Settings
from app.models.watch import WatchProvider
from app.services.formats.common import find_arxiv, find_doi

S2_BASE = "https://api.semanticscholar.org/graph/v1/paper"
FORUM_HOSTS = ("lesswrong.com", "alignmentforum.org")
TAG = re.compile(r"<[^>]+>")
MAX_ABSTRACT = 5000
MAX_ANSWER_BYTES = 10_000_000
# Threads that read answers for polls; an attempt past its deadline is left to one of them,
# so a host that never finishes costs at most these (then further attempts time out).
FETCHERS = ThreadPoolExecutor(8, thread_name_prefix="watch-fetch")


@dataclass
class Found:
    external_id: str  # the provider's id of the item (arXiv id, S2 paperId, W…, feed entry id)
    data: dict[str, Any]  # source fields


@dataclass
class Fetched:
    items: list[Found] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)
    requests: int = 0


Seen = Callable[[Found], bool]


def _refuse_private(request: httpx.Request) -> None:
    if addresses.resolves_to_private(str(request.url)):
        raise ProviderError(
            f"{request.url.host} is on this machine or a private network; "
            "WATCH_PRIVATE_HOSTS=true allows such feeds"
        )


class WatchClient(HttpProvider):
    """One provider's client, rate limited; `name` picks the limit."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(settings, transport, sleep)
        self.name = name
        self.limiter = limiter or LIMITER  # one per process: every watch shares the limits
        if name == "feed" and transport is None and not settings.watch_private_hosts:
            # Every request, redirects included: a public name may point inwards.
            self.client.event_hooks["request"].append(_refuse_private)

    def send(
        self, url: str, params: dict[str, Any] | None, headers: dict[str, str] | None
    ) -> httpx.Response:
        """One attempt, spaced by the provider's rate limit, and answered in full (headers
        and body, at most 10 MB) within `lookup_deadline_s`: a server trickling bytes trips
        no per-read timeout, so the attempt runs on a fetch thread and is given up (left to
        end on its own) when the deadline passes."""
        key = self.name if self.name != "feed" else f"feed:{urlsplit(url).hostname}"
        self.limiter.wait(key, MIN_INTERVAL_S[self.name], self.sleep)
        seconds = self.settings.lookup_deadline_s
        deadline = time.monotonic() + seconds
        attempt = FETCHERS.submit(self._read, url, params, headers, deadline)
        try:
            return attempt.result(timeout=seconds)
        except FutureTimeout:
            attempt.cancel()
            raise ProviderTimeout(
                f"{self.name} did not answer in full within {seconds:g} s"
            ) from None

    def _read(
        self,
        url: str,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
        deadline: float,
    ) -> httpx.Response:
        with self.client.stream("GET", url, params=params, headers=headers) as response:
            if response.is_stream_consumed:  # an answer already in memory (a test's transport)
                return response
            body, size = [], 0
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise ProviderError(
                        f"{self.name} sent more than {MAX_ANSWER_BYTES // 1_000_000} MB; "
                        "not read further"
                    )
                if time.monotonic() > deadline:
                    raise ProviderTimeout(f"{self.name} did not answer in full in time")
                body.append(chunk)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=b"".join(body),
            request=response.request,
        )

    def json(self, response: httpx.Response, label: str) -> Any:
        if response.status_code != 200:
            raise ProviderError(
                f"{self.name} answered {response.status_code} for {label}",
                details={"status": response.status_code, "body": response.text[:300]},
            )
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.name} sent an answer that is not JSON") from None


Page = tuple[list[Found], bool]  # the items, and whether the provider has more


def _pages(
    fetch_page: Callable[[int], Page], first_poll: bool, max_pages: int, seen: Seen
) -> tuple[list[Found], int]:
    """Pages from the newest back, until the last page, one holding nothing new, or the
    limit (one page on a watch's first poll: no backfill of the whole history)."""
    found: list[Found] = []
    page = 0
    for page in range(1 if first_poll else max_pages):
        items, more = fetch_page(page)
        found += items
        if not more or all(seen(i) for i in items):
            break
    return found, page + 1


def _arxiv(client: WatchClient, query: str, first: bool, size: int, pages: int, seen: Seen):
    def page(n: int) -> Page:
        response = client.get(
            arxiv.Arxiv.base,
            params={
                "search_query": query,
                "start": n * size,
                "max_results": size,
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            },
        )
        if response.status_code != 200:
            raise ProviderError(f"arXiv answered {response.status_code} for the query")
        try:
            root = ET.fromstring(response.text)
        except ET.ParseError:
            raise ProviderError("arXiv sent an answer that is not an Atom feed") from None
        items = []
        for entry in root.findall("atom:entry", arxiv.NS):
            entry_id = arxiv._text(entry.find("atom:id", arxiv.NS)) or ""
            if "api/errors" in entry_id:
                summary = arxiv._text(entry.find("atom:summary", arxiv.NS))
                raise ProviderError(f"arXiv refused the query: {summary}")
            data = arxiv.parse_entry(entry)
            items.append(Found(data["arxiv"].split("v")[0], data))
        total = arxiv._text(root.find("opensearch:totalResults", arxiv.NS))
        return items, bool(items) and total is not None and n * size + len(items) < int(total)

    return _pages(page, first, pages, seen)


def _s2_paper(paper: dict[str, Any] | None) -> Found | None:
    if not paper or not paper.get("paperId") or not paper.get("title"):
        return None  # S2 lists citing papers it knows nothing of as {"paperId": null}
    return Found(str(paper["paperId"]), semanticscholar.to_source(paper))


def _s2(
    client: WatchClient,
    provider: WatchProvider,
    query: str,
    first: bool,
    size: int,
    pages: int,
    seen: Seen,
):
    headers = (
        {"x-api-key": client.settings.semantic_scholar_api_key}
        if client.settings.semantic_scholar_api_key
        else None
    )
    if provider == WatchProvider.semanticscholar_search:
        url, params, wrapper = f"{S2_BASE}/search", {"query": query}, None
    else:
        relation = (
            "citations" if provider == WatchProvider.semanticscholar_citations else "references"
        )
        url, params = f"{S2_BASE}/{quote(query, safe=':')}/{relation}", {}
        wrapper = "citingPaper" if relation == "citations" else "citedPaper"

    def page(n: int) -> Page:
        response = client.get(
            url,
            params={**params, "fields": semanticscholar.FIELDS, "offset": n * size, "limit": size},
            headers=headers,
        )
        if response.status_code == 404:
            raise ProviderError(f"Semantic Scholar knows no paper {query}", details={"status": 404})
        body = client.json(response, "the watch")
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise ProviderError("Semantic Scholar sent an answer without a data list")
        papers = [r.get(wrapper) if wrapper else r for r in rows if isinstance(r, dict)]
        return [f for p in papers if (f := _s2_paper(p)) is not None], "next" in body

    return _pages(page, first, pages, seen)


def _openalex(client: WatchClient, query: str, first: bool, size: int, pages: int, seen: Seen):
    def page(n: int) -> Page:
        response = client.get(
            openalex.OpenAlex.base,
            params={
                "filter": query,
                "sort": "publication_date:desc",
                "per-page": size,
                "page": n + 1,
                "mailto": client.settings.contact_email,
            },
        )
        body = client.json(response, "the filter")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ProviderError("OpenAlex sent an answer without a results list")
        count = (body.get("meta") or {}).get("count") or 0
        items = [
            Found(str(w["id"]).rsplit("/", 1)[-1], openalex.to_source(w))
            for w in results
            if isinstance(w, dict) and w.get("id") and (w.get("title") or w.get("display_name"))
        ]
        return items, (n + 1) * size < count

    return _pages(page, first, pages, seen)


def _entry_date(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).date().isoformat()


def _plain(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(html.unescape(TAG.sub(" ", value)).split())
    return text[:MAX_ABSTRACT] or None


def feed_entry(entry: Any, feed_title: str | None) -> Found | None:
    link = entry.get("link")
    title = " ".join((entry.get("title") or "").split())
    if not title or not (entry.get("id") or link):
        return None
    host = (urlsplit(link).hostname or "") if link else ""
    authors = authors_from([a.get("name") for a in entry.get("authors") or []])
    # A feed of papers (arXiv's own, a journal's) links to them: keep their identifiers.
    arxiv_id = find_arxiv(link) if host.endswith("arxiv.org") else None
    doi = find_doi(link) if host.endswith("doi.org") else None
    kind = "forum_post" if host.endswith(FORUM_HOSTS) else "blog_post"
    data = {
        "kind": "preprint" if arxiv_id else ("paper" if doi else kind),
        "arxiv": arxiv_id,
        "doi": doi,
        "title": title,
        "authors": authors,
        "date": _entry_date(entry),
        "url": link,
        "venue": feed_title,
        "abstract": _plain(entry.get("summary")),
    }
    return Found(str(entry.get("id") or link), {k: v for k, v in data.items() if v})


def _feed(client: WatchClient, url: str, cursor: dict[str, Any], max_items: int) -> Fetched:
    headers = {}
    if cursor.get("etag"):
        headers["If-None-Match"] = cursor["etag"]
    if cursor.get("modified"):
        headers["If-Modified-Since"] = cursor["modified"]
    response = client.get(url, headers=headers)
    if response.status_code == 304:
        return Fetched([], cursor, 1)
    if response.status_code != 200:
        raise ProviderError(f"the feed answered {response.status_code}")
    parsed = feedparser.parse(response.content)
    if not parsed.get("version"):  # feedparser names the RSS / Atom flavour it read
        raise ProviderError("the feed's answer is neither RSS nor Atom")
    title = _plain(parsed.get("feed", {}).get("title"))
    entries = parsed.get("entries", [])[:max_items]  # feeds list their newest entries first
    items = [f for e in entries if (f := feed_entry(e, title)) is not None]
    validators = {
        "etag": response.headers.get("ETag"),
        "modified": response.headers.get("Last-Modified"),
    }
    return Fetched(items, {k: v for k, v in validators.items() if v}, 1)


# The namespace of each provider's own ids (the S2 watch kinds share paper ids).
ID_SPACES = {
    WatchProvider.arxiv: "arxiv",
    WatchProvider.semanticscholar_search: "s2",
    WatchProvider.semanticscholar_citations: "s2",
    WatchProvider.semanticscholar_references: "s2",
    WatchProvider.openalex: "openalex",
    WatchProvider.feed: "feed",
}
CLIENT_NAMES = {
    WatchProvider.arxiv: "arXiv",
    WatchProvider.semanticscholar_search: "Semantic Scholar",
    WatchProvider.semanticscholar_citations: "Semantic Scholar",
    WatchProvider.semanticscholar_references: "Semantic Scholar",
    WatchProvider.openalex: "OpenAlex",
    WatchProvider.feed: "feed",
}


def fetch(
    settings: Settings,
    provider: WatchProvider,
    query: str,
    cursor: dict[str, Any],
    seen: Seen,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """The provider's newest items for `query`, and the cursor to keep for the next poll."""
    client = WatchClient(settings, CLIENT_NAMES[provider], transport, sleep)
    try:
        if provider == WatchProvider.feed:
            return _feed(client, query, cursor, settings.watch_page_size * settings.watch_max_pages)
        first = not cursor.get("polled")
        size, pages = settings.watch_page_size, settings.watch_max_pages
        if provider == WatchProvider.arxiv:
            items, requests = _arxiv(client, query, first, size, pages, seen)
        elif provider == WatchProvider.openalex:
            items, requests = _openalex(client, query, first, size, pages, seen)
        else:
            items, requests = _s2(client, provider, query, first, size, pages, seen)
        dates = [str(i.data["date"]) for i in items if i.data.get("date")]
        newest = max([*dates, cursor.get("newest") or ""]) or None
        return Fetched(items, {"polled": True, "newest": newest}, requests)
    finally:
        client.close()
