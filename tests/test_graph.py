"""The debate graph: paths, neighbourhoods, rankings, clusters, export, staying current."""

import networkx as nx
import pytest
from sqlalchemy import select

from app.models import (
    Claim,
    Edge,
    Evidence,
    Perspective,
    Source,
    Tension,
    ThreadItem,
    TimelineEvent,
)
from app.models.links import (
    event_sources,
    perspective_claims,
    perspective_sources,
    problem_actors,
    side_claims,
    side_perspectives,
    side_sources,
    status_change_sources,
    tension_sources,
)
from tests.helpers import API, post

GRAPH = f"{API}/graph"


def _source_id(client, citekey):  # type: ignore[no-untyped-def]
    return client.get(f"{API}/sources", params={"citekey": citekey}).json()["items"][0]["id"]


def _id(node: str) -> int:
    return int(node.split(":")[1])


def edge_in_database(session, edge) -> bool:  # type: ignore[no-untyped-def]
    """Does the row that owns this edge exist and say the same thing?"""
    owner_type, raw_id = edge["key"].split(":")[:2]
    owner_id, relation = int(raw_id), edge["relation"]
    u, v = edge["source"], edge["target"]
    if owner_type == "edge":
        row = session.get(Edge, owner_id)
        return row is not None and (
            f"{row.from_type.value}:{row.from_id}",
            f"{row.to_type.value}:{row.to_id}",
            row.relation.value,
        ) == (u, v, relation)
    if owner_type == "evidence":
        row = session.get(Evidence, owner_id)
        return row is not None and (
            f"source:{row.source_id}",
            f"claim:{row.claim_id}",
            row.relation.value,
        ) == (u, v, relation)
    if owner_type == "source" and v.startswith("work:"):
        return session.get(Source, owner_id).work_id == _id(v)
    if owner_type == "source" and v.startswith("thread:"):
        return session.get(ThreadItem, (_id(v), owner_id)) is not None
    if owner_type == "claim":
        return session.get(Claim, owner_id).problem_id == _id(v)
    if owner_type == "problem":
        return bool(
            session.execute(
                select(problem_actors).where(
                    problem_actors.c.problem_id == owner_id, problem_actors.c.actor_id == _id(u)
                )
            ).first()
        )
    if owner_type == "perspective":
        p = session.get(Perspective, owner_id)
        links = {("actor", p.actor_id), ("thread", p.thread_id)}
        for table, col in ((perspective_sources, "source"), (perspective_claims, "claim")):
            links |= {
                (col, i)
                for i in session.scalars(
                    select(table.c[f"{col}_id"]).where(table.c.perspective_id == owner_id)
                )
            }
        other = u if v == f"perspective:{owner_id}" else v
        return (other.split(":")[0], _id(other)) in links
    if owner_type == "tension":
        t = session.get(Tension, owner_id)
        links = {("problem", t.problem_id), ("thread", t.thread_id)}
        links |= {
            ("source", i)
            for i in session.scalars(
                select(tension_sources.c.source_id).where(tension_sources.c.tension_id == owner_id)
            )
        }
        for side in t.sides:
            for table, col in (
                (side_claims, "claim"),
                (side_perspectives, "perspective"),
                (side_sources, "source"),
            ):
                links |= {
                    (col, i)
                    for i in session.scalars(
                        select(table.c[f"{col}_id"]).where(table.c.side_id == side.id)
                    )
                }
        for change in t.status_history:
            links |= {
                ("source", i)
                for i in session.scalars(
                    select(status_change_sources.c.source_id).where(
                        status_change_sources.c.change_id == change.id
                    )
                )
            }
        return (v.split(":")[0], _id(v)) in links
    if owner_type == "event":
        e = session.get(TimelineEvent, owner_id)
        if v.startswith("thread:"):
            return e.thread_id == _id(v)
        return bool(
            session.execute(
                select(event_sources).where(
                    event_sources.c.event_id == owner_id, event_sources.c.source_id == _id(v)
                )
            ).first()
        )
    if owner_type == "authorship":
        return u.startswith("actor:") and v == f"source:{owner_id}"
    raise AssertionError(f"unknown owner {owner_type}")


def _networkx_graph(client) -> nx.MultiDiGraph:  # type: ignore[no-untyped-def]
    return nx.node_link_graph(
        client.get(f"{GRAPH}/export", params={"format": "json"}).json(), edges="edges"
    )


