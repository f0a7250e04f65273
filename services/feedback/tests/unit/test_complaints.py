"""Complaints: acceptance numbers, the flow with its clocks, pauses, return once, merge, identity for staff only."""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select, text

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.feedback.models import Complaint
from services.feedback.tests.helpers import (ENTERPRISE, INSTITUTION, INSTITUTION_ID, OPERATOR, OPERATOR_2, WINDOW, call,
                                             events)

WEB = {"channel": "web", "institution_id": INSTITUTION_ID, "type": "time_limit", "content": "报告超期未出",
       "requests": "尽快出具报告", "link_type": "demand", "link_id": "d-1"}
PHONE = {**WEB, "channel": "phone", "complainant_name": "张三丰", "complainant_phone": "13912345678"}


def reference(db, source, event_type, data):
    from services.common.consumer import handle_once
    from services.common.events import make_envelope
    from services.feedback import references
    handle_once(db, "feedback.test_reference", make_envelope(source, event_type, "x", data),
                references.apply_reference_event)


@pytest.fixture(autouse=True)
def demand_d1(db):
    """The demand the complaints name, as matching's demand.published told feedback."""
    reference(db, "matching", "demand.published", {"demand_id": "d-1", "enterprise_user_id": ENTERPRISE["user_id"]})


def act(db, principal, complaint_id, **payload):
    return call(db, "act_on_complaint", principal, complaint_id=complaint_id, payload=payload)


def test_acceptance_numbers_are_sequential_per_day(db):
    first = call(db, "file_complaint", ENTERPRISE, payload=WEB)
    second = call(db, "file_complaint", OPERATOR, payload=PHONE)
    day = first["number"][3:11]
    assert first["number"] == f"TS-{day}-0001" and second["number"] == f"TS-{day}-0002"
    assert dt.datetime.strptime(day, "%Y%m%d")


def test_concurrent_filings_get_distinct_consecutive_numbers(db):
    from services.feedback import complaints
    numbers, errors = [], []

    def one():
        try:
            with db.transaction() as session:
                numbers.append(complaints.file(session, ENTERPRISE, {**WEB, "complainant_id": None,
                                                                     "complainant_name": None,
                                                                     "complainant_phone": None}).number)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(int(n[-4:]) for n in numbers) == list(range(1, 13))


def test_bad_input_writes_nothing(db):
    for payload in ({**WEB, "type": "nonsense"}, {**WEB, "content": " "}, {**WEB, "link_id": None},
                    {**PHONE, "complainant_phone": "123"}, {**PHONE, "complainant_name": None},
                    {**WEB, "unknown": 1}):
        with pytest.raises(ValidationFailed):
            call(db, "file_complaint", OPERATOR if payload.get("channel") == "phone" else ENTERPRISE, payload=payload)
    with pytest.raises(Forbidden):   # phone complaints are entered by staff
        call(db, "file_complaint", ENTERPRISE, payload=PHONE)
    with pytest.raises(Forbidden):   # an institution does not complain about itself online
        call(db, "file_complaint", INSTITUTION, payload=WEB)
    with db.read() as session:
        assert session.scalars(select(Complaint)).first() is None


def test_full_flow_with_pause_and_return_once(db):
    c = call(db, "file_complaint", OPERATOR, payload={**PHONE, "complainant_id": ENTERPRISE["user_id"]})
    cid = c["id"]
    assert c["complainant_name"] == "张**" and c["complainant_phone"] == "139****5678"
    with pytest.raises(NotFound):    # not forwarded yet: the institution does not see it
        call(db, "get_complaint", INSTITUTION, complaint_id=cid, query={})
    act(db, OPERATOR, cid, action="accept")
    act(db, OPERATOR, cid, action="pause", reason="等待投诉人补充材料")
    with pytest.raises(Conflict):
        act(db, OPERATOR, cid, action="investigate", note="x")
    paused = call(db, "get_complaint", OPERATOR, complaint_id=cid, query={})
    assert paused["waiting"] and {k["state"] for k in paused["clocks"] if k["rule"] == "feedback.complaint_close"} \
        == {"paused"}
    act(db, OPERATOR, cid, action="resume")
    act(db, OPERATOR, cid, action="investigate", note="调取受理记录")
    act(db, OPERATOR, cid, action="forward")
    seen = call(db, "get_complaint", INSTITUTION, complaint_id=cid, query={})
    assert seen["complainant_name"] is None and seen["complainant_phone"] is None and seen["complainant_id"] is None
    assert call(db, "list_complaints", INSTITUTION, query={})["total"] == 1
    act(db, INSTITUTION, cid, action="return", reason="非本机构业务")
    act(db, OPERATOR, cid, action="decide_return", accept_return=False, note="属于该机构业务")
    with pytest.raises(Conflict) as once:
        act(db, INSTITUTION, cid, action="return", reason="再次退回")
    assert once.value.code == "complaint_returned_once"
    act(db, INSTITUTION, cid, action="answer", note="已安排加急出具报告")
    act(db, OPERATOR, cid, action="decide", outcome="upheld", note="投诉属实，已督促整改")
    act(db, OPERATOR, cid, action="tell", channel="phone")
    with pytest.raises(Forbidden):
        act(db, INSTITUTION, cid, action="satisfaction", rating="satisfied")
    out = act(db, ENTERPRISE, cid, action="satisfaction", rating="satisfied")
    assert out["state"] == "closed" and out["closed_at"]
    assert [s["action"] for s in out["steps"]] == ["file", "accept", "pause", "resume", "investigate", "forward",
                                                  "return", "decide_return", "answer", "decide", "tell",
                                                  "satisfaction"]
    assert len(out["pauses"]) == 1 and out["pauses"][0]["ended_at"]
    seen = call(db, "get_complaint", INSTITUTION, complaint_id=cid, query={})
    assert "ent-1" not in str(seen) and seen["steps"][-1]["actor_id"] == "complainant"
    closed = events(db, "complaint.closed")[0]["data"]
    assert closed["evaluation"]["service_type"] == "complaint" and closed["evaluation"]["enterprise_id"] == "ent-1"
    body = str(events(db))
    assert "张三丰" not in body and "13912345678" not in body
    for kind in ("complaint.accepted", "complaint.forwarded", "complaint.answered"):
        assert events(db, kind), kind
    with pytest.raises(Conflict):
        act(db, OPERATOR, cid, action="merge", into=cid)


