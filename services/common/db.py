"""Database plumbing shared by every service: one database per service.

A service never opens another service's database: `database_url(service)` only
ever yields the caller's own URL. Tables that every service needs (outbox,
processed events, idempotency keys, SLA clocks, audit log) are mapped on
`CommonBase` and created by the `common` Alembic branch in each service's own
database.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from . import config


class CommonBase(DeclarativeBase):
    """Metadata of the tables every service database carries."""


def utcnow() -> dt.datetime:
    # Stored naive-UTC everywhere: SQLite has no time zones, and mixing aware and
    # naive values is the classic source of off-by-8-hours bugs in Asia/Shanghai.
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


def one_of(column: str, values) -> str:
    """SQL for a CHECK constraint keeping `column` within `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def is_sqlite(url_or_engine) -> bool:
    url = str(getattr(url_or_engine, "url", url_or_engine))
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets the relay read while a worker writes; busy_timeout makes
            # concurrent writers wait instead of failing with "database is locked".
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # QI_DB_POOL_SIZE bounds each engine's connections (as many again may overflow): a test run
    # keeps two whole platforms on one PostgreSQL server, whose default max_connections is 100.
    size = int(os.environ.get("QI_DB_POOL_SIZE", "10"))
    return create_engine(url, pool_pre_ping=True, pool_size=size, max_overflow=size)


def engine_for(service: str) -> Engine:
    return make_engine(config.database_url(service))


class Database:
    """A unit of work factory bound to one service's database."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.Session = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One business transaction: commits on success, rolls back on error.

        Events recorded with `outbox.record_event` inside this block commit or
        roll back together with the change that caused them. A transaction that
        would commit after the caller's deadline (services.common.deadlines) rolls
        back instead: the caller was already told 504, so nothing may have happened.
        """
        from . import deadlines
        session = self.Session()
        try:
            with session.begin():
                yield session
                deadlines.check("commit")
        except IntegrityError as exc:
            # Two concurrent writes claimed the same unique thing (an Idempotency-Key,
            # a username, an event id): the loser gets a clear 409 and may retry,
            # instead of a 500.
            from .errors import Conflict
            raise Conflict("A concurrent request changed the same data; retry / 并发冲突，请重试",
                           code="write_conflict") from exc
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self.Session()
        try:
            yield session
        finally:
            # close() ends the read's transaction with a rollback, once (a rollback() before it
            # returned the connection to the pool, which rolled back a second time).
            session.close()
