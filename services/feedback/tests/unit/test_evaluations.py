"""One evaluation per finished service: invitations, rating rules, who may rate, expiry, methods."""
from __future__ import annotations

import datetime as dt

import pytest

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.feedback.service import invite_from
from services.feedback.tests.helpers import (BAD, ENTERPRISE, GOOD, HANDLER, INSTITUTION, OPERATOR, OTHER_ENTERPRISE,
                                             REGULATOR, WINDOW, block, call, events, finished_event, invite)


@pytest.mark.parametrize("service_type", ["demand", "window_case", "booking", "appointment", "report_delivery",
                                          "complaint"])
def test_each_finished_service_opens_exactly_one_invitation(db, service_type):
    b = block(service_type=service_type)
    env = finished_event(b)
    assert invite_from(db, "feedback.on_x", env) == "opened"
    assert invite_from(db, "feedback.on_x", env) == "duplicate"            # redelivered: same event id
    replay = finished_event(b)                                            # replayed: a new id, same service
    assert invite_from(db, "feedback.on_x", replay) == "exists"
    page = call(db, "list_evaluations", ENTERPRISE, query={})
    assert page["total"] == 1 and page["items"][0]["state"] == "invited"
    assert page["items"][0]["due_at"] is not None
    invited = events(db, "evaluation.invited")
    assert len(invited) == 1 and "enterprise_id" not in invited[0]["data"]


def test_an_event_without_the_block_opens_nothing(db):
    from services.common.events import make_envelope
    assert invite_from(db, "feedback.on_x", make_envelope("matching", "demand.closed", "d1", {"id": "d1"})) == "skipped"
    assert call(db, "list_evaluations", ENTERPRISE, query={})["total"] == 0


def test_submitted_once_one_comment_no_edits(db):
    e = invite(db)
    out = call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=GOOD)
    assert out["state"] == "submitted" and out["overall"] == "satisfied" and out["entered_by_staff"] is False
    with pytest.raises(Conflict) as again:
        call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload={**GOOD, "overall": "basic"})
    assert again.value.code == "evaluation_closed"
    out = call(db, "comment_evaluation", ENTERPRISE, evaluation_id=e["id"], payload={"comment": "后来补充说明"})
    assert out["comment"] == "后来补充说明" and out["comment_at"]
    with pytest.raises(Conflict):
        call(db, "comment_evaluation", ENTERPRISE, evaluation_id=e["id"], payload={"comment": "再改一次"})
    assert call(db, "get_evaluation", ENTERPRISE, evaluation_id=e["id"])["overall"] == "satisfied"
    submitted = events(db, "evaluation.submitted")
    assert len(submitted) == 1 and submitted[0]["data"]["dimensions"]["efficiency"] == "very_satisfied"


def test_dissatisfied_needs_reason_tags_and_text_and_nothing_is_written(db):
    e = invite(db)
    for payload in ({**BAD, "reason_tags": []}, {**BAD, "text": None}, {**BAD, "text": "  "},
                    {**GOOD, "overall": "awful"}, {**GOOD, "extra": 1}, {**BAD, "reason_tags": ["nonsense"]}):
        with pytest.raises(ValidationFailed):
            call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=payload)
    assert call(db, "get_evaluation", ENTERPRISE, evaluation_id=e["id"])["state"] == "invited"
    assert events(db, "evaluation.submitted") == []
    out = call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=BAD)
    assert out["reason_tags"] == ["slow"] and out["rectification_id"]


@pytest.mark.parametrize("who", ["handler", "institution", "window", "other_enterprise", "regulator"])
def test_interested_parties_and_strangers_cannot_evaluate(db, who):
    e = invite(db)
    principal = {"handler": {**HANDLER, "window_id": "win-9"}, "institution": INSTITUTION, "window": WINDOW,
                 "other_enterprise": OTHER_ENTERPRISE, "regulator": REGULATOR}[who]
    payload = GOOD if who in ("other_enterprise", "regulator") else {**GOOD, "channel": "phone",
                                                                      "call_reference": "C1"}
    with pytest.raises((Forbidden, NotFound)):
        call(db, "submit_evaluation", principal, evaluation_id=e["id"], payload=payload)
    assert call(db, "get_evaluation", ENTERPRISE, evaluation_id=e["id"])["state"] == "invited"


