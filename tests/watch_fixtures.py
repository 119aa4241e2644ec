"""Providers answering watches from recorded responses (tests/fixtures/providers/watch_*):
an httpx transport that serves each request the recording for its URL and logs it."""

from pathlib import Path

import httpx

PROVIDERS = Path(__file__).parent / "fixtures" / "providers"
ARXIV_QUERY = 'au:del_maestro AND ti:"quantum criticality"'
S2_REFERENCES_OF = "DOI:10.2139/ssrn.2250500"
RSS_URL = "https://anaderi.github.io/index.xml"
ATOM_URL = "https://05gash.github.io/feed.xml"
# (host, path) -> recording; S2 references by offset.
RECORDED = {
    ("export.arxiv.org", "/api/query"): "watch_arxiv_search_delmaestro_quantum_criticality.xml",
    (
        "api.semanticscholar.org",
        "/graph/v1/paper/search",
    ): "watch_semanticscholar_search_turing.json",
    ("api.openalex.org", "/works"): "watch_openalex_works_sample1.json",
    ("anaderi.github.io", "/index.xml"): "watch_feed_rss_anaderi_off-by-mind.xml",
    ("05gash.github.io", "/feed.xml"): "watch_feed_atom_05gash_jekyll.xml",
}
REFERENCES = {
    "0": "watch_semanticscholar_references_ssrn.2250500_offset0.json",
    "50": "watch_semanticscholar_references_ssrn.2250500_offset50.json",
}
KINDS = {".xml": "application/xml", ".json": "application/json"}


class RecordedProviders(httpx.MockTransport):
    """Serves the recordings; `requests` logs what was asked. With `etag`, feeds carry that
    ETag and answer 304 to a request that sends it back."""

    def __init__(self, etag: str | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.etag = etag
        super().__init__(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host, path = request.url.host, request.url.path
        name = RECORDED.get((host, path))
        if host == "api.semanticscholar.org" and path.endswith("/references"):
            name = REFERENCES.get(request.url.params.get("offset", "0"))
        if name is None:
            return httpx.Response(404, text="not recorded")
        headers = {"content-type": KINDS[Path(name).suffix]}
        if self.etag and name.startswith("watch_feed"):
            if request.headers.get("If-None-Match") == self.etag:
                return httpx.Response(304, headers={"ETag": self.etag})
            headers["ETag"] = self.etag
        return httpx.Response(200, content=(PROVIDERS / name).read_bytes(), headers=headers)
