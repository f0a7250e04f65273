"""The on-time rates and instrument hours of the quarterly statistics come from other services'
events: sla.clock_closed (every service, feedback's own too) and booking.completed."""
from __future__ import annotations

from services.common.consumer import handle_once
from services.common.events import make_envelope
from services.feedback import service_figures
from services.feedback.service import CLOCK_VERDICTS, INSTRUMENT_USE
from services.feedback.tests.helpers import GOOD, OPERATOR, call, events
from services.feedback.tests.unit.test_statistics import rate


def verdict(source, rule, outcome, clock_id, stopped_at="2026-08-12T02:00:00Z", judged_at=None,
            institution_id=None, window_id=None):
    return make_envelope(source, "sla.clock_closed", clock_id, {
        "clock_id": clock_id, "rule": rule, "subject_type": "x", "subject_id": f"s-{clock_id}", "outcome": outcome,
        "started_at": "2026-08-10T02:00:00Z", "due_at": "2026-08-11T15:59:59.999999Z", "stopped_at": stopped_at,
        "limit_working_days": 1, "institution_id": institution_id, "window_id": window_id,
        "judged_at": judged_at or stopped_at, "rejudged": False})


def take(db, envelope, consumer="feedback.on_x_clock_closed"):
    return handle_once(db, consumer, envelope, service_figures.apply_clock_closed)


def test_every_service_is_subscribed_and_feedback_too():
    assert set(CLOCK_VERDICTS.values()) == {(s, "sla.clock_closed") for s in
                                           ("identity", "registry", "matching", "booking", "feedback", "delivery")}
    assert INSTRUMENT_USE == {"on_booking_used": ("booking", "booking.completed")}


def test_on_time_per_rule_for_platform_institution_and_window(db):
    take(db, verdict("booking", "booking.approval", "met", "c1", institution_id="inst-1"))
    take(db, verdict("booking", "booking.approval", "breached", "c2", institution_id="inst-1"))
    take(db, verdict("matching", "matching.demand_response", "met", "c3", window_id="win-7"))
    take(db, verdict("delivery", "delivery.lab_report", "met", "c4", stopped_at="2026-10-02T02:00:00Z",
                     institution_id="inst-1"))                                   # Q4: not counted in Q3
    take(db, verdict("feedback", "feedback.evaluation_window", "breached", "c5"))  # not a service limit
    body = call(db, "preview_quarter", OPERATOR, query={"year": "2026", "quarter": "3"})
    assert body["platform"]["on_time"] == [
        {"rule": "booking.approval", "met": 1, "breached": 1, "on_time_rate": 0.5},
        {"rule": "matching.demand_response", "met": 1, "breached": 0, "on_time_rate": 1.0}]
    assert body["platform"]["on_time_rate"] == round(2 / 3, 4)
    [inst] = body["institutions"]          # an institution with judged clocks only is listed too
    assert inst["institution_id"] == "inst-1" and inst["on_time_rate"] == 0.5 and inst["services_finished"] == 0
    [window] = body["windows"]
    assert window["window_id"] == "win-7" and window["on_time"][0]["rule"] == "matching.demand_response"


def test_a_licence_review_counts_for_the_platform_only(db):
    """Operators review licences for the platform (services/identity/licence.py): its verdicts name no
    institution or window, so they are in the platform's rates and in no institution's or window's."""
    take(db, verdict("identity", "identity.licence_review", "breached", "c1"))
    take(db, verdict("identity", "identity.licence_review", "met", "c2"))
    take(db, verdict("booking", "booking.approval", "met", "c3", institution_id="inst-1", window_id="win-7"))
    body = call(db, "preview_quarter", OPERATOR, query={"year": "2026", "quarter": "3"})
    assert {r["rule"]: (r["met"], r["breached"]) for r in body["platform"]["on_time"]} == {
        "identity.licence_review": (1, 1), "booking.approval": (1, 0)}
    assert body["platform"]["on_time_rate"] == round(2 / 3, 4)
    [inst], [window] = body["institutions"], body["windows"]
    assert [r["rule"] for r in inst["on_time"]] == [r["rule"] for r in window["on_time"]] == ["booking.approval"]
    assert inst["on_time_rate"] == window["on_time_rate"] == 1.0


