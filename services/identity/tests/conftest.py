"""Identity test fixtures (unit/ and interface/): a migrated SQLite database per test, no broker.

The schema comes from the real Alembic migrations (common + identity branches),
applied once per run to a template file that each test copies, so the tests
exercise what production creates and not `create_all`.
"""
from __future__ import annotations

import pytest

from services.common.testing import copy_template, migrated_sqlite_template
from services.common.db import Database, make_engine

@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    # Production Argon2 parameters cost ~50 ms a hash; the tests hash hundreds.
    from argon2 import PasswordHasher

    from services.identity import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    return migrated_sqlite_template("identity", tmp_path_factory.mktemp("identity-template"))


@pytest.fixture
def db_path(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    return copy_template(template_db, tmp_path)


@pytest.fixture
def db(db_path):
    database = Database(make_engine(f"sqlite:///{db_path}"))
    yield database
    database.engine.dispose()


class FakeSms:
    def __init__(self):
        self.sent: list[dict] = []

    def send(self, *, user_id, phone, code, purpose, at):
        self.sent.append({"user_id": user_id, "phone": phone, "code": code, "purpose": purpose, "at": at})

    @property
    def last_code(self) -> str:
        return self.sent[-1]["code"]


@pytest.fixture
def sms():
    return FakeSms()


@pytest.fixture
def worker(db, sms, monkeypatch):
    """The nameko service class with its providers replaced: real database, no broker, no client address."""
    from nameko.testing.services import worker_factory

    from services.identity import service as service_module

    monkeypatch.setattr(service_module, "sms_sender", lambda: sms)
    return worker_factory(service_module.IdentityService, db=db, call_data={})


@pytest.fixture
def service(worker):
    """The service's RPC methods called as a verified caller would (see helpers.Api)."""
    from .helpers import Api

    return Api(worker)
