"""Evaluations through RPC and the broker: finished-service events from every slice open one
invitation each; ratings, refusals and bad input as the gateway would see them."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.feedback.models import Evaluation
from services.feedback.tests.helpers import BAD, ENTERPRISE, GOOD, INSTITUTION, OPERATOR, block, finished_event
from services.feedback.tests.interface.conftest import eventually

pytestmark = pytest.mark.integration


def count(db, **where) -> int:
    with db.read() as session:
        stmt = select(func.count()).select_from(Evaluation)
        for k, v in where.items():
            stmt = stmt.where(getattr(Evaluation, k) == v)
        return session.scalar(stmt)


def test_every_finished_service_event_opens_one_invitation(running):
    enterprise = {"user_id": "ent-rpc-1", "role": "enterprise"}
    blocks = [block(service_type=t, enterprise_id=enterprise["user_id"])
              for t in ("demand", "window_case", "booking", "appointment", "report_delivery", "complaint")]
    for b in blocks:
        env = finished_event(b)
        running.publish(env)
        running.publish(env)                 # redelivered
        running.publish(finished_event(b))   # replayed with a new id
    assert eventually(lambda: count(running.db, enterprise_id=enterprise["user_id"]) == 6)
    with running.rpc(enterprise) as feedback:
        page = feedback.list_evaluations(limit="50")
    assert page["total"] == 6 and {e["service_type"] for e in page["items"]} == {
        "demand", "window_case", "booking", "appointment", "report_delivery", "complaint"}
    with running.rpc(enterprise) as feedback:   # query fields travel as keywords and are applied
        only = feedback.list_evaluations(service_type="booking", limit="50")
        with pytest.raises(ValidationFailed):
            feedback.list_evaluations(limit="0")
    assert [e["service_type"] for e in only["items"]] == ["booking"]
    import time
    time.sleep(1.5)   # late duplicates would have landed by now
    assert count(running.db, enterprise_id=enterprise["user_id"]) == 6


def test_rating_over_rpc_with_refusals_and_bad_input(running):
    b = block(enterprise_id=ENTERPRISE["user_id"])
    running.publish(finished_event(b))
    assert eventually(lambda: count(running.db, service_id=b["service_id"]) == 1)
    with running.rpc(ENTERPRISE) as feedback:
        evaluation = next(e for e in feedback.list_evaluations(limit="200")["items"]
                          if e["service_id"] == b["service_id"])
        with pytest.raises(ValidationFailed) as bad:
            feedback.submit_evaluation(evaluation["id"], {**BAD, "text": None})
        assert "text" in bad.value.errors
        assert feedback.get_evaluation(evaluation["id"])["state"] == "invited"
    with running.rpc(INSTITUTION) as feedback:
        with pytest.raises(Forbidden):
            feedback.submit_evaluation(evaluation["id"], {**GOOD, "channel": "phone", "call_reference": "x"})
    with running.rpc(ENTERPRISE) as feedback:
        out = feedback.submit_evaluation(evaluation["id"], BAD)
        assert out["state"] == "submitted" and out["rectification_id"]
        with pytest.raises(Conflict):
            feedback.submit_evaluation(evaluation["id"], GOOD)
    with running.rpc(OPERATOR) as feedback:
        case = feedback.get_rectification(out["rectification_id"])
        assert case["state"] == "opened" and case["clocks"][0]["rule"] == "feedback.rectification_verify"
        clocks = feedback.list_open_clocks()
        assert any(c["subject_id"] == case["id"] for c in clocks)


def test_no_token_is_refused(running):
    from services.common.errors import Unauthorized
    with running.rpc(None) as feedback:
        with pytest.raises(Unauthorized):
            feedback.list_evaluations()
        assert feedback.complaint_types()[0]["code"]   # public
