"""Feedback test fixtures: a migrated SQLite database per test (from the real migrations), no broker."""
from __future__ import annotations

import pytest

from services.common.db import Database, make_engine
from services.common.testing import copy_template, migrated_sqlite_template


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    return migrated_sqlite_template("feedback", tmp_path_factory.mktemp("feedback-template"))


@pytest.fixture
def db(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    path = copy_template(template_db, tmp_path)
    database = Database(make_engine(f"sqlite:///{path}"))
    from services.feedback.models import InstitutionName
    with database.transaction() as session:
        # The approved institutions the tests complain about, as registry's events would have left them
        # (revision 0: any real event overrides).
        for institution_id in ("inst-1", "other"):
            session.add(InstitutionName(id=institution_id, name=institution_id, revision=0, status="approved"))
    yield database
    database.engine.dispose()
