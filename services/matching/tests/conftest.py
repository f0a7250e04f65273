"""Matching unit-test fixtures: a migrated SQLite database per test, no broker.

The schema comes from the real Alembic migrations (common + matching branches),
applied once per run to a template file that each test copies.
"""
from __future__ import annotations

import pytest

from services.common.testing import copy_template, migrated_sqlite_template
from services.common.db import Database, make_engine


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    return migrated_sqlite_template("matching", tmp_path_factory.mktemp("matching-template"))


@pytest.fixture
def db(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    path = copy_template(template_db, tmp_path)
    database = Database(make_engine(f"sqlite:///{path}"))
    yield database
    database.engine.dispose()