def test_path_from_random_labels_to_dynamical_decoupling(seeded, session_factory):  # type: ignore[no-untyped-def]
    zhang = _source_id(seeded, "zhang-2017-iclr")
    decoupling = _source_id(seeded, "montanari-urbani-2025-neurips-oral")
    response = seeded.get(
        f"{GRAPH}/path", params={"from": f"source:{zhang}", "to": f"source:{decoupling}"}
    )
    assert response.status_code == 200, response.text
    path = response.json()
    g = _networkx_graph(seeded)
    expected = nx.shortest_path_length(g.to_undirected(), f"source:{zhang}", f"source:{decoupling}")
    assert path["length"] == expected == len(path["edges"]) >= 1
    ends = (path["nodes"][0]["id"], path["nodes"][-1]["id"])
    assert ends == (f"source:{zhang}", f"source:{decoupling}")
    with session_factory() as session:
        for edge in path["edges"]:
            assert edge["relation"] and edge["direction"] in ("forward", "backward")
            assert edge_in_database(session, edge), edge


def test_every_graph_edge_is_backed_by_a_row(seeded, session_factory):  # type: ignore[no-untyped-def]
    data = seeded.get(f"{GRAPH}/export", params={"format": "json"}).json()
    assert len(data["edges"]) > 500
    with session_factory() as session:
        missing = [
            e for e in data["edges"] if not edge_in_database(session, {**e, "key": e["key"]})
        ]
    assert missing == []


def test_graphml_export_reads_back(seeded, tmp_path):  # type: ignore[no-untyped-def]
    stats = seeded.get(f"{GRAPH}/stats").json()
    graphml = seeded.get(f"{GRAPH}/export", params={"format": "graphml"})
    assert graphml.headers["content-type"].startswith("application/graphml+xml")
    path = tmp_path / "atlas.graphml"
    path.write_bytes(graphml.content)
    g = nx.read_graphml(path)
    assert (g.number_of_nodes(), g.number_of_edges()) == (stats["nodes"], stats["edges"])
    assert stats["node_types"]["problem"] == 7 and stats["node_types"]["tension"] == 7
    sub = seeded.get(f"{GRAPH}/export", params={"format": "graphml", "node": "problem:1"})
    (tmp_path / "sub.graphml").write_bytes(sub.content)
    small = nx.read_graphml(tmp_path / "sub.graphml")
    assert "problem:1" in small and 1 < small.number_of_nodes() < g.number_of_nodes()


def test_neighbourhood_filters_and_limits(seeded):  # type: ignore[no-untyped-def]
    url = f"{GRAPH}/nodes/problem:1/neighbourhood"
    one = seeded.get(url, params={"k": 1, "limit": 5000}).json()
    two = seeded.get(url, params={"k": 2, "limit": 5000}).json()
    assert {n["id"] for n in one["nodes"]} < {n["id"] for n in two["nodes"]}
    assert max(n["hops"] for n in two["nodes"]) == 2
    claims = seeded.get(url, params={"k": 2, "node_type": "claim", "limit": 5000}).json()
    assert {n["type"] for n in claims["nodes"]} == {"problem", "claim"}
    about = seeded.get(url, params={"k": 1, "relation": "about"}).json()
    assert about["edges"] and {e["relation"] for e in about["edges"]} == {"about"}
    capped = seeded.get(url, params={"k": 2, "limit": 10}).json()
    assert len(capped["nodes"]) == 10 and capped["truncated"] is True
    for params in ({"k": 4}, {"k": 0}, {"limit": 5001}, {"node_type": "planet"}):
        response = seeded.get(url, params=params)
        assert response.status_code == 422, params
    assert seeded.get(f"{GRAPH}/nodes/claim:99999/neighbourhood").status_code == 404
    bad = seeded.get(f"{GRAPH}/nodes/planet:1/neighbourhood")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "path.node"


