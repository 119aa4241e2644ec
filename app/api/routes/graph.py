"""/graph: neighbourhoods, paths, centrality, clusters and export of the debate graph.

Nodes are addressed as `type:id` (`source:12`, `claim:3`).
"""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app.api.deps import SessionDep
from app.models.edge import Relation
from app.services import graph_queries as gq
from app.services.graph import NODE_TYPES

router = APIRouter(prefix="/graph", tags=["graph"])

NodeRef = Annotated[str, Path(description="A node as type:id.", examples=["source:17"])]
Hops = Annotated[int, Query(ge=1, le=gq.MAX_HOPS, description="Hops (1–3).", examples=[2])]
NodeLimit = Annotated[
    int, Query(ge=1, le=5000, description="At most this many nodes.", examples=[200])
]
NodeTypeName = Literal[
    "problem",
    "work",
    "source",
    "actor",
    "claim",
    "perspective",
    "tension",
    "event",
    "thread",
    "run",
]
_NODE = {"id": "claim:3", "type": "claim", "label": "Networks fit random labels"}
_EDGE = {
    "source": "source:5",
    "target": "claim:3",
    "relation": "supports",
    "key": "evidence:7",
}


def _example(value: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": value}}}}


EXAMPLE_NEIGHBOURHOOD = _example(
    {
        "center": "claim:3",
        "k": 1,
        "nodes": [{**_NODE, "hops": 0}],
        "edges": [_EDGE],
        "truncated": False,
    }
)
EXAMPLE_PATH = _example(
    {
        "from": "source:5",
        "to": "claim:3",
        "directed": False,
        "length": 1,
        "nodes": [_NODE],
        "edges": [{**_EDGE, "direction": "forward"}],
    }
)
EXAMPLE_CENTRALITY = _example([{**_NODE, "score": 0.012, "degree": 14}])
EXAMPLE_CLUSTERS = _example(
    {
        "method": "components",
        "total": 1,
        "clusters": [{"cluster": 0, "size": 420, "types": {"claim": 87}, "members": [_NODE]}],
    }
)
assert set(NodeTypeName.__args__) == set(NODE_TYPES)  # type: ignore[attr-defined]


def _graph(request: Request, session: Any) -> Any:
    return request.app.state.graph.reading(session)


def _json(data: Any) -> Response:
    # Plain json.dumps: graph answers are already JSON types, the generic encoder is slow.
    return Response(content=json.dumps(data), media_type="application/json")


@router.get(
    "/nodes/{node}/neighbourhood",
    summary="Neighbourhood of a node",
    description="Nodes within k hops (following edges both ways by default, or only `out` / "
    "`in`), optionally only over some relations and through some node types, at most "
    "`limit` nodes (`truncated` says when more were in reach), with the typed edges the "
    "search walked: every allowed edge between a node found and a node less than k hops "
    "from the centre.",
    responses=EXAMPLE_NEIGHBOURHOOD,
)
def get_neighbourhood(
    request: Request,
    session: SessionDep,
    node: NodeRef,
    k: Hops = 1,
    relation: Annotated[
        list[Relation] | None,
        Query(description="Keep only these relations.", examples=[["supports", "contests"]]),
    ] = None,
    node_type: Annotated[
        list[NodeTypeName] | None, Query(description="Keep only these types.", examples=[["claim"]])
    ] = None,
    direction: Annotated[Literal["both", "out", "in"], Query(examples=["both"])] = "both",
    limit: NodeLimit = 200,
) -> Response:
    with _graph(request, session) as g:
        center = gq.parse_node(g, node, "path.node")
        result = gq.neighbourhood(
            g,
            center,
            k,
            {r.value for r in relation or []} or None,
            set(node_type or []) or None,
            limit,
            direction,
        )
    return _json(result)


@router.get(
    "/path",
    summary="Shortest path between two nodes",
    description="The shortest chain of typed edges from one node to another; undirected by "
    "default (each edge says whether it was walked forward or backward).",
    responses=EXAMPLE_PATH,
)
def get_path(
    request: Request,
    session: SessionDep,
    from_: Annotated[str, Query(alias="from", description="Start node.", examples=["source:5"])],
    to: Annotated[str, Query(description="End node.", examples=["source:4"])],
    directed: Annotated[bool, Query(description="Follow edge directions.")] = False,
) -> Response:
    with _graph(request, session) as g:
        a, b = gq.parse_node(g, from_, "query.from"), gq.parse_node(g, to, "query.to")
        result = gq.shortest_path(g, a, b, directed)
    return _json(result)


@router.get(
    "/centrality",
    summary="Most central nodes",
    description="Nodes ranked by degree or PageRank, optionally of one type.",
    responses=EXAMPLE_CENTRALITY,
)
def get_centrality(
    request: Request,
    session: SessionDep,
    node_type: Annotated[NodeTypeName | None, Query(examples=["claim"])] = None,
    measure: Annotated[Literal["degree", "pagerank"], Query(examples=["pagerank"])] = "degree",
    limit: Annotated[int, Query(ge=1, le=500, examples=[20])] = 20,
) -> list[dict[str, Any]]:
    with _graph(request, session) as g:
        return gq.centrality(g, request.app.state.graph.cache, node_type, measure, limit)


@router.get(
    "/clusters",
    summary="Clusters of the debate",
    description="Connected components, or communities found by Louvain modularity "
    "(networkx, seed 0), largest first, with their most connected members.",
    responses=EXAMPLE_CLUSTERS,
)
def get_clusters(
    request: Request,
    session: SessionDep,
    method: Annotated[
        Literal["components", "communities"], Query(examples=["communities"])
    ] = "components",
    min_size: Annotated[int, Query(ge=1, examples=[2])] = 1,
    limit: Annotated[int, Query(ge=1, le=500, examples=[10])] = 20,
    members: Annotated[
        int, Query(ge=0, le=500, description="Members listed per cluster.", examples=[10])
    ] = 10,
) -> dict[str, Any]:
    with _graph(request, session) as g:
        return gq.clusters(g, request.app.state.graph.cache, method, min_size, limit, members)


@router.get(
    "/export",
    summary="Export the graph",
    description="The whole graph, or the neighbourhood of `node` within `k` hops, as GraphML "
    "or node-link JSON (networkx formats).",
    responses={
        200: {
            "content": {
                "application/graphml+xml": {"example": "<graphml/>"},
                "application/json": {"example": {"nodes": [], "edges": []}},
            }
        },
    },
)
def get_export(
    request: Request,
    session: SessionDep,
    format: Annotated[Literal["graphml", "json"], Query(examples=["graphml"])] = "graphml",
    node: Annotated[
        str | None, Query(description="Centre of a subgraph.", examples=["claim:3"])
    ] = None,
    k: Hops = 1,
) -> Response:
    with _graph(request, session) as g:
        graph = g
        if node is not None:
            center = gq.parse_node(g, node, "query.node")
            graph = gq.subgraph(g, gq.neighbourhood(g, center, k, None, None, 10**9))
        body, media = gq.export(graph, format)
    return Response(content=body, media_type=media)


@router.get(
    "/stats",
    summary="Size of the graph",
    description="Node counts per type and edge counts per relation.",
    responses={200: {"content": {"application/json": {"example": {"nodes": 10, "edges": 20}}}}},
)
def get_stats(request: Request, session: SessionDep) -> dict[str, Any]:
    from collections import Counter

    with _graph(request, session) as g:
        return {
            "nodes": g.number_of_nodes(),
            "edges": g.number_of_edges(),
            "node_types": dict(Counter(d["type"] for _, d in g.nodes(data=True))),
            "relations": dict(Counter(d["relation"] for *_, d in g.edges(data=True))),
        }
