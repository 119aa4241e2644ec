"""Identifier look-ups against recorded provider answers (httpx.MockTransport), including
retries, Retry-After, and unreachable or slow providers."""

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.helpers import API, post

PROVIDERS = Path(__file__).parent / "fixtures" / "providers"
LOOKUP = f"{API}/sources/lookup"


def _cassette_body(name: str) -> tuple[int, str]:
    """Status and body of the first recorded interaction in a VCR cassette."""
    data = yaml.safe_load((PROVIDERS / name).read_text())
    response = data["interactions"][0]["response"]
    if "status_code" in response:  # vcrpy's httpx cassettes
        return int(response["status_code"]), str(response.get("content", ""))
    body = response["body"]
    return int(response["status"]["code"]), body.get("string", "") if isinstance(
        body, dict
    ) else body


class Recorder:
    """A MockTransport that answers from a script and remembers the requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def sleeps(client):  # type: ignore[no-untyped-def]
    waited: list[float] = []
    client.app.state.lookup_sleep = waited.append
    return waited


def _use(client, recorder: Recorder) -> None:  # type: ignore[no-untyped-def]
    client.app.state.lookup_transport = httpx.MockTransport(recorder)


def test_crossref(client, sleeps):  # type: ignore[no-untyped-def]
    body = (PROVIDERS / "crossref_10.5555_12345678.json").read_text()
    recorder = Recorder(
        httpx.Response(200, text=body, headers={"content-type": "application/json"})
    )
    _use(client, recorder)
    answer = client.post(LOOKUP, json={"identifier": "https://doi.org/10.5555/12345678"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    message = json.loads(body)["message"]
    assert result["provider"] == "crossref" and result["identifier"] == "10.5555/12345678"
    assert result["source"]["title"].startswith(message["title"][0])
    assert result["source"]["doi"] == "10.5555/12345678"
    assert [a["family"] for a in result["source"]["authors"]] == [
        a["family"] for a in message["author"] if a.get("family")
    ]
    request = recorder.requests[0]
    assert request.url.path == "/works/10.5555/12345678"
    assert "mailto:" in request.headers["user-agent"]
    created = client.post(f"{API}/sources", json=result["source"])
    assert created.status_code == 201
    again = client.post(LOOKUP, json={"identifier": "10.5555/12345678"}).json()
    assert again["existing_id"] == created.json()["id"]


def test_crossref_unknown_doi_is_404(client, sleeps):  # type: ignore[no-untyped-def]
    status, body = _cassette_body("crossref_404_notarealdoi.cassette.yaml")
    assert status == 404
    _use(client, Recorder(httpx.Response(404, text=body)))
    answer = client.post(LOOKUP, json={"identifier": "10.1234/notarealdoi"})
    assert answer.status_code == 404 and answer.json()["error"]["field"] == "identifier"


@pytest.mark.parametrize("name", ["arxiv_1111.2011v2.xml", "arxiv_1706.03762_newapi.xml"])
def test_arxiv(client, sleeps, name):  # type: ignore[no-untyped-def]
    xml = (PROVIDERS / name).read_text()
    recorder = Recorder(httpx.Response(200, text=xml))
    _use(client, recorder)
    wanted = name.split("_")[1].removesuffix(".xml")
    answer = client.post(LOOKUP, json={"identifier": f"arXiv:{wanted}"})
    assert answer.status_code == 200, answer.text
    source = answer.json()["source"]
    assert source["kind"] == "preprint" and source["arxiv"].startswith(wanted[:9])
    assert source["title"] and source["authors"] and source["date"]
    assert recorder.requests[0].url.params["id_list"] == wanted


def test_arxiv_error_feed_is_404(client, sleeps):  # type: ignore[no-untyped-def]
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.56789</id>"
        "<title>Error</title><summary>incorrect id format for 1234.56789</summary></entry>"
        "</feed>"
    )
    _use(client, Recorder(httpx.Response(200, text=feed)))
    assert client.post(LOOKUP, json={"identifier": "2901.99999"}).status_code == 404


def test_semantic_scholar(client, sleeps):  # type: ignore[no-untyped-def]
    body = (PROVIDERS / "semanticscholar_DOI_10.1101_2024.04.01.587366.json").read_text()
    recorder = Recorder(httpx.Response(200, text=body))
    _use(client, recorder)
    answer = client.post(
        LOOKUP, json={"identifier": "DOI:10.1101/2024.04.01.587366", "provider": "semanticscholar"}
    )
    assert answer.status_code == 200, answer.text
    source = answer.json()["source"]
    assert source["title"] == json.loads(body)["title"]
    assert source["doi"] == "10.1101/2024.04.01.587366"
    assert recorder.requests[0].url.path.endswith("/paper/DOI:10.1101/2024.04.01.587366")
    status, missing = _cassette_body("semanticscholar_404_not_found.cassette.yaml")
    _use(client, Recorder(httpx.Response(status, text=missing)))
    assert client.post(LOOKUP, json={"identifier": "CorpusId:0"}).status_code == 404


def test_openalex(client, sleeps):  # type: ignore[no-untyped-def]
    body = (PROVIDERS / "openalex_W97658052.json").read_text()
    work = json.loads(body)
    _use(client, Recorder(httpx.Response(200, text=body)))
    answer = client.post(LOOKUP, json={"identifier": "https://openalex.org/W97658052"})
    assert answer.status_code == 200, answer.text
    source = answer.json()["source"]
    assert source["title"] == " ".join(work["title"].split())
    assert len(source["authors"]) == len(work["authorships"])
    first = min((p, w) for w, ps in work["abstract_inverted_index"].items() for p in ps)[1]
    assert source["abstract"].split()[0] == first


def test_retries_honour_retry_after(client, sleeps):  # type: ignore[no-untyped-def]
    body = (PROVIDERS / "crossref_10.5555_12345678.json").read_text()
    recorder = Recorder(
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(503),
        httpx.Response(200, text=body),
    )
    _use(client, recorder)
    answer = client.post(LOOKUP, json={"identifier": "10.5555/12345678"})
    assert answer.status_code == 200
    assert len(recorder.requests) == 3
    assert sleeps[0] == 2.0 and 0 < sleeps[1] <= 4


def test_provider_failures(client, sleeps):  # type: ignore[no-untyped-def]
    cases = [
        (httpx.ConnectError("no route to host"), 503, "provider_unavailable"),
        (httpx.ReadTimeout("slow"), 504, "provider_timeout"),
        (httpx.Response(500), 502, "provider_error"),
        (httpx.Response(429, headers={"Retry-After": "1"}), 503, "provider_unavailable"),
        (httpx.Response(200, text="<html>not json</html>"), 502, "provider_error"),
    ]
    for failure, status, code in cases:
        recorder = Recorder(failure)
        _use(client, recorder)
        answer = client.post(LOOKUP, json={"identifier": "10.5555/12345678"})
        assert answer.status_code == status, (failure, answer.text)
        assert answer.json()["error"]["code"] == code
        retried = not isinstance(failure, httpx.Response) or failure.status_code >= 429
        assert len(recorder.requests) == (3 if retried else 1)


def test_retry_after_beyond_the_deadline_is_not_waited(client, sleeps):  # type: ignore[no-untyped-def]
    recorder = Recorder(httpx.Response(429, headers={"Retry-After": "3600"}))
    _use(client, recorder)
    answer = client.post(LOOKUP, json={"identifier": "10.5555/12345678"})
    assert answer.status_code == 503 and len(recorder.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"identifier": "not an id"}, "identifier"),
        ({"identifier": "10.1/x"}, "identifier"),
        ({"identifier": "1902.04742", "provider": "crossref"}, "provider"),
        ({"identifier": "10.5555/1", "provider": "dblp"}, "provider"),
        ({}, "identifier"),
    ],
)
def test_bad_identifiers(client, body, field):  # type: ignore[no-untyped-def]
    answer = client.post(LOOKUP, json=body)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == field


def test_unreachable_provider_is_a_clear_5xx(client):  # type: ignore[no-untyped-def]
    """No mock: machines here reach only package registries, so the real Crossref is
    unreachable; the answer must be a 503/504 error body, within the configured deadline."""
    post(client, "/problems", {"title": "warm-up"})
    state = client.app.state
    state.lookup_sleep = lambda _s: None
    state.settings = state.settings.model_copy(
        update={"lookup_timeout_s": 2.0, "lookup_deadline_s": 4.0, "lookup_retries": 1}
    )
    answer = client.post(LOOKUP, json={"identifier": "10.5555/12345678"})
    assert answer.status_code in (503, 504), answer.text
    assert answer.json()["error"]["code"] in ("provider_unavailable", "provider_timeout")
