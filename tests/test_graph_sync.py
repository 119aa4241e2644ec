"""The live graph, updated write by write, always equals a graph built fresh from the rows."""

from app.services.graph import DebateGraph
from app.services.graph_queries import export
from tests.helpers import API, make_graph, post

GRAPH = f"{API}/graph"


def _shape(g) -> tuple[set, set]:  # type: ignore[no-untyped-def]
    nodes = {(n, d["type"], d.get("label")) for n, d in g.nodes(data=True)}
    edges = {(u, v, k, d["relation"]) for u, v, k, d in g.edges(keys=True, data=True)}
    return nodes, edges


def assert_graph_current(client, session_factory) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"{GRAPH}/stats").status_code == 200  # makes the live graph sync
    live = client.app.state.graph
    fresh = DebateGraph()
    with session_factory() as session, fresh.reading(session) as fresh_graph:
        with live.reading(session) as live_graph:
            live_nodes, live_edges = _shape(live_graph)
        fresh_nodes, fresh_edges = _shape(fresh_graph)
    assert live_edges == fresh_edges
    assert live_nodes == fresh_nodes


def test_every_kind_of_write_reaches_the_graph(client, session_factory):  # type: ignore[no-untyped-def]
    g = make_graph(client)
    client.get(f"{GRAPH}/stats")  # build before the writes
    builds = client.app.state.graph.builds
    check = lambda: assert_graph_current(client, session_factory)  # noqa: E731

    edge = post(
        client,
        "/edges",
        {
            "from_type": "claim",
            "from_id": g["claim"],
            "relation": "about",
            "to_type": "tension",
            "to_id": g["tension"],
        },
    )
    check()
    client.patch(f"{API}/edges/{edge['id']}", json={"relation": "responds_to"})
    check()
    client.delete(f"{API}/edges/{edge['id']}")
    check()
    other = post(client, "/sources", {"title": "Other", "authors": ["Vitaly Feldman"]})
    check()  # authorship by name
    client.patch(f"{API}/actors/{g['actor']}", json={"name": "Someone Else"})
    check()  # renamed: no longer the author
    client.patch(f"{API}/actors/{g['actor']}", json={"name": "Vitaly Feldman", "problem_ids": []})
    check()
    client.patch(f"{API}/sources/{other['id']}", json={"authors": [], "title": "Renamed"})
    check()
    post(client, f"/threads/{g['thread']}/items", {"source_id": other["id"]})
    check()
    client.post(
        f"{API}/tensions/{g['tension']}/status",
        json={"status": "narrowing", "reason": "r", "source_ids": [other["id"]]},
    )
    check()
    client.patch(
        f"{API}/tensions/{g['tension']}",
        json={"sides": [{"label": "only", "claim_ids": [g["claim"]], "source_ids": [other["id"]]}]},
    )
    check()
    client.patch(
        f"{API}/perspectives/{g['perspective']}",
        json={"source_ids": [other["id"]], "claim_ids": []},
    )
    check()
    # A perspective owns several edges (actor → it, it → thread, …): moving it to another
    # actor must drop the old actor's edge.
    someone = post(client, "/actors", {"name": "Another Holder"})
    client.patch(f"{API}/perspectives/{g['perspective']}", json={"actor_id": someone["id"]})
    check()
    client.patch(f"{API}/events/{g['event']}", json={"source_ids": [other["id"], g["source"]]})
    check()
    client.patch(f"{API}/claims/{g['claim']}", json={"problem_id": None})
    check()
    client.post(f"{API}/works/merge", json={"work_ids": [g["work"], other["work_id"]]})
    check()
    client.delete(f"{API}/threads/{g['thread']}/items/{other['id']}")
    check()
    client.delete(f"{API}/sources/{g['source']}", params={"cascade": True})
    check()
    client.delete(f"{API}/problems/{g['problem']}", params={"cascade": True})
    check()
    assert client.app.state.graph.builds == builds


def test_direction_and_filters(client):  # type: ignore[no-untyped-def]
    g = make_graph(client)
    url = f"{GRAPH}/nodes/claim:{g['claim']}/neighbourhood"
    out = {n["id"] for n in client.get(url, params={"direction": "out"}).json()["nodes"]}
    into = {n["id"] for n in client.get(url, params={"direction": "in"}).json()["nodes"]}
    assert f"problem:{g['problem']}" in out and f"problem:{g['problem']}" not in into
    assert f"source:{g['source']}" in into and f"source:{g['source']}" not in out
    assert client.get(url, params={"relation": "bogus"}).status_code == 422


def test_odd_node_ids(client):  # type: ignore[no-untyped-def]
    make_graph(client)
    for ref in (
        "source:",
        ":1",
        "SOURCE:1",
        "source:01",
        "source:-1",
        "source: 1",
        "source:%D9%A1",
        "source:%EF%BC%91",
        "source:" + "1" * 5000,
    ):
        response = client.get(f"{GRAPH}/nodes/{ref}/neighbourhood")
        assert response.status_code == 422, ref
    assert client.get(f"{GRAPH}/nodes/source:2147483647/neighbourhood").status_code == 404
    huge = client.get(f"{GRAPH}/path", params={"from": "source:" + "9" * 5000, "to": "source:1"})
    assert huge.status_code == 422


def test_graphml_export_survives_control_characters() -> None:
    import io

    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_node("problem:1", type="problem", id=1, label="Control \x01 char")
    body, _media = export(g, "graphml")
    back = nx.read_graphml(io.StringIO(body))
    assert back.nodes["problem:1"]["label"] == "Control \ufffd char"