def test_operator_reveals_identity_audited_others_see_masks(db):
    from services.common.audit import AuditEntry
    c = call(db, "file_complaint", WINDOW, payload=PHONE)
    assert call(db, "get_complaint", WINDOW, complaint_id=c["id"], query={"reveal": "true"})["complainant_name"] == \
        "张**"
    shown = call(db, "get_complaint", OPERATOR, complaint_id=c["id"], query={"reveal": "true"})
    assert shown["complainant_name"] == "张三丰"
    with db.read() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry))]
        raw = session.execute(text("SELECT complainant_name FROM complaint")).scalar()
    assert "complaint.pii_revealed" in actions and "张三丰" not in raw


def test_duplicates_merge(db):
    a = call(db, "file_complaint", ENTERPRISE, payload=WEB)
    b = call(db, "file_complaint", ENTERPRISE, payload=WEB)
    out = act(db, OPERATOR, b["id"], action="merge", into=a["id"])
    assert out["state"] == "merged" and out["merged_into"] == a["id"]
    assert all(k["state"] == "cancelled" for k in out["clocks"])
    target = call(db, "get_complaint", OPERATOR, complaint_id=a["id"], query={})
    assert target["steps"][-1]["action"] == "merged_in"


def test_supervision_rules_edited_with_history(db):
    rules = call(db, "list_supervision_rules", OPERATOR)
    assert {r["complaint_type"] for r in rules} >= {"time_limit", "charging"}
    with pytest.raises(Forbidden):
        call(db, "put_supervision_rule", {"user_id": "r", "role": "regulator"}, complaint_type="charging",
             payload={"handler_role": "operator", "reply_rule": "feedback.complaint_reply", "escalate_to": "admin",
                      "escalate_after_working_days": 2})
    with pytest.raises(ValidationFailed):
        call(db, "put_supervision_rule", OPERATOR, complaint_type="charging",
             payload={"handler_role": "regulator", "reply_rule": "feedback.complaint_reply", "escalate_to": "admin",
                      "escalate_after_working_days": 2})
    out = call(db, "put_supervision_rule", OPERATOR, complaint_type="charging",
               payload={"handler_role": "operator", "reply_rule": "feedback.complaint_reply", "escalate_to": "admin",
                        "escalate_after_working_days": 2})
    assert out["version"] == 2 and out["updated_by"] == OPERATOR["user_id"]
    history = call(db, "supervision_rule_history", OPERATOR, complaint_type="charging")
    assert [h["version"] for h in history] == [1, 2] and history[0]["body"]["handler_role"] == "operator"
    out = call(db, "put_supervision_rule", OPERATOR, complaint_type="charging",
               payload={"handler_role": "window", "reply_rule": "feedback.complaint_reply", "escalate_to": "admin",
                        "escalate_after_working_days": 2})
    c = call(db, "file_complaint", ENTERPRISE, payload={**WEB, "type": "charging"})
    other = call(db, "file_complaint", ENTERPRISE, payload={**WEB, "type": "time_limit"})
    assert c["handler_role"] == "window" and other["handler_role"] == "operator"
    queue = call(db, "list_complaints", WINDOW, query={"mine": "true"})["items"]
    assert [x["id"] for x in queue] == [c["id"]]


