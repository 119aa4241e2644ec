"""Migrations build the schema on an empty database and take it down again."""

from sqlalchemy import inspect

from app.core import migrations
from app.core.db import make_engine
from app.models import Base
from tests.conftest import make_database


def test_upgrade_and_downgrade_on_empty_database(tmp_path):  # type: ignore[no-untyped-def]
    settings, drop = make_database(tmp_path)
    engine = make_engine(settings)
    try:
        assert migrations.current_revision(engine) is None
        migrations.upgrade(settings)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert migrations.current_revision(engine) == migrations.head_revision(settings)
        migrations.downgrade(settings, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert migrations.current_revision(engine) is None
        migrations.upgrade(settings)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
        drop()


def test_app_refuses_an_outdated_schema(tmp_path):  # type: ignore[no-untyped-def]
    import pytest
    from fastapi.testclient import TestClient

    from app.main import create_app

    settings, drop = make_database(tmp_path)
    try:
        with (
            pytest.raises(migrations.SchemaOutOfDate, match="atlas db upgrade"),
            TestClient(create_app(settings)),
        ):
            pass
    finally:
        drop()
