"""Request-scoped dependencies: one session per request."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from app.models.common import MAX_ID


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Async so that FastAPI does not send it through the thread pool twice per request
    (making a Session does no I/O; the endpoint itself still runs in the pool)."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).", examples=[50])]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.", examples=[0])]
Sort = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated fields; prefix with '-' for descending.",
        examples=["-created_at"],
    ),
]
Cascade = Annotated[
    bool,
    Query(description="Also delete the rows that depend on this one (otherwise 409 lists them)."),
]