def test_operators_set_a_types_reply_limit_and_a_running_clock_keeps_its_own(db):
    from services.common import sla
    from services.feedback.complaints import CASE
    rule = {"handler_role": "operator", "reply_rule": "feedback.complaint_reply", "escalate_to": "admin",
            "escalate_after_working_days": 2}
    with pytest.raises(ValidationFailed):
        call(db, "put_supervision_rule", OPERATOR, complaint_type="charging", payload={**rule, "reply_working_days": 0})
    out = call(db, "put_supervision_rule", OPERATOR, complaint_type="charging", payload={**rule, "reply_working_days": 2})
    assert out["reply_working_days"] == 2
    c = call(db, "file_complaint", ENTERPRISE, payload={**WEB, "type": "charging"})
    other = call(db, "file_complaint", ENTERPRISE, payload={**WEB, "type": "time_limit"})
    for cid in (c["id"], other["id"]):
        for action in ({"action": "accept"}, {"action": "investigate", "note": "n"}, {"action": "forward"}):
            act(db, OPERATOR, cid, **action)
    call(db, "put_supervision_rule", OPERATOR, complaint_type="charging", payload={**rule, "reply_working_days": 7})
    with db.read() as session:
        mine = sla.find_clock(session, "feedback.complaint_reply", CASE, c["id"])
        default = sla.find_clock(session, "feedback.complaint_reply", CASE, other["id"])
        assert mine.limit_working_days == 2     # as the rule said when the clock started
        assert default.limit_working_days == sla.get_rule("feedback.complaint_reply").limit_working_days
    history = call(db, "supervision_rule_history", OPERATOR, complaint_type="charging")
    assert [h["body"]["reply_working_days"] for h in history] == [None, 2, 7]


def test_an_unanswered_forwarded_complaint_is_escalated_once_by_its_rule(db):
    from services.feedback import complaints
    c = call(db, "file_complaint", ENTERPRISE, payload=WEB)
    for action in ({"action": "accept"}, {"action": "investigate", "note": "n"}, {"action": "forward"}):
        act(db, OPERATOR, c["id"], **action)
    later = dt.datetime.utcnow() + dt.timedelta(days=14)
    with db.transaction() as session:
        assert complaints.escalate_due(session) == []              # not yet
        assert [x.id for x in complaints.escalate_due(session, at=later)] == [c["id"]]
        assert complaints.escalate_due(session, at=later) == []    # once
    steps = call(db, "get_complaint", OPERATOR, complaint_id=c["id"], query={})["steps"]
    assert steps[-1]["action"] == "escalate" and steps[-1]["note"] == "regulator"
    assert call(db, "get_complaint", OPERATOR, complaint_id=c["id"], query={})["escalated_to"] == "regulator"
    # The rule's role and the handler who accepted it are told; an event says so (ids only).
    regulator = {"user_id": "reg-1", "role": "regulator"}
    [notice] = call(db, "list_escalation_notices", regulator, query={})["items"]
    assert notice["kind"] == "complaint.escalated" and notice["subject_id"] == c["id"]
    assert notice["to_role"] == "regulator" and c["number"] in notice["message"]
    [mine] = call(db, "list_escalation_notices", OPERATOR, query={"unread": "true"})["items"]
    assert mine["to_role"] is None
    assert call(db, "read_escalation_notice", OPERATOR, notice_id=mine["id"])["read_at"]
    assert call(db, "list_escalation_notices", OPERATOR, query={"unread": "true"})["items"] == []
    with pytest.raises(NotFound):     # not theirs
        call(db, "read_escalation_notice", WINDOW, notice_id=notice["id"])
    [event] = events(db, "complaint.escalated")
    assert event["data"]["escalated_to"] == "regulator" and event["data"]["complaint_id"] == c["id"]
    assert "张" not in json.dumps(event) and "139" not in json.dumps(event)


def test_a_rectification_past_its_limit_is_escalated_to_operators(db):
    from services.common import sla
    from services.feedback import escalations
    from services.feedback.tests.unit.test_statistics import rate
    bad = rate(db, {"overall": "dissatisfied", "process": "basic", "efficiency": "dissatisfied",
                    "attitude": "basic", "reason_tags": ["slow"], "text": "太慢"})
    with db.transaction() as session:
        overdue = sla.sweep_overdue(session, now=dt.datetime.utcnow() + dt.timedelta(days=30))
        assert escalations.rectifications_overdue(session, overdue) == 1
    [notice] = call(db, "list_escalation_notices", OPERATOR_2, query={})["items"]
    assert notice["kind"] == "rectification.escalated" and notice["subject_id"] == bad["rectification_id"]
    rule = sla.get_rule("feedback.rectification_verify")      # read by people: the limit's words, not its id
    assert rule.description_zh in notice["message"] and "feedback.rectification" not in notice["message"]
    [event] = events(db, "rectification.escalated")
    assert event["data"]["rule"] == "feedback.rectification_verify"
    from services.feedback.common import steps_of
    with db.read() as session:         # the same shape as a complaint's escalation: the case's step
        assert [(s.action, s.note) for s in steps_of(session, "rectification", bad["rectification_id"])][-1] == \
            ("escalate", "feedback.rectification_verify")


