"""Identity scenarios that depend on the database, run on SQLite and PostgreSQL.

The scenarios live beside the unit tests (services/identity/tests/unit); here they
run against a freshly migrated database of each backend.
"""
from __future__ import annotations

import pytest

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.identity.tests.unit import test_login_throttle as throttle_scenarios


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


def test_licence_review_with_return_and_resubmission(db):
    from services.identity.tests.unit import test_verification_levels as levels_scenarios

    levels_scenarios.scenario_licence_review_with_return_and_resubmission(db)


def test_migration_moves_the_checksum_moment_to_format_checked(database_url, tmp_path, monkeypatch):
    """identity_0004: accounts from before keep their moment as format_checked_at, and are no longer 'verified'."""
    import datetime as dt

    import sqlalchemy as sa
    from alembic import command

    from services.common.migrate import alembic_config

    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    cfg = alembic_config("identity", database_url)
    command.upgrade(cfg, "identity_0003")
    command.upgrade(cfg, "common@head")
    engine = make_engine(database_url)
    at = dt.datetime(2025, 5, 6, 7, 8, 9)
    with engine.begin() as conn:
        conn.execute(sa.text('INSERT INTO "user" (id, username, role, status, nickname, password_hash, '
                             'identity_verified_at, created_at, updated_at) VALUES '
                             "('u1', 'old', 'enterprise', 'active', 'Old', 'x', :at, :at, :at)"), {"at": at})
    upgrade("identity", database_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text('SELECT format_checked_at, identity_verified_at FROM "user"')).one()
    engine.dispose()
    assert str(row[0])[:19] == str(at) and row[1] is None   # SQLite hands raw SQL a string


def test_licence_review_verdict_names_no_institution_or_window(db):
    from services.identity.tests.unit import test_verification_levels as levels_scenarios
    levels_scenarios.scenario_licence_review_verdict_names_no_institution_or_window(db)
