"""The ASGI application: app factory, routers and error handlers."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.routes import (
    actors,
    claims,
    edges,
    events,
    experiments,
    graph,
    health,
    inbox,
    intake,
    perspectives,
    problems,
    search,
    sources,
    tensions,
    threads,
    versions,
    watches,
    works,
)
from app.core.auth import AUTH_RESPONSES, CSRF_HEADER, authorize
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker, plan_with_statistics, write_intent
from app.core.errors import install_error_handlers
from app.core.fast_read import DirectReads, sqlite_reader
from app.core.guard import RequestGuard
from app.core.migrations import check_schema
from app.core.read_cache import DataVersion, ReadCache
from app.jobs.embedded import EmbeddedRunner
from app.jobs.scheduler import WatchScheduler
from app.services.graph import DebateGraph
from app.services.sources import SOURCES
from app.web import browse, debate, graph_view, login
from app.web import experiments as experiment_pages
from app.web import inbox as inbox_pages
from app.web.common import install_page_errors

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).parent / "web" / "static"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteIntentMiddleware:
    """Marks reads so that SQLite opens them with a deferred (non-locking) BEGIN."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = write_intent.set(scope["method"] not in READ_METHODS)
        try:
            await self.app(scope, receive, send)
        finally:
            write_intent.reset(token)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_schema(app.state.engine, settings)
        # Synchronous handlers run in this many threads. Python work holds the GIL, so more
        # threads add no speed; they add peak memory (each computes a large answer at once).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.sync_threads
        app.state.health_threads = anyio.CapacityLimiter(1)  # made on this event loop
        plan_with_statistics(app.state.engine)
        app.state.sqlite_reader = sqlite_reader(app.state.engine)
        runner: Any = None
        if settings.job_runner == "embedded":
            runner = EmbeddedRunner(settings, app.state.sessionmaker)
        elif settings.job_runner == "dramatiq":
            from app.jobs.dramatiq_runner import DramatiqRunner  # imports dramatiq, redis

            runner = DramatiqRunner(settings, app.state.sessionmaker)
        if runner is not None:
            app.state.runner = runner
            runner.start()
        scheduler = None
        if settings.watch_scheduler:
            scheduler = WatchScheduler(
                settings,
                app.state.sessionmaker,
                getattr(app.state, "watch_transport", None),
                getattr(app.state, "watch_sleep", time.sleep),
            )
            scheduler.start()
        yield
        if scheduler is not None:
            scheduler.stop()
        if runner is not None:
            runner.stop()
        app.state.data_version.close()
        if app.state.sqlite_reader is not None:
            app.state.sqlite_reader.close()
        app.state.engine.dispose()

    app: Any = FastAPIOffline(
        # ReDoc's bundle fetches a logo from a CDN; the Swagger UI at /docs needs nothing.
        redoc_url=None,
        title="Theory Atlas",
        version="0.1.0",
        description=(
            "Tracks the debate on why deep learning generalizes: open problems, sources, "
            "claims, perspectives, tensions, and how they change over time."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.graph = DebateGraph()
    install_error_handlers(app)
    install_page_errors(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.data_version = DataVersion(app.state.engine)
    app.state.sqlite_reader = None  # opened by the lifespan, once the schema is checked

    def reads_are_public() -> bool:  # read per request: tests and admins may change it
        return not app.state.settings.read_requires_token

    app.add_middleware(WriteIntentMiddleware)
    app.add_middleware(
        ReadCache,
        version=app.state.data_version,
        max_bytes=settings.read_cache_mb * 1_000_000,
        enabled=reads_are_public,
    )
    app.add_middleware(
        DirectReads,
        state=app.state,
        readers={r.plural: r.fast_get for r in (SOURCES,) if r.fast_get is not None},
        prefix=API_PREFIX,
        enabled=reads_are_public,
    )
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
        )

    guarded = [Depends(authorize)]
    app.include_router(health.router)
    app.include_router(login.router)
    for pages in (debate, browse, experiment_pages, graph_view, inbox_pages):
        app.include_router(pages.router, dependencies=guarded)  # errors: PAGE_ERRORS
    for router in (
        problems.router,
        intake.router,
        works.router,
        sources.router,
        sources.works_router,
        actors.router,
        claims.router,
        claims.evidence_router,
        perspectives.router,
        tensions.router,
        events.router,
        threads.router,
        versions.router,
        watches.router,
        inbox.router,
        edges.router,
        graph.router,
        search.router,
        experiments.router,
    ):
        app.include_router(
            router, prefix=API_PREFIX, responses=AUTH_RESPONSES, dependencies=guarded
        )
    return app


app = create_app()
