"""Importing real bibliography files, exporting them, and importing the export again."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers import API, AUTH, snapshot

FIXTURES = Path(__file__).parent / "fixtures"
BIBTEX = sorted((FIXTURES / "bibtex").glob("*.bib"))
IMPORT = f"{API}/sources/import"
FIELDS = (
    "citekey",
    "kind",
    "title",
    "authors",
    "et_al",
    "date",
    "date_precision",
    "venue",
    "doi",
    "arxiv",
    "url",
    "abstract",
    "tags",
)


def _import(client: TestClient, data: bytes, **params: str) -> dict:
    response = client.post(
        IMPORT, content=data, params=params, headers={"content-type": "application/x-bibtex"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _records(client: TestClient) -> list[dict]:
    items = client.get(f"{API}/sources", params={"limit": 500, "sort": "id"}).json()
    rows = items["items"]
    offset = 500
    while items["next_offset"]:
        items = client.get(
            f"{API}/sources", params={"limit": 500, "offset": offset, "sort": "id"}
        ).json()
        rows += items["items"]
        offset += 500
    return sorted(({k: r[k] for k in FIELDS} for r in rows), key=lambda r: r["citekey"] or "")


def test_textbook_bibliography(client):  # type: ignore[no-untyped-def]
    """The d2l.ai textbook's bibliography: 526 entries, some listed twice under two keys."""
    result = _import(client, (FIXTURES / "bibtex" / "d2l-textbook_d2l.bib").read_bytes())
    assert result["entries"] == 526 and result["unreadable"] == 0
    assert result["created"] + result["duplicates"] == 526 and result["created"] >= 500
    for dup in (i for i in result["items"] if i["status"] == "duplicate"):
        assert dup["line"] > 0 and dup["field"] in ("arxiv", "doi", "citekey", "url")
    revels = next(i for i in result["items"] if i.get("line") == 3354)
    assert revels["status"] == "duplicate" and revels["field"] == "arxiv"
    source = client.get(f"{API}/sources", params={"arxiv": "1409.0473"}).json()["items"][0]
    assert source["authors"][0] == {"given": "Dzmitry", "family": "Bahdanau"}
    assert source["kind"] == "preprint" and source["date"] == "2014"


@pytest.mark.parametrize("path", BIBTEX, ids=[p.name for p in BIBTEX])
def test_round_trip(client, db_settings, path):  # type: ignore[no-untyped-def]
    first = _import(client, path.read_bytes())
    assert first["created"] > 0 and first["unreadable"] == 0
    before = _records(client)
    for fmt in ("bibtex", "csljson"):
        exported = client.get(f"{API}/sources/export", params={"format": fmt})
        assert exported.status_code == 200
        from app.core import migrations
        from app.core.db import make_engine, make_sessionmaker
        from app.main import create_app
        from tests.conftest import install_test_token, make_database

        settings, drop = make_database(path.parent.parent.parent / ".pytest_cache")
        try:
            migrations.upgrade(settings)
            install_test_token(make_sessionmaker(make_engine(settings)))
            with TestClient(create_app(settings), headers=AUTH) as other:
                again = other.post(IMPORT, content=exported.content, params={"format": fmt})
                assert again.status_code == 200, again.text
                assert again.json()["created"] == len(before)
                after = _records(other)
        finally:
            drop()
        if fmt == "csljson":  # CSL has no 'et al.' and no abstract-free kinds beyond ours
            for row in before + after:
                row.pop("et_al")
        assert after == before, fmt


def test_latex_and_names(client):  # type: ignore[no-untyped-def]
    bib = (
        b"@article{mueller2019,\n"
        b"  title = {Learning {\\\"u}ber {S}chr{\\\"o}dinger's {\\'E}quations},\n"
        b'  author = {M{\\"u}ller, J{\\"o}rg and van der Berg, Anna and de la Cruz, Jos{\\\'e} '
        b"and others},\n  journal = {J. Stat. Mech.},\n  year = {2019}, month = {jun},\n"
        b"  note = {See https://doi.org/10.1088/1742-5468/AB3985 and arXiv:1902.04742v2}\n}\n"
    )
    result = _import(client, bib)
    source = client.get(f"{API}/sources/{result['items'][0]['id']}").json()
    assert source["title"] == "Learning über Schrödinger's Équations"
    assert source["authors"] == [
        {"given": "Jörg", "family": "Müller"},
        {"given": "Anna", "family": "van der Berg"},
        {"given": "José", "family": "de la Cruz"},
    ]
    assert source["et_al"] is True
    assert (source["date"], source["date_precision"]) == ("2019-06", "month")
    assert source["doi"] == "10.1088/1742-5468/ab3985" and source["arxiv"] == "1902.04742v2"


