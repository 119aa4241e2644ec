"""/search: ranked full-text search with highlighted snippets."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from app.api.deps import SessionDep
from app.services.search import search_weighted

router = APIRouter(tags=["search"])


@router.get(
    "/search",
    summary="Full-text search",
    description="Ranked search over sources (title, abstract, authors, venue, notes), claims, "
    "perspectives and tensions. Every word must match (if nothing does, any word may); "
    "quotes, `*`, `NEAR` and brackets are read as plain text. Copies of one work are "
    "collapsed into one hit. Relevance is weighted by how connected the item is in the debate "
    "graph. Snippets mark matches with `<mark>`; the rest is HTML-escaped.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "query": "memorization",
                        "words": ["memorization"],
                        "matched": "all",
                        "limit": 20,
                        "offset": 0,
                        "items": [
                            {
                                "type": "tension",
                                "id": 2,
                                "score": 8.0,
                                "relevance": 3.2,
                                "title_snippet": "Is <mark>memorization</mark> necessary?",
                                "snippet": "…",
                            }
                        ],
                    }
                }
            }
        }
    },
)
def get_search(
    request: Request,
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            min_length=1, max_length=500, description="Words to find.", examples=["memorization"]
        ),
    ],
    type: Annotated[
        Literal["source", "claim", "perspective", "tension"] | None,
        Query(description="Only this kind of result.", examples=["tension"]),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, examples=[20])] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000, examples=[0])] = 0,
) -> dict[str, Any]:
    return search_weighted(request.app.state.graph, session, q, type, limit, offset)