def _complaints(db):
    with db.read() as session:
        return session.scalars(select(Complaint)).all()


@pytest.mark.parametrize("change, field", [
    ({"institution_id": "no-such-institution"}, "institution_id"),
    ({"link_type": "booking", "link_id": "d-1"}, "link_id"),                 # a demand's id is not a booking
    ({"link_type": "sample", "link_id": "s-9"}, "link_id"),                  # of another institution
    ({"link_type": "report", "link_id": "r-9"}, "link_id"),                  # of another enterprise
])
def test_a_complaint_names_a_known_institution_and_linked_service_or_writes_nothing(db, change, field):
    reference(db, "delivery", "sample.received", {"sample_id": "s-9", "enterprise_id": ENTERPRISE["user_id"],
                                                  "institution_id": "other"})
    reference(db, "delivery", "report.registered", {"report_id": "r-9", "enterprise_id": "ent-someone-else",
                                                    "institution_id": INSTITUTION_ID})
    with pytest.raises(ValidationFailed) as refused:
        call(db, "file_complaint", ENTERPRISE, payload={**WEB, **change})
    assert refused.value.code == "complaint_reference_unknown" and field in refused.value.errors
    assert _complaints(db) == []


def test_a_deregistered_institution_takes_no_new_complaints_but_a_known_link_is_accepted(db):
    from services.common.consumer import handle_once
    from services.common.events import make_envelope
    from services.feedback import statistics
    reference(db, "booking", "booking.requested", {"booking_id": "b-1", "institution_id": INSTITUTION_ID})
    assert call(db, "file_complaint", ENTERPRISE, payload={**WEB, "link_type": "booking", "link_id": "b-1"})["number"]
    handle_once(db, "feedback.t", make_envelope("registry", "institution.deregistered", INSTITUTION_ID, {
        "institution_id": INSTITUTION_ID, "revision": 3, "reason": "注销", "forced": False,
        "deregistered_at": "2026-11-01T00:00:00Z"}), statistics.apply_institution_event)
    with pytest.raises(ValidationFailed) as refused:
        call(db, "file_complaint", ENTERPRISE, payload=WEB)
    assert refused.value.errors == {"institution_id": ["不是平台入驻的技术机构 / Not an institution of the platform"]}
    assert len(_complaints(db)) == 1


def test_pause_intervals_survive_a_change_of_the_rules_and_a_recompute(db, tmp_path, monkeypatch):
    """Waiting for the complainant stays excluded after the rules file changes and clocks are recomputed."""
    from services.common import sla
    from services.common.config import sla_rules_file
    from services.common.sla_recompute import recompute_changed
    from services.feedback.common import happening_at
    start = dt.datetime(2026, 11, 2, 2, 0)                 # Monday 10:00 Shanghai
    with happening_at(start):
        cid = call(db, "file_complaint", ENTERPRISE, payload=WEB)["id"]
        act(db, OPERATOR, cid, action="accept")
        act(db, OPERATOR, cid, action="pause", reason="等待投诉人补充材料")
    with happening_at(start + dt.timedelta(days=7)):       # a working week paused
        act(db, OPERATOR, cid, action="resume")

    def close_clock():
        with db.read() as s:
            clock = s.scalars(select(sla.SlaClock).where(sla.SlaClock.subject_id == cid,
                                                         sla.SlaClock.rule == "feedback.complaint_close")).one()
            return clock.due_at, clock.limit_working_days
    before = close_clock()
    assert before[0] > dt.datetime(2026, 11, 2) + dt.timedelta(days=21 + 7)      # 15 wd + the paused 5 wd
    doc = json.loads(sla_rules_file().read_text(encoding="utf-8"))
    for rule in doc["rules"]:
        if rule["name"] == "feedback.complaint_close":
            rule["limit_working_days"] = 20
    changed = tmp_path / "sla_rules.json"
    changed.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setenv("QI_SLA_RULES_FILE", str(changed))
    with db.transaction() as s:
        s.execute(text("UPDATE sla_clock SET calendar_version = NULL"))
    with db.transaction() as s:
        assert recompute_changed(s) >= 1
    after = close_clock()
    assert after == before
    shown = call(db, "get_complaint", OPERATOR, complaint_id=cid, query={})
    assert len(shown["pauses"]) == 1 and shown["pauses"][0]["ended_at"]
