"""Identity scenarios that depend on the database, run on SQLite and PostgreSQL.

The scenarios live beside the unit tests (services/identity/tests); here they
run against a freshly migrated database of each backend.
"""
from __future__ import annotations

import pytest

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.identity.tests import test_login_throttle as throttle_scenarios


@pytest.fixture
def db(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    upgrade("identity", database_url)
    database = Database(make_engine(database_url))
    yield database
    database.engine.dispose()


def test_throttle_owner_signs_in_from_another_network(db):
    throttle_scenarios.scenario_owner_signs_in_from_another_network(db)


def test_throttle_delays_double_up_to_the_cap(db):
    throttle_scenarios.scenario_delays_double_up_to_the_cap(db)


def test_throttle_one_network_spraying_many_usernames(db):
    throttle_scenarios.scenario_one_network_spraying_many_usernames(db)