def test_broken_entry_is_reported_by_line(client, session_factory):  # type: ignore[no-untyped-def]
    bib = (
        b"@article{good1, title={One}, year={2001}}\n\n"
        b"@article{broken,\n  title = {Never closed\n  author = {X},\n\n"
        b"@article{good2, title={Two}, year={2002}}\n"
    )
    before = snapshot(session_factory)
    refused = client.post(IMPORT, content=bib, params={"mode": "all"})
    assert refused.status_code == 422 and "line 3" in refused.json()["error"]["message"]
    assert snapshot(session_factory) == before
    result = _import(client, bib)
    assert (result["created"], result["unreadable"]) == (2, 1)
    assert result["errors"][0]["line"] == 3


@pytest.mark.parametrize(
    ("data", "params", "status", "field"),
    [
        (b"", {}, 422, "file"),
        (b"   \n", {}, 422, "file"),
        ("@article{k, title={Caf\u00e9}}".encode("latin-1"), {}, 422, "file"),
        (b"no entries here at all", {}, 422, "file"),
        (b"[{]", {"format": "csljson"}, 422, "file"),
        (b'"just a string"', {"format": "csljson"}, 422, "file"),
        (b"@article{x, title={t}}", {"encoding": "klingon"}, 422, "query.encoding"),
        (b"@article{x, title={t}}", {"format": "docx"}, 422, "query.format"),
    ],
)
def test_bad_files(client, session_factory, data, params, status, field):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    response = client.post(IMPORT, content=data, params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert snapshot(session_factory) == before


def test_other_encodings_on_request(client):  # type: ignore[no-untyped-def]
    data = "@article{k, title={Caf\u00e9 theory}, year={2020}}".encode("latin-1")
    result = _import(client, data, encoding="latin-1")
    assert client.get(f"{API}/sources/{result['items'][0]['id']}").json()["title"] == "Café theory"


def test_fifty_megabytes_is_413(client, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    response = client.post(IMPORT, content=b"@misc{a, title={x}}\n" * 2_500_000)
    assert response.status_code == 413
    assert snapshot(session_factory) == before


def test_csl_json_and_ris(client):  # type: ignore[no-untyped-def]
    csl = (
        b'[{"id": "feldman2020", "type": "paper-conference", "title": "Does learning require '
        b'memorization?", "author": [{"family": "Feldman", "given": "Vitaly"}], "issued": '
        b'{"date-parts": [[2020, 6]]}, "container-title": "STOC", '
        b'"DOI": "10.1145/3357713.3384290"}]'
    )
    result = client.post(IMPORT, content=csl, headers={"content-type": "application/json"}).json()
    assert result["format"] == "csljson" and result["created"] == 1
    ris = (
        b"TY  - JOUR\nTI  - Exact gap between generalization error and uniform convergence\n"
        b"AU  - Yang, Zitong\nAU  - Bai, Yu\nPY  - 2021\nUR  - https://arxiv.org/abs/2103.04554\n"
        b"ER  - \n"
    )
    result = client.post(IMPORT, content=ris).json()
    assert result["format"] == "ris" and result["created"] == 1
    source = client.get(f"{API}/sources", params={"arxiv": "2103.04554"}).json()["items"][0]
    assert source["authors"][1] == {"given": "Yu", "family": "Bai"}


def test_cli_import(tmp_path):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from tests.conftest import make_database

    settings, drop = make_database(tmp_path)
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    atlas = [sys.executable, "-m", "app.cli"]
    bib = FIXTURES / "bibtex" / "nasa-ads_HowManySamples.bib"
    try:
        subprocess.run([*atlas, "db", "upgrade"], env=env, check=True, capture_output=True)
        done = subprocess.run([*atlas, "import", str(bib)], env=env, capture_output=True, text=True)
        assert done.returncode == 0 and "4 entries, 4 created" in done.stdout
        again = subprocess.run(
            [*atlas, "import", str(bib)], env=env, capture_output=True, text=True
        )
        assert "0 created, 4 duplicates" in again.stdout
        missing = subprocess.run(
            [*atlas, "import", str(tmp_path / "nope.bib")], env=env, capture_output=True, text=True
        )
        assert missing.returncode == 2
    finally:
        drop()
