"""Callbacks (plan, script, tries, reopen, archive), support requests with their SLA, improvement items."""
from __future__ import annotations

import pytest

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.feedback.tests.helpers import (BAD, ENTERPRISE, GOOD, INSTITUTION_ID, OPERATOR, OTHER_ENTERPRISE,
                                             REGULATOR, WINDOW, call, events, invite)


def test_a_dissatisfied_evaluation_plans_a_callback_with_script_and_three_tries(db):
    e = invite(db)
    call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=BAD)
    page = call(db, "list_callbacks", REGULATOR, query={"reason": "dissatisfied"})
    assert page["total"] == 1
    task = page["items"][0]
    assert task["subject_id"] == e["id"] and task["script"] and task["state"] == "open"
    with pytest.raises(Forbidden):
        call(db, "record_callback", REGULATOR, callback_id=task["id"], payload={"result": "no_answer"})
    with pytest.raises(ValidationFailed):
        call(db, "record_callback", WINDOW, callback_id=task["id"], payload={"result": "reached"})
    for _ in range(2):
        out = call(db, "record_callback", WINDOW, callback_id=task["id"], payload={"result": "no_answer"})
        assert out["state"] == "open"
    out = call(db, "record_callback", WINDOW, callback_id=task["id"], payload={"result": "no_answer"})
    assert out["state"] == "done" and out["outcome"] == "unreachable" and out["tries"] == 3
    with pytest.raises(Conflict):
        call(db, "record_callback", WINDOW, callback_id=task["id"], payload={"result": "no_answer"})
    assert events(db, "callback.done")[0]["data"]["outcome"] == "unreachable"


def test_a_good_one_is_sampled_by_the_share_in_data(db):
    from services.feedback import callbacks
    from services.feedback.models import Evaluation
    e = invite(db)
    call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=GOOD)
    with db.transaction() as session:
        evaluation = session.get(Evaluation, e["id"])
        assert callbacks.plan_for_evaluation(session, evaluation, rng=lambda: 0.99) is None
        assert callbacks.plan_for_evaluation(session, evaluation, rng=lambda: 0.0).reason == "sample"


def complaint_told_and_rated(db, rating: str) -> dict:
    """A complaint accepted, investigated, decided (not upheld), told to the enterprise, then rated by it."""
    c = call(db, "file_complaint", ENTERPRISE, payload={"institution_id": INSTITUTION_ID, "type": "other",
                                                        "content": "问题"})
    for action in ({"action": "accept"}, {"action": "investigate", "note": "n"}, {"action": "decide",
                   "outcome": "not_upheld", "note": "n"}, {"action": "tell", "channel": "web"}):
        call(db, "act_on_complaint", OPERATOR, complaint_id=c["id"], payload=action)
    call(db, "act_on_complaint", ENTERPRISE, complaint_id=c["id"], payload={"action": "satisfaction",
                                                                            "rating": rating})
    return c


def test_a_callback_reopens_a_closed_complaint_and_the_archive_is_searchable(db):
    c = complaint_told_and_rated(db, "dissatisfied")
    task = call(db, "list_callbacks", OPERATOR, query={"reason": "complaint"})["items"][0]
    call(db, "record_callback", OPERATOR, callback_id=task["id"], payload={"result": "reopen",
                                                                           "notes": "投诉人认为未解决 退款"})
    assert call(db, "get_complaint", OPERATOR, complaint_id=c["id"], query={})["state"] == "investigated"
    assert call(db, "list_callbacks", OPERATOR, query={"q": "退款"})["total"] == 1
    assert call(db, "list_callbacks", OPERATOR, query={"q": "没有的词"})["total"] == 0
    assert call(db, "list_callbacks", OPERATOR, query={"outcome": "reopened"})["items"][0]["id"] == task["id"]


def test_support_requests_with_sla_and_status(db):
    with pytest.raises(ValidationFailed):
        call(db, "open_support_request", ENTERPRISE, payload={"category": "nope", "description": "x"})
    r = call(db, "open_support_request", ENTERPRISE, payload={"category": "bug", "description": "提交失败",
                                                              "page": "/demands/new", "request_id": "req-123"})
    assert r["state"] == "open" and r["clocks"][0]["rule"] == "feedback.support_response"
    with pytest.raises(NotFound):
        call(db, "get_support_request", OTHER_ENTERPRISE, support_id=r["id"])
    with pytest.raises(Forbidden):
        call(db, "answer_support_request", ENTERPRISE, support_id=r["id"], payload={"answer": "x"})
    out = call(db, "answer_support_request", OPERATOR, support_id=r["id"], payload={"answer": "已修复，请重试"})
    assert out["state"] == "resolved" and out["clocks"][0]["state"] == "met"
    assert [x["state"] for x in call(db, "list_support_requests", ENTERPRISE, query={})] == ["resolved"]
    assert events(db, "support.opened") and events(db, "support.resolved")


