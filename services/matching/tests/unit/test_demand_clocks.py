"""Demand clocks: a recommendation answers the response clock too, overdue before any sweep, the calendar gap."""
from services.common import sla
from services.matching import clocks as demand_clocks, handling

from ..helpers import (OPERATOR, RECOMMENDATION, RESPONSE, apply, breached, capability, clocks, met, profile,
                       profile_event, publish, shown, utc)


def test_recommendation_without_response_stops_the_response_clock_in_time(db):
    lab = profile(capabilities=[capability(method_standard="GB/T 3956-2008")])
    apply(db, profile_event(lab))
    view = publish(db, at=utc(2026, 9, 14, 9, 0))                      # response due 09-15
    met_before, breached_before = met(RESPONSE), breached(RESPONSE)
    with db.transaction() as session:
        view = shown("recommend", handling.recommend(
            session, OPERATOR, view["id"], {"institutions": [{"institution_id": lab["institution_id"], "reason": "能力匹配"}]},
            at=utc(2026, 9, 14, 15, 0)))
    assert clocks(view)[RESPONSE]["state"] == "met"
    assert clocks(view)[RECOMMENDATION]["state"] == "met"
    assert met(RESPONSE) == met_before + 1
    with db.transaction() as session:
        assert sla.sweep_overdue(session, now=utc(2026, 9, 17, 9, 0)) == []
    with db.read() as session:
        assert demand_clocks.sla_demands(session, OPERATOR, "overdue", now=utc(2026, 9, 17, 9, 0))["items"] == []
    assert breached(RESPONSE) == breached_before


def test_overdue_demands_are_listed_before_any_sweep(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))                     # response due Sunday 09-20 (调休)
    with db.read() as session:
        late = shown("sla_demands", demand_clocks.sla_demands(session, OPERATOR, "overdue",
                                                             now=utc(2026, 9, 21, 10, 0)))
        assert [(i["demand"]["id"], i["clock"]["rule"], i["clock"]["overdue"]) for i in late["items"]] \
            == [(view["id"], RESPONSE, True)]
        # Real now is months later: both clocks are past due, none was swept.
        listed = demand_clocks.open_clocks(session, OPERATOR, overdue=True)
        assert {c["rule"] for c in listed if c["subject_id"] == view["id"]} == {RESPONSE, RECOMMENDATION}
        assert all(c["due_state"] == "overdue" for c in listed)


def test_calendar_gap_demands_have_their_own_list_and_a_note(db):
    view = publish(db, at=utc(2026, 12, 30, 10, 0))
    assert clocks(view)[RESPONSE]["due_local"].startswith("2026-12-31T23:59:59")
    gap = clocks(view)[RECOMMENDATION]
    assert gap["due_at"] is None and gap["due_state"] == "calendar_gap"
    assert gap["due_note"]["zh"] == "2027年节假日安排公布并导入后给出截止时间"
    with db.read() as session:
        listed = shown("sla_demands", demand_clocks.sla_demands(session, OPERATOR, "calendar_gap",
                                                               now=utc(2026, 12, 30, 11, 0)))
        assert [(i["demand"]["id"], i["clock"]["rule"]) for i in listed["items"]] == [(view["id"], RECOMMENDATION)]
        assert demand_clocks.sla_demands(session, OPERATOR, "overdue", now=utc(2026, 12, 30, 11, 0))["items"] == []
        only_gap = demand_clocks.open_clocks(session, OPERATOR, calendar_gap=True)
        assert [(c["subject_id"], c["rule"]) for c in only_gap] == [(view["id"], RECOMMENDATION)]
