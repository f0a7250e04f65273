"""Shared fixtures for integration and end-to-end tests.

Real parts only: the machine's RabbitMQ (an isolated vhost per test run) and real
databases, SQLite files and PostgreSQL databases created for the run.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid

import pytest

PG_ADMIN_DSN = os.environ.get("QI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_HOST = os.environ.get("QI_TEST_AMQP_HOST", "guest:guest@127.0.0.1:5672")
BACKENDS = os.environ.get("QI_TEST_BACKENDS", "sqlite,postgresql").split(",")


def _rabbitmqctl(*args) -> bool:
    if not shutil.which("rabbitmqctl"):
        return False
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=60).returncode == 0


@contextlib.contextmanager
def own_vhost():
    """A fresh broker vhost: two platforms on one vhost would answer each other's RPCs."""
    vhost = f"qi-test-{uuid.uuid4().hex[:8]}"
    if _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
        try:
            yield f"amqp://{BROKER_HOST}/{vhost}"
        finally:
            _rabbitmqctl("delete_vhost", vhost)
    else:
        yield f"amqp://{BROKER_HOST}/"


@pytest.fixture(scope="session")
def amqp_uri():
    """A fresh vhost for this run, so leftovers of other runs can't interfere."""
    with own_vhost() as uri:
        yield uri


class PgDatabases:
    def __init__(self):
        self.created: list[str] = []

    def create(self, prefix: str) -> str:
        import psycopg2
        name = f"qi_{prefix}_{uuid.uuid4().hex[:8]}"
        conn = psycopg2.connect(PG_ADMIN_DSN)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        self.created.append(name)
        return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        import psycopg2
        conn = psycopg2.connect(PG_ADMIN_DSN)
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in self.created:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def database_url(backend, tmp_path, pg_databases):
    """A fresh, empty database URL of the parametrised backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    return pg_databases.create("it")