def test_improvement_plan_items_and_joint_assessments(db):
    with pytest.raises(ValidationFailed):   # a plan item needs an owner and a due
        call(db, "create_improvement", OPERATOR, payload={"kind": "plan_item", "source": "statistics",
                                                          "title": "缩短检测周期"})
    item = call(db, "create_improvement", OPERATOR, payload={"kind": "plan_item", "source": "statistics",
                                                             "title": "缩短检测周期", "owner_id": "op-1",
                                                             "due_working_days": 20})
    assert item["due_at"] and item["state"] == "open"
    joint = call(db, "create_improvement", OPERATOR, payload={"kind": "assessment", "source": "joint",
                                                              "title": "2026年三季度联合评估", "linked_id": item["id"],
                                                              "detail": "企业普遍反映周期长"})
    assert joint["linked_id"] == item["id"]
    with pytest.raises(Conflict):
        call(db, "progress_improvement", OPERATOR, improvement_id=item["id"], payload={"action": "recheck",
                                                                                       "text": "x"})
    call(db, "progress_improvement", OPERATOR, improvement_id=item["id"], payload={"action": "evidence",
                                                                                   "text": "新增周末时段"})
    call(db, "progress_improvement", OPERATOR, improvement_id=item["id"], payload={"action": "recheck",
                                                                                   "text": "平均周期缩短2天"})
    public = call(db, "published_improvements", None)
    assert [p["recheck_result"] for p in public] == ["平均周期缩短2天"]
    with pytest.raises(Forbidden):
        call(db, "list_improvements", ENTERPRISE, query={})


def test_a_plan_item_due_in_a_year_without_calendar_is_a_gap_not_an_error(db):
    item = call(db, "create_improvement", OPERATOR, payload={"kind": "plan_item", "source": "complaint",
                                                             "title": "明年完成", "owner_id": "op-1",
                                                             "due_working_days": 250})
    assert item["due_at"] is None and item["clocks"][0]["calendar_gap"] is True


def test_callbacks_and_improvements_carry_names_not_only_ids(db):
    """Staff read the complaint's number, the evaluated service's type and the institution's name
    (feedback's copy of the registry's), the owner's when it is an institution; an unknown id: null."""
    from services.feedback.models import InstitutionName
    with db.transaction() as session:
        session.get(InstitutionName, INSTITUTION_ID).name = "省计量测试研究院"
    e = invite(db, service_type="booking")
    call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=BAD)
    task = call(db, "list_callbacks", OPERATOR, query={"reason": "dissatisfied"})["items"][0]
    assert (task["subject_service_type"], task["subject_number"], task["institution_name"]) == \
        ("booking", None, "省计量测试研究院")
    c = complaint_told_and_rated(db, "satisfied")
    task = call(db, "list_callbacks", OPERATOR, query={"reason": "complaint"})["items"][0]
    assert task["subject_number"] == c["number"] and task["subject_service_type"] is None
    assert call(db, "get_callback", OPERATOR, callback_id=task["id"])["subject_number"] == c["number"]
    item = call(db, "create_improvement", OPERATOR, payload={"kind": "plan_item", "source": "complaint",
                                                             "title": "缩短答复时间", "owner_id": INSTITUTION_ID,
                                                             "institution_id": INSTITUTION_ID, "due_working_days": 5})
    assert (item["owner_name"], item["institution_name"]) == ("省计量测试研究院", "省计量测试研究院")
    mine = call(db, "create_improvement", OPERATOR, payload={"kind": "plan_item", "source": "statistics",
                                                             "title": "x", "owner_id": "op-1", "due_working_days": 5})
    assert (mine["owner_name"], mine["institution_name"]) == (None, None)
    listed = {i["id"]: i for i in call(db, "list_improvements", OPERATOR, query={})}
    assert listed[item["id"]]["owner_name"] == "省计量测试研究院" and listed[mine["id"]]["owner_name"] is None
