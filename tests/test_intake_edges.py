"""Intake edge cases found in review: capitalised BibTeX fields, raw URLs, posts by
different authors, old-style arXiv ids, odd provider records and CSL shapes, merges."""

import httpx

from tests.helpers import API, post

IMPORT = f"{API}/sources/import"


def test_capitalised_bibtex_fields_and_raw_urls(client):  # type: ignore[no-untyped-def]
    bib = (
        b'@Article{Cap2009,\n  Author = {M{\\"u}ller, J. and Smith, Ann},\n'
        b"  Title = {Capital Fields},\n  Year = {2009},\n  Month = MAR,\n"
        b"  Url = {https://x.org/a%20b_c~d?p=1&q=2},\n  Doi = {10.1000/a%2Fb}\n}\n"
    )
    result = client.post(IMPORT, content=bib).json()
    source = client.get(f"{API}/sources/{result['items'][0]['id']}").json()
    assert [a["family"] for a in source["authors"]] == ["Müller", "Smith"]
    assert source["date"] == "2009-03"
    assert source["url"] == "https://x.org/a%20b_c~d?p=1&q=2"
    assert source["doi"] == "10.1000/a%2fb"


def test_jabref_fixture_keeps_its_authors(client):  # type: ignore[no-untyped-def]
    from pathlib import Path

    data = (Path(__file__).parent / "fixtures" / "bibtex" / "jabref_testjabref.bib").read_bytes()
    result = client.post(IMPORT, content=data).json()
    assert result["created"] == 6
    authors = [client.get(f"{API}/sources/{i['id']}").json()["authors"] for i in result["items"]]
    assert all(authors) and authors[0][0] == {"given": "Joseph N. Y.", "family": "Aziz"}


def test_posts_by_different_authors_stay_apart(client):  # type: ignore[no-untyped-def]
    first = post(
        client,
        "/sources",
        {"title": "My AI timelines", "kind": "blog_post", "authors": ["Ann One"], "year": 2021},
    )
    second = post(
        client,
        "/sources",
        {"title": "My AI timelines", "kind": "blog_post", "authors": ["Bob Two"], "year": 2023},
    )
    mirror = post(
        client,
        "/sources",
        {"title": "My AI timelines — LessWrong", "authors": ["Ann One"], "year": 2021},
    )
    assert first["work_id"] != second["work_id"]
    assert mirror["work_id"] == first["work_id"]
    short = [
        post(client, "/sources", {"title": t, "kind": "forum_post"})
        for t in ("Introduction — LessWrong", "Introduction - Medium", "???", "!!!")
    ]
    assert len({s["work_id"] for s in short}) == 4


def test_old_style_arxiv_ids_are_one_identifier(client):  # type: ignore[no-untyped-def]
    first = post(client, "/sources", {"title": "t", "arxiv": "HEP-TH/9901001v2"})
    assert first["arxiv"] == "hep-th/9901001v2"
    again = client.post(f"{API}/sources", json={"title": "t2", "arxiv": "hep-th/9901001v2"})
    assert again.status_code == 409


def test_provider_records_that_are_not_sources_are_502(client):  # type: ignore[no-untyped-def]
    client.app.state.lookup_sleep = lambda _s: None
    for message in (
        {"title": [], "DOI": "10.5555/1"},
        {"title": ["x" * 600]},
        {"title": ["ok"], "issued": {"date-parts": [[1543]]}},
        [],
    ):
        body = {"status": "ok", "message-type": "work", "message": message}
        client.app.state.lookup_transport = httpx.MockTransport(
            lambda _r, body=body: httpx.Response(200, json=body)
        )
        answer = client.post(f"{API}/sources/lookup", json={"identifier": "10.5555/1"})
        assert answer.status_code == 502, (message, answer.text)


def test_odd_csl_shapes(client):  # type: ignore[no-untyped-def]
    odd = (
        b'[{"title": "a", "issued": {"date-parts": [[2017, 5, "x"]]}, "URL": 5},'
        b' {"title": "b", "DOI": 10.1234, "keyword": ["x", "y"]},'
        b' {"title": "c", "issued": {"date-parts": [[2017, 22]]}}]'
    )
    result = client.post(IMPORT, content=odd, params={"format": "csljson"})
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["created"] == 2 and body["invalid"] == 1  # the URL 5 is not a URL
    assert next(i for i in body["items"] if i["status"] == "invalid")["field"] == "url"
    single = client.post(
        IMPORT, content=b'{"title": "alone", "type": "book"}', params={"format": "csljson"}
    )
    assert single.status_code == 200 and single.json()["created"] == 1
    deep = b"[" * 100_000 + b"]" * 100_000
    assert client.post(IMPORT, content=deep, params={"format": "csljson"}).status_code == 422


def test_merging_works_that_cite_each_other(client):  # type: ignore[no-untyped-def]
    a, b = post(client, "/sources", {"title": "one"}), post(client, "/sources", {"title": "two"})
    for x, y in ((a, b), (b, a)):
        post(
            client,
            "/edges",
            {
                "from_type": "work",
                "from_id": x["work_id"],
                "relation": "cites",
                "to_type": "work",
                "to_id": y["work_id"],
            },
        )
    merged = client.post(f"{API}/works/merge", json={"work_ids": [a["work_id"], b["work_id"]]})
    assert merged.status_code == 200
    edges = client.get(f"{API}/edges", params={"from_type": "work"}).json()["items"]
    assert all((e["from_id"], e["from_type"]) != (e["to_id"], e["to_type"]) for e in edges)
    same = client.post(
        f"{API}/works/suggestions/dismiss", json={"work_ids": [a["work_id"], a["work_id"]]}
    )
    assert same.status_code == 422


def test_dismissed_pairs_split_suggestion_groups(client):  # type: ignore[no-untyped-def]
    titles = (
        "Is memorization actually necessary for generalization",
        "Is Memorization Actually Necessary for Generalization?",
        "Is memorization actually necessary for generalization - OpenReview",
    )
    works = [post(client, "/sources", {"title": t})["work_id"] for t in titles]
    pair = sorted(works[:2])
    client.post(f"{API}/works/suggestions/dismiss", json={"work_ids": pair})
    for group in client.get(f"{API}/works/suggestions").json():
        assert not set(pair) <= set(group["work_ids"])


def test_large_blocks_of_similar_titles_stay_answerable(client):  # type: ignore[no-untyped-def]
    items = [
        {"title": f"On the theory of deep networks part {i} {i * 7919 % 1000}"} for i in range(700)
    ]
    assert client.post(f"{API}/sources", json=items).status_code == 201
    assert client.get(f"{API}/works/suggestions").status_code == 200


def test_preprint_and_published_version_join(client):  # type: ignore[no-untyped-def]
    preprint = post(
        client,
        "/sources",
        {
            "title": "Sharp bounds for deep nets",
            "kind": "preprint",
            "arxiv": "2003.04321v2",
            "authors": ["Ann Lee"],
            "year": 2020,
        },
    )
    published = client.post(
        f"{API}/sources",
        json=[
            {
                "title": "Sharp Bounds for Deep Nets",
                "doi": "10.5555/sharp.2020",
                "authors": ["Lee, Ann"],
                "year": 2021,
                "venue": "JMLR",
            }
        ],
    ).json()["items"][0]
    assert published["work_id"] == preprint["work_id"]
    assert published["grouped_by"] == "published_version"
    stranger = post(
        client,
        "/sources",
        {
            "title": "Sharp bounds for deep nets",
            "doi": "10.5555/other",
            "authors": ["Bo Chen"],
            "year": 2020,
        },
    )
    assert stranger["work_id"] != preprint["work_id"]
