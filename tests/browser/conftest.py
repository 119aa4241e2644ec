"""Browser tests: the service as a real uvicorn process on a seeded SQLite database, driven
by Playwright through Debian's Chromium (helpers in support.py)."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.core import migrations
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.services import tokens
from app.services.seed import load_seed
from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Site,
    Watch,
    file_inbox_items,
    watched_context,
)
from tests.servers import api_server


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A migrated, seeded database with a write token, served by uvicorn."""
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'atlas.db'}",
        "ENVIRONMENT": "test",
        "PLOTS_DIR": str(tmp / "plots"),
        "JOB_RUNNER": "embedded",
    }
    settings = Settings(database_url=env["DATABASE_URL"], environment="test")
    migrations.upgrade(settings)
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session:
        load_seed(session, settings.seeds_dir)
        token = tokens.create(session, "browser tests", ["write"])
        file_inbox_items(session)
        session.commit()
    engine.dispose()
    with api_server(env["DATABASE_URL"], **env) as base:
        yield Site(base=base, token=token)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Browser, site: Site, watch: Watch) -> Iterator[Page]:
    context = watched_context(browser, site, watch)
    yield context.new_page()
    context.close()
    watch.check()
