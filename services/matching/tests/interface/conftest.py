"""Matching's operations through the pipeline and its consumers through the broker.

Real parts: the machine's RabbitMQ (a vhost of the run, tests/conftest.py) and a
migrated matching database of each backend, SQLite and PostgreSQL. Identity is the
one thing replaced (it answers as identity answers an allowed caller).
"""
from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from services.common.db import Database, make_engine
from services.common.errors import NotFound
from services.common.migrate import upgrade
from tests.conftest import amqp_uri, backend, pg_databases  # noqa: F401 (fixtures)

from ..helpers import DIRECTORY

WINDOWS = {"win-1": "window-A", "win-2": "window-B", "win-3": "window-A"}


@pytest.fixture
def matching_url(backend, tmp_path, pg_databases, template_db):  # noqa: F811
    if backend == "sqlite":
        from services.common.testing import copy_template
        return f"sqlite:///{copy_template(template_db, tmp_path)}"
    url = pg_databases.create("matching")
    upgrade("matching", url)
    return url


@pytest.fixture
def idb(matching_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    database = Database(make_engine(matching_url))
    yield database
    database.engine.dispose()


def fake_identity():
    identity = MagicMock()

    # The caller is not an argument: identity sees it from the token in the call's context
    # data (and applies its own role rules, tested in identity); these fakes answer as identity
    # answers an allowed caller.
    def get_user(user_id):
        if user_id in WINDOWS:  # window staff read their own account
            return {"id": user_id, "role": "window", "status": "active", "window_id": WINDOWS[user_id]}
        if user_id not in DIRECTORY:
            raise NotFound("No such user")
        return DIRECTORY[user_id]

    def account_kind(user_id):
        if user_id not in DIRECTORY:
            raise NotFound("No such user")
        user = DIRECTORY[user_id]
        return {"user_id": user_id, "role": user["role"], "status": user["status"],
                "verification_level": user.get("verification_level")}

    identity.get_user.side_effect = get_user
    identity.account_kind.side_effect = account_kind
    return identity


@pytest.fixture
def service(idb):
    """MatchingService with its generated operation entrypoints, called as the RPC worker calls them
    (keywords, after CallerRpc verified the caller: `principal=`)."""
    from nameko.testing.services import worker_factory

    from services.matching.service import MatchingService
    return worker_factory(MatchingService, db=idb, identity=fake_identity(), call_data={})
