"""Questions asked of the debate graph: neighbourhoods, paths, centrality, clusters, export."""

import io
import itertools
import json
import re
from collections import Counter
from typing import Any

import networkx as nx

from app.core.errors import InvalidInput, NotFound
from app.services.graph import NODE_TYPES

# ASCII digits only, no leading zeros, at most ten of them (ids are 32-bit).
NODE_RE = re.compile(rf"^({'|'.join(NODE_TYPES)}):([1-9][0-9]{{0,9}})$")
LOUVAIN_MAX_NODES = 20_000
MAX_HOPS = 3


def parse_node(g: nx.MultiDiGraph, ref: str, field: str) -> str:
    m = NODE_RE.match(ref)
    if not m:
        raise InvalidInput(
            f"{field}: '{ref}' is not a node id; write type:id with type one of "
            f"{', '.join(NODE_TYPES)} (e.g. source:12)",
            field=field,
        )
    node = f"{m.group(1)}:{m.group(2)}"
    if node not in g:
        raise NotFound(f"node {node} does not exist", field=field)
    return node


def node_out(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    d = g.nodes[node]
    return {"id": node, "type": d["type"], "label": d.get("label", node)}


def _edge_out(u: str, v: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"source": u, "target": v, "relation": data["relation"], "key": key}


def neighbourhood(
    g: nx.MultiDiGraph,
    center: str,
    k: int,
    relations: set[str] | None,
    node_types: set[str] | None,
    limit: int,
    direction: str = "both",
) -> dict[str, Any]:
    """Breadth-first up to k hops over allowed relations and node types, at most `limit` nodes,
    with the edges the search walked.

    Reads networkx's adjacency dicts directly (g._succ / g._pred): hubs in a citation graph
    have tens of thousands of edges, and the public views cost several times more per edge.
    """
    adjacency = (
        [g._succ, g._pred] if direction == "both" else [g._succ if direction == "out" else g._pred]
    )
    depth = {center: 0}
    frontier = [center]
    truncated = False
    for hop in range(1, k + 1):
        following: list[str] = []
        for node in frontier:
            for adj in adjacency:
                for other, keydict in adj[node].items():
                    if other in depth:
                        continue
                    if node_types and other.partition(":")[0] not in node_types:
                        continue
                    if relations and not any(a["relation"] in relations for a in keydict.values()):
                        continue
                    if len(depth) >= limit:
                        truncated = True
                        break
                    depth[other] = hop
                    following.append(other)
                if truncated:
                    break
            if truncated:
                break
        frontier = following
        if truncated or not frontier:
            break
    # Edges walked by the search: those with an end inside the k-1 ring and the other end
    # among the nodes found. Per node, scan whichever is smaller: its edges or the nodes found.
    seen: set[tuple[str, str, str]] = set()
    edges = []
    for u, hops in depth.items():
        if hops >= k:
            continue
        for adj, outgoing in ((g._succ, True), (g._pred, False)):
            row = adj[u]
            pairs = (
                ((v, kd) for v, kd in row.items() if v in depth)
                if len(row) <= len(depth)
                else ((v, row[v]) for v in depth if v in row)
            )
            for v, keydict in pairs:
                a, b = (u, v) if outgoing else (v, u)
                for key, attr in keydict.items():
                    if (relations is None or attr["relation"] in relations) and (
                        (a, b, key) not in seen
                    ):
                        seen.add((a, b, key))
                        edges.append(
                            {"source": a, "target": b, "relation": attr["relation"], "key": key}
                        )
    nodes = [{**node_out(g, n), "hops": h} for n, h in depth.items()]
    return {"center": center, "k": k, "nodes": nodes, "edges": edges, "truncated": truncated}


def _undirected_path(g: nx.MultiDiGraph, a: str, b: str) -> list[str] | None:
    """Bidirectional breadth-first search treating every edge as two-way."""
    if a == b:
        return [a]
    succ, pred = g._succ, g._pred
    parents: list[dict[str, str | None]] = [{a: None}, {b: None}]
    frontiers = [[a], [b]]
    while frontiers[0] and frontiers[1]:
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        mine, theirs = parents[side], parents[1 - side]
        following = []
        for node in frontiers[side]:
            for other in itertools.chain(succ[node], pred[node]):
                if other in mine:
                    continue
                mine[other] = node
                if other in theirs:
                    return _join(parents, other)
                following.append(other)
        frontiers[side] = following
    return None


def _join(parents: list[dict[str, str | None]], meet: str) -> list[str]:
    left: list[str] = []
    node: str | None = meet
    while node is not None:
        left.append(node)
        node = parents[0][node]
    right: list[str] = []
    node = parents[1][meet]
    while node is not None:
        right.append(node)
        node = parents[1][node]
    return left[::-1] + right


def shortest_path(g: nx.MultiDiGraph, a: str, b: str, directed: bool) -> dict[str, Any]:
    if directed:
        try:
            nodes: list[str] | None = nx.bidirectional_shortest_path(g, a, b)
        except nx.NetworkXNoPath:
            nodes = None
    else:
        nodes = _undirected_path(g, a, b)
    if nodes is None:
        kind = "directed " if directed else ""
        raise NotFound(f"no {kind}path from {a} to {b}", field="query.to")
    steps = []
    for u, v in itertools.pairwise(nodes):
        if g.has_edge(u, v):
            key, data = next(iter(g._succ[u][v].items()))
            steps.append({**_edge_out(u, v, key, data), "direction": "forward"})
        else:
            key, data = next(iter(g._succ[v][u].items()))
            steps.append({**_edge_out(v, u, key, data), "direction": "backward"})
    return {
        "from": a,
        "to": b,
        "directed": directed,
        "length": len(steps),
        "nodes": [node_out(g, n) for n in nodes],
        "edges": steps,
    }


def centrality(
    g: nx.MultiDiGraph, cache: dict[Any, Any], node_type: str | None, measure: str, limit: int
) -> list[dict[str, Any]]:
    if measure == "pagerank":
        if "pagerank" not in cache:
            cache["pagerank"] = nx.pagerank(nx.DiGraph(g), alpha=0.85)
        scores = cache["pagerank"]
    else:
        scores = dict(g.degree())
    candidates = (n for n in g if node_type is None or g.nodes[n]["type"] == node_type)
    ranked = sorted(candidates, key=lambda n: (-scores.get(n, 0), n))[:limit]
    return [{**node_out(g, n), "score": scores.get(n, 0), "degree": g.degree(n)} for n in ranked]


def clusters(
    g: nx.MultiDiGraph, cache: dict[Any, Any], method: str, min_size: int, limit: int, members: int
) -> dict[str, Any]:
    if method not in cache:
        undirected = nx.Graph(g)
        if method == "components":
            groups = list(nx.connected_components(undirected))
        elif undirected.number_of_nodes() <= LOUVAIN_MAX_NODES:
            groups = nx.community.louvain_communities(undirected, seed=0)
        else:
            # Louvain takes tens of seconds beyond this size; label propagation is linear.
            groups = list(nx.community.label_propagation_communities(undirected))
        cache[method] = sorted((sorted(c) for c in groups), key=lambda c: (-len(c), c[0]))
    found = [c for c in cache[method] if len(c) >= min_size]
    out = []
    for index, group in enumerate(found[:limit]):
        ranked = sorted(group, key=lambda n: (-g.degree(n), n))
        out.append(
            {
                "cluster": index,
                "size": len(group),
                "types": dict(Counter(g.nodes[n]["type"] for n in group)),
                "members": [node_out(g, n) for n in ranked[:members]],
            }
        )
    algorithm = (
        "connected components"
        if method == "components"
        else "louvain"
        if g.number_of_nodes() <= LOUVAIN_MAX_NODES
        else "label propagation"
    )
    return {"method": method, "algorithm": algorithm, "total": len(found), "clusters": out}


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value: Any) -> Any:
    return _XML_INVALID.sub("\ufffd", value) if isinstance(value, str) else value


def _exportable(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose attributes GraphML can hold (no None, no private fields, no characters
    XML 1.0 forbids)."""
    out = nx.MultiDiGraph()
    for n, d in g.nodes(data=True):
        out.add_node(
            n, **{k: _xml_safe(v) for k, v in d.items() if v is not None and not k.startswith("_")}
        )
    for u, v, key, d in g.edges(keys=True, data=True):
        out.add_edge(u, v, key=key, **d)
    return out


def export(g: nx.MultiDiGraph, fmt: str) -> tuple[str, str]:
    graph = _exportable(g)
    if fmt == "graphml":
        buffer = io.BytesIO()
        nx.write_graphml(graph, buffer)
        return buffer.getvalue().decode("utf-8"), "application/graphml+xml"
    data = nx.node_link_data(graph, edges="edges")
    return json.dumps(data), "application/json"


def subgraph(g: nx.MultiDiGraph, result: dict[str, Any]) -> nx.MultiDiGraph:
    keep = {n["id"] for n in result["nodes"]}
    sub = nx.MultiDiGraph()
    for n in keep:
        sub.add_node(n, **g.nodes[n])
    for e in result["edges"]:
        sub.add_edge(e["source"], e["target"], key=e["key"], relation=e["relation"])
    return sub
