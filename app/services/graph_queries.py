"""Questions asked of the debate graph: neighbourhoods, paths, centrality, clusters, export."""

import io
import itertools
import json
import re
from collections import Counter, deque
from typing import Any

import networkx as nx

from app.core.errors import InvalidInput, NotFound
from app.services.graph import NODE_TYPES

NODE_RE = re.compile(rf"^({'|'.join(NODE_TYPES)}):(\d+)$")
MAX_HOPS = 3


def parse_node(g: nx.MultiDiGraph, ref: str, field: str) -> str:
    m = NODE_RE.match(ref.strip())
    if not m:
        raise InvalidInput(
            f"{field}: '{ref}' is not a node id; write type:id with type one of "
            f"{', '.join(NODE_TYPES)} (e.g. source:12)",
            field=field,
        )
    node = f"{m.group(1)}:{int(m.group(2))}"
    if node not in g:
        raise NotFound(f"node {node} does not exist", field=field)
    return node


def node_out(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    d = g.nodes[node]
    return {"id": node, "type": d["type"], "label": d.get("label", node)}


def _edge_out(u: str, v: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"source": u, "target": v, "relation": data["relation"], "key": key}


def _incident(g: nx.MultiDiGraph, node: str, direction: str) -> Any:
    if direction in ("out", "both"):
        for _, v, key, data in g.out_edges(node, keys=True, data=True):
            yield node, v, key, data, v
    if direction in ("in", "both"):
        for u, _, key, data in g.in_edges(node, keys=True, data=True):
            yield u, node, key, data, u


def neighbourhood(
    g: nx.MultiDiGraph,
    center: str,
    k: int,
    relations: set[str] | None,
    node_types: set[str] | None,
    limit: int,
    direction: str = "both",
) -> dict[str, Any]:
    """Breadth-first up to k hops over allowed relations and node types, at most `limit` nodes."""
    depth = {center: 0}
    queue = deque([center])
    edges: dict[str, dict[str, Any]] = {}
    truncated = False
    while queue:
        node = queue.popleft()
        if depth[node] >= k:
            continue
        for u, v, key, data, other in _incident(g, node, direction):
            if relations and data["relation"] not in relations:
                continue
            if node_types and g.nodes[other]["type"] not in node_types:
                continue
            if other not in depth:
                if len(depth) >= limit:
                    truncated = True
                    continue
                depth[other] = depth[node] + 1
                queue.append(other)
            edges[f"{u}|{v}|{key}"] = _edge_out(u, v, key, data)
    nodes = [{**node_out(g, n), "hops": h} for n, h in depth.items()]
    return {
        "center": center,
        "k": k,
        "nodes": nodes,
        "edges": list(edges.values()),
        "truncated": truncated,
    }


def shortest_path(g: nx.MultiDiGraph, a: str, b: str, directed: bool) -> dict[str, Any]:
    view = g if directed else g.to_undirected(as_view=True)
    try:
        nodes = nx.shortest_path(view, a, b)
    except nx.NetworkXNoPath:
        raise NotFound(
            f"no {'directed ' if directed else ''}path from {a} to {b}", field="query.to"
        ) from None
    steps = []
    for u, v in itertools.pairwise(nodes):
        if g.has_edge(u, v):
            key, data = next(iter(g[u][v].items()))
            steps.append({**_edge_out(u, v, key, data), "direction": "forward"})
        else:
            key, data = next(iter(g[v][u].items()))
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
        else:
            groups = nx.community.louvain_communities(undirected, seed=0)
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
    return {"method": method, "total": len(found), "clusters": out}


def _exportable(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose attributes GraphML can hold (no None, no private fields)."""
    out = nx.MultiDiGraph()
    for n, d in g.nodes(data=True):
        out.add_node(n, **{k: v for k, v in d.items() if v is not None and not k.startswith("_")})
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
