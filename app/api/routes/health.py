"""/health and /ping: is the service up, and is the database reachable?"""

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


def _database_answers(engine: Any) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get(
    "/health",
    summary="Service and database health",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "database": "ok"}}}},
        503: {"description": "Database unreachable"},
    },
)
async def health(request: Request) -> Any:
    engine = request.app.state.engine
    try:
        # A thread of its own (app.state.health_threads): behind SYNC_THREADS busy handlers
        # (slow look-ups, a graph being built) the check would time out and the container
        # be restarted for nothing.
        await anyio.to_thread.run_sync(
            _database_answers, engine, limiter=request.app.state.health_threads
        )
    except Exception as exc:  # any driver error means "unreachable" here
        return JSONResponse(
            status_code=503,
            content={"status": "degraded", "database": "unreachable", "detail": type(exc).__name__},
        )
    return {"status": "ok", "database": "ok", "backend": engine.dialect.name}


@router.get(
    "/ping",
    summary="Liveness (no database)",
    description="Answers at once without touching the database: a liveness probe, and the "
    "constant-response baseline the read benchmarks compare against.",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def ping() -> dict[str, str]:
    return {"status": "ok"}
