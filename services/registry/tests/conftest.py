"""Registry unit-test fixtures: a migrated SQLite database per test (real Alembic
migrations, common + registry branches; the catalogue comes with the migration as
reference data); no broker."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text

from services.common import migrate
from services.common.db import Database, make_engine


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("registry-template") / "registry.db"
    migrate.upgrade("registry", f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture
def db(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    path = tmp_path / "registry.db"
    shutil.copy(template_db, path)
    database = Database(make_engine(f"sqlite:///{path}"))
    yield database
    database.engine.dispose()
