"""Booking test fixtures: a migrated SQLite database per test (copied from a template), no broker."""
from __future__ import annotations

import pytest

from services.common.db import Database, make_engine
from services.common.testing import copy_template, migrated_sqlite_template


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    return migrated_sqlite_template("booking", tmp_path_factory.mktemp("booking-template"))


@pytest.fixture
def db(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    path = copy_template(template_db, tmp_path)
    database = Database(make_engine(f"sqlite:///{path}"))
    yield database
    database.engine.dispose()
