"""Every bad review closes the loop: verify, rectify/explain or appeal, re-check by another, call back, close."""
from __future__ import annotations

import pytest

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.feedback.tests.helpers import (BAD, ENTERPRISE, INSTITUTION, OPERATOR, OPERATOR_2, WINDOW, call, events,
                                             invite)


def bad_review(db):
    e = invite(db)
    out = call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=BAD)
    return out


def step(db, principal, case_id, **payload):
    return call(db, "advance_rectification", principal, rectification_id=case_id, payload=payload)


def test_full_loop_with_clocks_steps_and_events(db):
    e = bad_review(db)
    case_id = e["rectification_id"]
    with pytest.raises(ValidationFailed):       # verify needs the cause analysis
        step(db, OPERATOR, case_id, action="verify")
    with pytest.raises(Forbidden):
        step(db, INSTITUTION, case_id, action="verify", cause_analysis="x")
    case = step(db, OPERATOR, case_id, action="verify", cause_analysis="检测排队，未提前告知周期")
    assert case["state"] == "verified" and case["verified_by"] == OPERATOR["user_id"]
    rules = {c["rule"]: c["state"] for c in case["clocks"]}
    assert rules == {"feedback.rectification_verify": "met", "feedback.rectification_rectify": "running"}
    with pytest.raises(Conflict):
        step(db, OPERATOR, case_id, action="close")
    case = step(db, INSTITUTION, case_id, action="rectify", measures="增加检测时段并在受理时告知周期")
    assert case["state"] == "rectified"
    with pytest.raises(Forbidden) as same:      # the re-check is by a different staff member
        step(db, OPERATOR, case_id, action="recheck", note="ok")
    assert same.value.code == "recheck_by_same_staff"
    case = step(db, OPERATOR_2, case_id, action="recheck", note="整改措施已落实")
    case = step(db, WINDOW, case_id, action="call_back", result="satisfied")
    case = step(db, OPERATOR_2, case_id, action="close")
    assert case["state"] == "closed" and case["closed_at"]
    assert [s["action"] for s in case["steps"]] == ["open", "verify", "rectify", "recheck", "call_back", "close"]
    assert all(s["at"] for s in case["steps"])
    assert len(events(db, "rectification.opened")) == 1 and len(events(db, "rectification.closed")) == 1
    assert [x["data"]["action"] for x in events(db, "rectification.advanced")] == [
        "verify", "rectify", "recheck", "call_back", "close"]


def test_appeal_overturned_leaves_statistics_but_stays_visible(db):
    e = bad_review(db)
    case_id = e["rectification_id"]
    with pytest.raises(Forbidden):
        step(db, OPERATOR, case_id, action="appeal", reason="x")
    case = step(db, INSTITUTION, case_id, action="appeal", reason="评价对象有误，该服务非本机构办理")
    assert case["state"] == "appealed" and case["clocks"][0]["state"] == "paused"
    with pytest.raises(Forbidden):             # an operator decides, not a window
        step(db, WINDOW, case_id, action="decide_appeal", overturn=True, reason="x")
    case = step(db, OPERATOR, case_id, action="decide_appeal", overturn=True, reason="经核实非该机构办理")
    assert case["state"] == "overturned"
    evaluation = call(db, "get_evaluation", ENTERPRISE, evaluation_id=e["id"])
    assert evaluation["overturned"] is True and evaluation["overturn_reason"] == "经核实非该机构办理"
    assert evaluation["overall"] == "dissatisfied"     # still visible
    closed = events(db, "rectification.closed")
    assert closed[-1]["data"]["overturned"] is True


def test_refused_appeal_resumes_where_it_was(db):
    e = bad_review(db)
    case_id = e["rectification_id"]
    step(db, OPERATOR, case_id, action="verify", cause_analysis="属实")
    step(db, INSTITUTION, case_id, action="appeal", reason="不同意")
    case = step(db, OPERATOR, case_id, action="decide_appeal", overturn=False, reason="申诉不成立")
    assert case["state"] == "verified" and case["appeal_decision"] == "rejected"
    running = [c for c in case["clocks"] if c["state"] == "running"]
    assert [c["rule"] for c in running] == ["feedback.rectification_rectify"]


def test_a_callback_finding_the_customer_still_dissatisfied_reopens(db):
    e = bad_review(db)
    case_id = e["rectification_id"]
    step(db, OPERATOR, case_id, action="verify", cause_analysis="属实")
    step(db, INSTITUTION, case_id, action="explain", measures="说明原因")
    step(db, OPERATOR_2, case_id, action="recheck", note="ok")
    case = step(db, OPERATOR_2, case_id, action="call_back", result="dissatisfied", note="仍不满意")
    assert case["state"] == "verified"


def test_strangers_see_no_rectification(db):
    from services.common.errors import NotFound
    e = bad_review(db)
    with pytest.raises(NotFound):
        call(db, "get_rectification", ENTERPRISE, rectification_id=e["rectification_id"])
    assert call(db, "list_rectifications", {"user_id": "i2", "role": "institution", "institution_id": "other"},
                query={}) == []
    assert len(call(db, "list_rectifications", INSTITUTION, query={})) == 1
