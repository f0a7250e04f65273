"""Every write operation of the contract: a bad body is a 422 validation_error and writes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.common.errors import ValidationFailed
from services.common.outbox import OutboxEvent
from services.feedback import models
from services.feedback.contract import CONTRACT
from services.feedback.tests.helpers import call

WRITES = [op for op in CONTRACT.operations if op.is_write and op.body is not None]
ROLE = {None: "operator", (): "operator"}


def _principal(op):
    roles = op.roles
    role = ROLE.get(roles) if roles in ROLE else roles[0]
    return {"user_id": "u-1", "role": role}


def _counts(db) -> dict:
    with db.read() as session:
        tables = [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, models.Base)
                  and m is not models.Base]
        out = {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in tables}
        out["outbox_event"] = session.scalar(select(func.count()).select_from(OutboxEvent))
    return out


@pytest.mark.parametrize("op", WRITES, ids=[op.name for op in WRITES])
@pytest.mark.parametrize("body", [{"unexpected": 1}, [], "text"], ids=["unknown-field", "list", "string"])
def test_bad_body_is_refused_and_nothing_is_written(db, op, body):
    before = _counts(db)
    path = {name: "00000000-0000-4000-8000-000000000000" for name in op.path_params}
    with pytest.raises(ValidationFailed) as refused:
        call(db, op.name, _principal(op), payload=body, **path)
    assert refused.value.status == 422 and refused.value.code == "validation_error"
    assert _counts(db) == before


def test_every_write_operation_is_covered():
    assert {op.name for op in WRITES} >= {"submit_evaluation", "comment_evaluation", "assess_evaluation",
                                          "import_third_party", "advance_rectification", "file_complaint",
                                          "act_on_complaint", "put_supervision_rule", "publish_quarter",
                                          "record_callback", "open_support_request", "answer_support_request",
                                          "create_improvement", "progress_improvement"}
