"""Experiment tests are pure computation: they run once, in the SQLite pass of the suite
(deselected when ATLAS_TEST_BACKEND is another database)."""

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ATLAS_TEST_BACKEND", "sqlite") == "sqlite":
        return
    here = os.path.dirname(__file__)
    chosen = [i for i in items if not str(i.path).startswith(here)]
    if len(chosen) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen
