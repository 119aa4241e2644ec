"""The history document's 74 listings, posted raw, are grouped into works by the rules alone."""

from pathlib import Path

import yaml

from tests.helpers import API

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "sources.yaml"


def raw_listings() -> list[dict]:
    """Each listing as the history document shows it: title, host, and a date if shown."""
    rows = [r for r in yaml.safe_load(SEEDS.read_text()) if r.get("listing")]
    items = []
    for r in sorted(rows, key=lambda r: r["listing"]):
        dated = r["listing"] <= 3  # only [1]–[3] show a date, inside their host
        host = f"{r['host']} ({r['date']})" if dated else r["host"]
        items.append(
            {
                "title": r["raw_title"],
                "host": host,
                "citekey": f"listing-{r['listing']}",
                **({"date": r["date"]} if dated else {}),
            }
        )
    return items


def test_listings_group_into_works(client):  # type: ignore[no-untyped-def]
    items = raw_listings()
    assert len(items) == 74
    result = client.post(f"{API}/sources", json=items)
    assert result.status_code == 201, result.text
    work = {n + 1: item["work_id"] for n, item in enumerate(result.json()["items"])}

    def one_work(*numbers: int) -> bool:
        """Joined automatically, or all in the top suggestion for the first one's work."""
        first = work[numbers[0]]
        top = client.get(f"{API}/works/suggestions", params={"work_id": first, "limit": 1}).json()
        suggested = set(top[0]["work_ids"]) if top else {first}
        return {work[n] for n in numbers} <= suggested | {first}

    assert work[16] == work[17]  # arXiv id with and without version: automatic
    assert work[1] == work[29] and work[2] == work[30]  # posts and their mirrors: automatic
    assert one_work(16, 17, 69, 70)
    assert one_work(3, 32)
    assert one_work(4, 21, 22, 34, 35, 41, 42, 43)
    memorization = [9, 10, 11, 45, 46]
    assert len({work[n] for n in memorization}) == 5  # never merged silently …
    assert one_work(*memorization)  # … but offered together