def test_a_redelivery_counts_once_and_a_later_verdict_replaces_an_earlier_one(db):
    first = verdict("registry", "registry.application_review", "met", "c1", judged_at="2026-08-12T02:00:00Z")
    assert take(db, first) is True and take(db, first) is False                  # the same event again
    take(db, verdict("registry", "registry.application_review", "breached", "c1", judged_at="2026-08-20T02:00:00Z"))
    take(db, verdict("registry", "registry.application_review", "met", "c1", judged_at="2026-08-13T02:00:00Z"))
    body = call(db, "preview_quarter", OPERATOR, query={"year": "2026", "quarter": "3"})
    assert body["platform"]["on_time"] == [{"rule": "registry.application_review", "met": 0, "breached": 1,
                                            "on_time_rate": 0.0}]


def test_feedbacks_own_clocks_arrive_the_same_way(db):
    """A rectification clock closed here is recorded as sla.clock_closed, and only counts once taken."""
    bad = rate(db, {"overall": "dissatisfied", "process": "basic", "efficiency": "dissatisfied", "attitude": "basic",
                    "reason_tags": ["slow"], "text": "太慢"})
    call(db, "advance_rectification", OPERATOR, rectification_id=bad["rectification_id"],
         payload={"action": "verify", "cause_analysis": "人手不足"})
    own = [e for e in events(db, "sla.clock_closed") if e["data"]["rule"] == "feedback.rectification_verify"]
    assert len(own) == 1 and own[0]["source"] == "feedback" and own[0]["data"]["outcome"] == "met"
    assert service_figures.take_own_recorded(db) >= 1
    assert service_figures.take_own_recorded(db) == 0                             # taken once
    from services.common.db import utcnow
    from services.feedback.statistics import quarter_of
    year, quarter = quarter_of(utcnow())                     # the verification happened now
    body = call(db, "preview_quarter", OPERATOR, query={"year": str(year), "quarter": str(quarter)})
    assert "feedback.rectification_verify" in {r["rule"] for r in body["platform"]["on_time"]}


def completed(booking_id, starts, ends, used, institution_id="inst-1", instrument_id="ins-1"):
    return make_envelope("booking", "booking.completed", booking_id, {
        "booking_id": booking_id, "instrument_id": instrument_id, "institution_id": institution_id,
        "status": "completed", "mode": "self", "starts_at": starts, "ends_at": ends, "actual_start": starts,
        "actual_end": ends, "used_minutes": used, "evaluation": None})


def test_instrument_hours_booked_and_used_per_institution_and_platform(db):
    use = lambda env: handle_once(db, "feedback.on_booking_used", env, service_figures.apply_booking_completed)  # noqa
    assert use(completed("b1", "2026-08-11T01:00:00Z", "2026-08-11T03:00:00Z", 90)) is True
    use(completed("b2", "2026-08-12T01:00:00Z", "2026-08-12T02:00:00Z", 60, instrument_id="ins-2"))
    use(completed("b3", "2026-08-12T01:00:00Z", "2026-08-12T05:00:00Z", 30, institution_id="inst-2"))
    use(completed("b4", "2026-10-12T01:00:00Z", "2026-10-12T05:00:00Z", 30))       # Q4
    again = completed("b1", "2026-08-11T01:00:00Z", "2026-08-11T03:00:00Z", 90)
    assert use(again) is True and use(again) is False                              # one row per booking
    rate(db, GOOD)
    body = call(db, "preview_quarter", OPERATOR, query={"year": "2026", "quarter": "3"})
    assert body["platform"]["instrument_hours"] == {"bookings": 3, "instruments": 2, "booked_hours": 7.0,
                                                    "used_hours": 3.0, "use_rate": round(180 / 420, 4)}
    by_id = {i["institution_id"]: i["instrument_hours"] for i in body["institutions"]}
    assert by_id["inst-1"] == {"bookings": 2, "instruments": 2, "booked_hours": 3.0, "used_hours": 2.5,
                               "use_rate": round(150 / 180, 4)}
    assert by_id["inst-2"]["booked_hours"] == 4.0
