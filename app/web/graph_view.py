"""The graph view: a node's neighbourhood drawn as SVG by the server, every node a link to
its page, with a form to change the centre, the hops and the relations followed."""

from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy import select

from app.api.deps import SessionDep
from app.models import Problem
from app.models.edge import Relation
from app.services import graph_queries as gq
from app.web.common import html_router, render
from app.web.graph_svg import STYLE, layout, shape_points

router = html_router()
MAX_DRAWN = 120  # more nodes than this make an unreadable picture; the table lists them all


def _default_centre(session: SessionDep) -> str | None:
    first = session.scalar(select(Problem.id).order_by(Problem.number, Problem.id).limit(1))
    return f"problem:{first}" if first is not None else None


@router.get(
    "/graph",
    summary="Graph view (HTML)",
    description="A node's neighbourhood in the debate graph as an SVG picture: node types "
    "told apart by shape and colour, supporting and contesting edges by colour and dash, "
    "each node linked to its page, and a table of the same nodes. Defaults to the first "
    "problem, one hop.",
)
def graph_page(
    request: Request,
    session: SessionDep,
    node: Annotated[str | None, Query(max_length=60, examples=["claim:1"])] = None,
    k: Annotated[int, Query(ge=1, le=gq.MAX_HOPS, description="Hops (1–3)")] = 1,
    relation: Annotated[list[Relation] | None, Query(description="Follow only these")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DRAWN, description="At most this many nodes")] = 60,
) -> Any:
    centre_ref = node or _default_centre(session)
    context: dict[str, Any] = {
        "node": centre_ref or "",
        "k": k,
        "limit": limit,
        "chosen": {r.value for r in relation or []},
        "relations": [r.value for r in Relation],
        "legend": [
            (t, colour, shape_points(shape, 10, 10, 8)) for t, (shape, colour) in STYLE.items()
        ],
        "result": None,
    }
    if centre_ref is not None:
        with request.app.state.graph.reading(session) as g:
            centre = gq.parse_node(g, centre_ref, "query.node")
            result = gq.neighbourhood(g, centre, k, context["chosen"] or None, None, limit)
        nodes, edges, size = layout(result)
        context.update(result=result, nodes=nodes, edges=edges, size=size, centre=nodes[0])
    return render(request, "graph.html", context)
