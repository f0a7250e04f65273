"""The unit of work turns a lost race on a unique key into a 409, not a 500."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.common.db import Database, make_engine
from services.common.errors import Conflict


def test_integrity_error_becomes_a_write_conflict(tmp_path):
    db = Database(make_engine(f"sqlite:///{tmp_path / 't.db'}"))
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE thing (key VARCHAR(10) PRIMARY KEY)"))
    with db.transaction() as session:
        session.execute(sa.text("INSERT INTO thing VALUES ('a')"))
    with pytest.raises(Conflict) as caught:
        with db.transaction() as session:
            session.execute(sa.text("INSERT INTO thing VALUES ('a')"))
    assert caught.value.code == "write_conflict" and caught.value.status == 409
    with db.read() as session:
        assert session.execute(sa.text("SELECT COUNT(*) FROM thing")).scalar() == 1