def test_centrality_and_clusters(seeded):  # type: ignore[no-untyped-def]
    g = _networkx_graph(seeded)
    degree = seeded.get(f"{GRAPH}/centrality", params={"node_type": "claim", "limit": 5}).json()
    assert [n["type"] for n in degree] == ["claim"] * 5
    best = max((n for n in g if n.startswith("claim:")), key=g.degree)
    assert degree[0]["degree"] == g.degree(best)
    assert [n["score"] for n in degree] == sorted((n["score"] for n in degree), reverse=True)
    pagerank = seeded.get(f"{GRAPH}/centrality", params={"measure": "pagerank", "limit": 3}).json()
    expected = nx.pagerank(nx.DiGraph(g))
    assert pagerank[0]["score"] == pytest.approx(max(expected.values()), rel=1e-6)
    components = seeded.get(f"{GRAPH}/clusters", params={"limit": 500}).json()
    assert components["total"] == nx.number_connected_components(nx.Graph(g))
    assert sum(c["size"] for c in components["clusters"]) == g.number_of_nodes()
    communities = seeded.get(f"{GRAPH}/clusters", params={"method": "communities"}).json()
    assert communities["total"] > components["total"]


def test_writes_update_the_graph_without_a_rebuild(seeded):  # type: ignore[no-untyped-def]
    state = seeded.app.state.graph
    before = seeded.get(f"{GRAPH}/stats").json()
    builds = state.builds
    claim = post(seeded, "/claims", {"text": "A fresh claim", "kind": "empirical", "problem_id": 1})
    evidence = post(
        seeded, "/evidence", {"claim_id": claim["id"], "source_id": 1, "relation": "contests"}
    )
    hood = seeded.get(f"{GRAPH}/nodes/claim:{claim['id']}/neighbourhood").json()
    assert {n["id"] for n in hood["nodes"]} == {f"claim:{claim['id']}", "problem:1", "source:1"}
    assert {(e["key"], e["relation"]) for e in hood["edges"]} == {
        (f"claim:{claim['id']}", "about"),
        (f"evidence:{evidence['id']}", "contests"),
    }
    seeded.delete(f"{API}/evidence/{evidence['id']}")
    after = seeded.get(f"{GRAPH}/stats").json()
    assert after["nodes"] == before["nodes"] + 1 and after["edges"] == before["edges"] + 1
    assert state.builds == builds


def test_an_owner_of_one_edge_is_found_again_through_its_anchor() -> None:
    """Owners of one edge keep only a node name (graph._anchor); dropping them must still
    remove exactly their edge, also from a hub, and a second edge turns it into a list."""
    from app.services.graph import DebateGraph

    graph = DebateGraph()
    hub = "claim:1"
    for i in range(1, 6):  # five sources' evidence on one claim: the claim is a hub
        graph._add(f"evidence:{i}", f"source:{i}", hub, "supports")
    graph._add("authorship:3", "actor:9", "source:3", "authored")
    graph._add("claim:1", hub, "problem:1", "about")
    assert graph.owned["evidence:2"] == "source:2"  # the origin, not the hub
    assert graph.owned["authorship:3"] == "source:3"  # the source, not the prolific actor
    assert graph.owned["claim:1"] == hub  # the owner's own node

    graph._drop_owned("evidence:2")
    assert not graph.g.has_edge("source:2", hub)
    assert graph.g.number_of_edges() == 6 and "evidence:2" not in graph.owned
    graph._drop_owned("authorship:3")
    assert not graph.g.has_edge("actor:9", "source:3")
    assert graph.g.has_edge("source:3", hub, "evidence:3")

    # An owner anchored at its own node gains an edge out of that node (a perspective:
    # actor → it, then it → thread): the first edge must still be the one remembered.
    graph._add("perspective:7", "actor:9", "perspective:7", "holds")
    graph._add("perspective:7", "perspective:7", "thread:1", "part_of")
    assert sorted(graph.owned["perspective:7"]) == [
        ("actor:9", "perspective:7", "perspective:7"),
        ("perspective:7", "thread:1", "perspective:7"),
    ]
    graph._drop_owned("perspective:7")
    assert graph.g.degree("perspective:7") == 0

    graph._add("evidence:4", "source:4", "claim:2", "contests")  # a second edge: a list
    assert sorted(graph.owned["evidence:4"]) == [
        ("source:4", hub, "evidence:4"),
        ("source:4", "claim:2", "evidence:4"),
    ]
    graph._drop_owned("evidence:4")
    assert graph.g.out_degree("source:4") == 0
    assert graph.g.number_of_edges() == 4  # evidence 1, 3, 5 and the claim's `about`