def test_staff_enter_phone_answers_marked_as_such(db):
    e = invite(db)
    with pytest.raises(Forbidden):          # staff: phone or sms only, with a call reference
        call(db, "submit_evaluation", OPERATOR, evaluation_id=e["id"], payload=GOOD)
    with pytest.raises(ValidationFailed):
        call(db, "submit_evaluation", OPERATOR, evaluation_id=e["id"], payload={**GOOD, "channel": "phone"})
    with pytest.raises(Forbidden):          # the customer does not claim a phone answer
        call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"],
             payload={**GOOD, "channel": "sms", "call_reference": "x"})
    out = call(db, "submit_evaluation", OPERATOR, evaluation_id=e["id"],
               payload={**GOOD, "channel": "phone", "call_reference": "CALL-0815"})
    assert out["entered_by_staff"] is True and out["entered_by"] == OPERATOR["user_id"]
    assert out["call_reference"] == "CALL-0815" and out["channel"] == "phone"


def test_unanswered_invitation_expires_as_not_evaluated(db):
    from services.feedback import evaluations
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)).isoformat()
    stale, fresh = invite(db, finished_at=old), invite(db)
    with db.transaction() as session:
        expired = evaluations.expire_due(session)
    assert [x.id for x in expired] == [stale["id"]]
    page = call(db, "list_evaluations", ENTERPRISE, query={"state": "expired"})
    assert [x["id"] for x in page["items"]] == [stale["id"]] and page["items"][0]["overall"] is None
    with pytest.raises(Conflict):
        call(db, "submit_evaluation", ENTERPRISE, evaluation_id=stale["id"], payload=GOOD)
    assert call(db, "get_evaluation", ENTERPRISE, evaluation_id=fresh["id"])["state"] == "invited"
    assert len(events(db, "evaluation.expired")) == 1


def test_self_and_third_party_assessments_and_combined_score(db):
    e = invite(db)
    call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=GOOD)   # 4
    with pytest.raises(NotFound):
        call(db, "assess_evaluation", OTHER_ENTERPRISE, evaluation_id=e["id"],
             payload={"method": "self", "rating": "very_satisfied"})
    with pytest.raises(Forbidden):
        call(db, "assess_evaluation", ENTERPRISE, evaluation_id=e["id"],
             payload={"method": "third_party", "rating": "very_satisfied"})
    out = call(db, "assess_evaluation", INSTITUTION, evaluation_id=e["id"],
               payload={"method": "self", "rating": "very_satisfied"})                   # 5
    assert out["assessments"][0]["method"] == "self"
    batch = call(db, "import_third_party", OPERATOR, payload={"batch": "2026Q3-survey",
                                                              "items": [{"evaluation_id": e["id"], "rating": "basic"}]})
    assert batch == {"batch": "2026Q3-survey", "imported": 1}                            # 3
    out = call(db, "get_evaluation", OPERATOR, evaluation_id=e["id"])
    assert out["combined_score"] == pytest.approx(0.6 * 4 + 0.1 * 5 + 0.3 * 3)
    with pytest.raises(NotFound):
        call(db, "import_third_party", OPERATOR, payload={"batch": "b2", "items": [{"evaluation_id": "nope",
                                                                                   "rating": "basic"}]})
    with pytest.raises(Forbidden):
        call(db, "import_third_party", REGULATOR, payload={"batch": "b3", "items": []})


def test_institution_sees_its_evaluations_only(db):
    mine = invite(db)
    invite(db, institution_id="inst-other")
    page = call(db, "list_evaluations", INSTITUTION, query={})
    assert [x["id"] for x in page["items"]] == [mine["id"]]
    with pytest.raises(NotFound):
        call(db, "get_evaluation", OTHER_ENTERPRISE, evaluation_id=mine["id"])


def test_each_evaluation_announces_the_institution_rating(db):
    e = invite(db)
    call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=GOOD)
    rated = events(db, "institution.rated")
    assert len(rated) == 1
    data = rated[0]["data"]
    assert data["institution_id"] == "inst-1" and data["satisfaction"] == 1.0 and data["evaluations"] == 1
    assert data["period"].startswith("20") and "-Q" in data["period"] and data["computed_at"].endswith("Z")


def test_each_producers_documented_example_opens_an_invitation(db):
    """The consumers are built against the documented events (docs/asyncapi.yaml is generated from
    these contracts): every finished-service example, as its producer declares it, opens one."""
    import importlib

    from services.common.events import make_envelope
    from services.feedback.service import FINISHED
    for consumer, (source, event_type) in FINISHED.items():
        declared = importlib.import_module(f"services.{source}.contract.events").EVENTS
        example = next(e.example for e in declared if e.type == event_type)
        assert example and example.get("evaluation"), (source, event_type)
        envelope = make_envelope(source, event_type, "example", example)
        assert invite_from(db, f"feedback.{consumer}", envelope) == "opened", (source, event_type)
    assert call(db, "list_evaluations", OPERATOR, query={})["total"] == len(FINISHED)
