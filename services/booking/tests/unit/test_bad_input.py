"""Every write operation of the contract refuses bad input with a 4xx problem (a stable code, a
"中文 / English" message) and writes nothing: no row, no event."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.booking.contract import CONTRACT
from services.booking.models import Base
from services.booking.tests.helpers import ALICE, OPERATOR, STAFF, WINDOW, apply, approved, call, instrument_payload
from services.common.errors import DomainError
from services.common.outbox import OutboxEvent

WRITES = [op for op in CONTRACT.operations if op.is_write and op.body is not None]
BAD_BODIES = ({"no_such_field": 1}, {"starts_at": "yesterday", "weeks": "many", "kind": 7, "times": "09:00"})


def caller_for(op):
    roles = op.roles or ()
    if not roles or "enterprise" in roles:
        return ALICE
    if "institution" in roles:
        return STAFF
    if "window" in roles:
        return WINDOW
    return OPERATOR


def counts(db) -> dict:
    with db.read() as session:
        out = {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        out["outbox"] = session.scalar(select(func.count()).select_from(OutboxEvent))
        return out


@pytest.mark.parametrize("op", WRITES, ids=[op.name for op in WRITES])
def test_bad_body_is_a_4xx_problem_and_writes_nothing(db, op):
    apply(db, approved())
    instrument = call(db, "publish_instrument", STAFF, payload=instrument_payload())
    before = counts(db)
    path = {name: instrument["id"] if name == "instrument_id" else "x" for name in op.path_params}
    for body in BAD_BODIES:
        with pytest.raises(DomainError) as exc:
            call(db, op.name, caller_for(op), payload=body, **path)
        assert exc.value.status == 422 and exc.value.code == "validation_error", (op.name, exc.value)
        problem = exc.value.problem()
        assert " / " in problem["title"]
    assert counts(db) == before
