"""Issue 8.2: a write whose transaction would commit after the caller's deadline rolls back.

Real SQLite and PostgreSQL: the unit of work checks the context-local deadline
right before commit; the row written before the deadline passed is not there.
"""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from services.common import deadlines
from services.common.db import Database, make_engine
from services.common.errors import DeadlineExceeded

pytestmark = pytest.mark.integration


def _count(db):
    with db.read() as session:
        return session.execute(sa.text("SELECT count(*) FROM deadline_probe")).scalar()


def test_commit_after_the_deadline_rolls_back(database_url):
    db = Database(make_engine(database_url))
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE deadline_probe (id INTEGER)"))
    expired_before = deadlines.EXPIRED.labels("probe", "write", "commit")._value.get()
    token = deadlines.activate(time.time() + 0.3, "probe", "write")
    try:
        with pytest.raises(DeadlineExceeded):
            with db.transaction() as session:
                session.execute(sa.text("INSERT INTO deadline_probe (id) VALUES (1)"))
                time.sleep(0.4)  # the work outlives the caller's deadline
        assert _count(db) == 0
        assert deadlines.EXPIRED.labels("probe", "write", "commit")._value.get() == expired_before + 1
    finally:
        deadlines.reset(token)
    token = deadlines.activate(time.time() + 30, "probe", "write")
    try:
        with db.transaction() as session:  # within the deadline: committed
            session.execute(sa.text("INSERT INTO deadline_probe (id) VALUES (2)"))
    finally:
        deadlines.reset(token)
    with db.transaction() as session:  # no deadline (timers, event handlers): committed
        session.execute(sa.text("INSERT INTO deadline_probe (id) VALUES (3)"))
    assert _count(db) == 2
    db.engine.dispose()
