"""Closing a demand (R-6.3.2.1): the outcome, what becomes of its SLA clocks, the finished-service
block of demand.closed; and staff filing only for active enterprise accounts."""
import pytest

from services.common import contracts, sla
from services.common.errors import Conflict, ValidationFailed
from services.matching import closing, demands, handling, visits

from ..helpers import (DEMAND, DIRECTORY, ENTERPRISE, OPERATOR, RECOMMENDATION, RESPONSE, WINDOW, apply, breached,
                       clocks, events, met, profile, profile_event, publish, shown, utc)


def _sample(name, rule):
    return (breached if name == "qi_sla_breached_total" else met)(rule)


def close(db, principal, demand_id, at=None, **data):
    with db.transaction() as session:
        return shown("close_demand", closing.close(session, principal, demand_id, data, at=at))


def test_operator_closing_an_unanswered_demand_late_counts_the_breach(db):
    # Published Friday 18 Sep 2026: response due Sunday 20 (a working day), recommendation Tuesday 22.
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    late = utc(2026, 9, 21, 9, 0)
    with pytest.raises(Conflict) as refused:
        close(db, OPERATOR, view["id"], at=late, outcome="completed")
    assert refused.value.code == "demand_unanswered"
    with pytest.raises(ValidationFailed) as no_reason:
        close(db, OPERATOR, view["id"], at=late, outcome="rejected", note="  ")
    assert "note" in no_reason.value.errors
    breached, met = _sample("qi_sla_breached_total", RESPONSE), _sample("qi_sla_met_total", RECOMMENDATION)

    closed = close(db, OPERATOR, view["id"], at=late, outcome="rejected", note="不属于检验检测服务范围")

    assert _sample("qi_sla_breached_total", RESPONSE) == breached + 1
    assert clocks(closed)[RESPONSE]["state"] == "breached"
    # Dismissed within the 3 days: no recommendation was made, none is owed any more.
    assert clocks(closed)[RECOMMENDATION]["state"] == "cancelled"
    assert _sample("qi_sla_met_total", RECOMMENDATION) == met
    assert (closed["status"], closed["outcome"]) == ("closed", "rejected")
    assert closed["timeline"][-1]["note"] == "不属于检验检测服务范围"


def test_a_breach_seen_by_the_sweep_is_not_counted_again_on_closing(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    with db.transaction() as session:
        sla.sweep_overdue(session, now=utc(2026, 9, 21, 9, 0))
    breached = _sample("qi_sla_breached_total", RESPONSE)
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 21, 10, 0), outcome="duplicate", note="同一需求重复提交")
    assert clocks(closed)[RESPONSE]["state"] == "breached"
    assert _sample("qi_sla_breached_total", RESPONSE) == breached


def test_only_the_enterprise_withdrawing_cancels_the_clocks(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    with pytest.raises(ValidationFailed) as staff:
        close(db, OPERATOR, view["id"], outcome="withdrawn", note="企业电话撤回")
    assert "outcome" in staff.value.errors
    with pytest.raises(ValidationFailed):
        close(db, ENTERPRISE, view["id"], outcome="rejected", note="x")  # a staff outcome
    breached = _sample("qi_sla_breached_total", RESPONSE)
    closed = close(db, ENTERPRISE, view["id"], at=utc(2026, 9, 21, 9, 0), outcome="withdrawn")
    assert {c["state"] for c in closed["sla"]} == {"cancelled"}
    assert _sample("qi_sla_breached_total", RESPONSE) == breached
    assert events(db, "demand.closed")[0]["data"]["outcome"] == "withdrawn"


def test_the_enterprise_closing_for_another_reason_is_never_the_answer(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    breached = _sample("qi_sla_breached_total", RESPONSE)
    closed = close(db, ENTERPRISE, view["id"], at=utc(2026, 9, 21, 9, 0), outcome="cancelled")
    assert clocks(closed)[RESPONSE]["state"] == "breached"  # past due, unanswered
    assert clocks(closed)[RECOMMENDATION]["state"] == "cancelled"  # not yet due, never recommended
    assert _sample("qi_sla_breached_total", RESPONSE) == breached + 1


def test_staff_close_an_answered_demand_with_any_outcome(db):
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    with db.transaction() as session:
        handling.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 15, 9, 0), outcome="unresolved", note="企业未再联系")
    assert {c["rule"]: c["state"] for c in closed["sla"]} == {RESPONSE: "met", RECOMMENDATION: "cancelled"}


# A responded demand closed without any recommendation.
def test_closing_a_responded_demand_before_the_recommendation_is_due_cancels_that_clock(db):
    # Published Monday 14 Sep 2026: recommendation due Thursday 17 (3 working days).
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    with db.transaction() as session:
        handling.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
    met, breached = _sample("qi_sla_met_total", RECOMMENDATION), _sample("qi_sla_breached_total", RECOMMENDATION)
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 16, 9, 0), outcome="completed")
    recommendation = clocks(closed)[RECOMMENDATION]
    assert recommendation["state"] == "cancelled" and recommendation["history"][-1]["action"] == "cancel"
    assert clocks(closed)[RESPONSE]["state"] == "met"
    assert (_sample("qi_sla_met_total", RECOMMENDATION), _sample("qi_sla_breached_total", RECOMMENDATION)) \
        == (met, breached)


def test_closing_a_responded_demand_after_the_recommendation_was_due_is_a_breach(db):
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    with db.transaction() as session:
        handling.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
    met, breached = _sample("qi_sla_met_total", RECOMMENDATION), _sample("qi_sla_breached_total", RECOMMENDATION)
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 18, 9, 0), outcome="unresolved", note="无机构可承接")
    assert clocks(closed)[RECOMMENDATION]["state"] == "breached"
    assert _sample("qi_sla_breached_total", RECOMMENDATION) == breached + 1
    assert _sample("qi_sla_met_total", RECOMMENDATION) == met


def test_a_recommendation_made_in_time_stays_met_when_the_demand_closes(db):
    lab = profile()
    apply(db, profile_event(lab))
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    with db.transaction() as session:
        handling.recommend(session, OPERATOR, view["id"], {"institutions": [{"institution_id": lab["institution_id"]}]},
                           at=utc(2026, 9, 15, 9, 0))
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 30, 9, 0), outcome="completed")
    assert {c["rule"]: c["state"] for c in closed["sla"]} == {RESPONSE: "met", RECOMMENDATION: "met"}


# -- staff file for active enterprise accounts only ---------------------------------------------------
@pytest.mark.parametrize("owner", ["no-such-user", "person-1", "closed-ent", OPERATOR["user_id"]])
def test_staff_cannot_file_for_anything_but_an_active_enterprise(db, owner):
    with pytest.raises(ValidationFailed) as refused:
        publish(db, principal=OPERATOR, enterprise_user_id=owner, channel="phone")
    assert "enterprise_user_id" in refused.value.errors
    with db.read() as session:
        assert demands.list_demands(session, OPERATOR)["total"] == 0


def test_the_check_is_never_skipped_for_staff(db):
    with db.transaction() as session, pytest.raises(RuntimeError):
        demands.publish(session, OPERATOR, {**DEMAND, "enterprise_user_id": ENTERPRISE["user_id"],
                                            "channel": "phone"})


def test_an_enterprise_publishing_its_own_needs_no_lookup(db):
    with db.transaction() as session:
        view = shown("publish_demand", demands.publish(session, ENTERPRISE, dict(DEMAND)))
    assert view["enterprise_user_id"] == ENTERPRISE["user_id"]


def test_a_visit_names_an_existing_enterprise_or_writes_nothing(db):
    visit = {"enterprise_name": "泰州某电缆厂", "enterprise_user_id": "no-such-user", "visited_on": "2026-09-15",
             "demands": [dict(DEMAND)]}
    with db.transaction() as session, pytest.raises(ValidationFailed) as refused:
        visits.log_visit(session, WINDOW, visit, window_of=lambda principal: "window-A",
                         enterprise_lookup=DIRECTORY.get)
    assert "enterprise_user_id" in refused.value.errors
    with db.read() as session:
        assert visits.list_visits(session, OPERATOR, window_of=lambda principal: None)["total"] == 0


# -- demand.closed carries the finished-service block feedback evaluates -------------------------------
def test_the_closed_event_names_the_handler_who_answered(db):
    lab = profile()
    apply(db, profile_event(lab))
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    with db.transaction() as session:
        handling.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
        handling.engage(session, ENTERPRISE, view["id"], {"institution_id": lab["institution_id"],
                                                          "agreed_items": ["导体电阻"]})
    closed = close(db, ENTERPRISE, view["id"], at=utc(2026, 9, 25, 9, 0), outcome="completed")
    [event] = events(db, "demand.closed")
    assert event["data"]["evaluation"] == {
        "service_type": "demand", "service_id": view["id"], "enterprise_id": ENTERPRISE["user_id"],
        "institution_id": lab["institution_id"], "window_id": None, "handler_id": OPERATOR["user_id"],
        "finished_at": closed["closed_at"]}
    for envelope in events(db):
        contracts.validate_envelope(envelope)


def test_a_demand_collected_on_a_visit_names_the_window(db):
    with db.transaction() as session:
        visit = shown("log_visit", visits.log_visit(
            session, WINDOW, {"enterprise_name": "泰州某电缆厂", "enterprise_user_id": ENTERPRISE["user_id"],
                              "visited_on": "2026-09-15", "demands": [dict(DEMAND)]},
            window_of=lambda principal: "window-A", enterprise_lookup=DIRECTORY.get))
    close(db, ENTERPRISE, visit["demand_ids"][0], outcome="withdrawn")
    evaluation = events(db, "demand.closed")[0]["data"]["evaluation"]
    assert (evaluation["window_id"], evaluation["handler_id"]) == ("window-A", WINDOW["user_id"])


def test_a_closed_event_without_its_evaluation_block_is_refused_on_write(db):
    from services.common.outbox import record_event
    with db.transaction() as session, pytest.raises(ValueError, match="evaluation"):
        record_event(session, "matching", "demand.closed", "d-1", {
            "demand_id": "d-1", "enterprise_user_id": ENTERPRISE["user_id"], "institution_id": None,
            "closed_at": "2026-09-14T01:00:00Z", "outcome": "completed"})


# -- whom the clocks' verdicts count for (sla.clock_closed: the statistics' on-time rates) -------------
def _visit_demand(db, at=None):
    """A demand collected on window-A's visit, published at `at` (Monday 14 Sep 2026 09:00: response due
    that day, recommendation Thursday 17th). WINDOW's token names no window: matching asks identity
    (window_of), and the visit keeps the answer."""
    with db.transaction() as session:
        visit = shown("log_visit", visits.log_visit(
            session, WINDOW, {"enterprise_name": "泰州某电缆厂", "enterprise_user_id": ENTERPRISE["user_id"],
                              "visited_on": "2026-09-14"},
            window_of=lambda principal: "window-A", enterprise_lookup=DIRECTORY.get))
        # As log_visit publishes the demands it collects, at a chosen time.
        view = demands.publish(session, WINDOW, {**DEMAND, "enterprise_user_id": ENTERPRISE["user_id"],
                                                 "channel": "visit", "visit_id": visit["id"]},
                               at=at or utc(2026, 9, 14, 9, 0), enterprise_lookup=DIRECTORY.get)
        return shown("publish_demand", view)["id"]


def _attribution(db, demand_id):
    with db.read() as session:
        return {c.rule: (c.state, c.institution_id, c.window_id) for c in session.query(sla.SlaClock)
                .filter(sla.SlaClock.subject_id == demand_id)}


def _unattributed(db, demand_id):
    # As clocks started before the demand's window was attributed (rows of an older release).
    with db.transaction() as session:
        for clock in session.query(sla.SlaClock).filter(sla.SlaClock.subject_id == demand_id):
            clock.institution_id = clock.window_id = None


def test_a_demand_collected_on_a_visit_starts_its_clocks_for_that_window(db):
    demand_id = _visit_demand(db)
    assert _attribution(db, demand_id) == {RESPONSE: ("running", None, "window-A"),
                                           RECOMMENDATION: ("running", None, "window-A")}


def test_a_breach_at_closing_counts_for_the_demands_window(db):
    demand_id = _visit_demand(db)
    _unattributed(db, demand_id)
    late = utc(2026, 9, 21, 9, 0)                       # both limits passed, nothing answered
    close(db, OPERATOR, demand_id, at=late, outcome="rejected", note="不属于检验检测服务范围")
    verdicts = {e["data"]["rule"]: e["data"] for e in events(db, "sla.clock_closed")}
    # The dismissal stops the response clock (stop_clock), the recommendation ends unanswered.
    assert {rule: (v["outcome"], v["institution_id"], v["window_id"]) for rule, v in verdicts.items()} == {
        RESPONSE: ("breached", None, "window-A"), RECOMMENDATION: ("breached", None, "window-A")}
    for envelope in events(db, "sla.clock_closed"):
        contracts.validate_envelope(envelope)


def test_clocks_cancelled_at_closing_keep_the_demands_window(db):
    withdrawn, early = _visit_demand(db), _visit_demand(db)
    _unattributed(db, withdrawn)
    close(db, ENTERPRISE, withdrawn, outcome="withdrawn")
    assert _attribution(db, withdrawn) == {RESPONSE: ("cancelled", None, "window-A"),
                                           RECOMMENDATION: ("cancelled", None, "window-A")}
    # Answered, then closed before the recommendation was due: that clock ends cancelled, attributed.
    _unattributed(db, early)
    with db.transaction() as session:
        handling.respond(session, OPERATOR, early, {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
    close(db, ENTERPRISE, early, at=utc(2026, 9, 15, 9, 0), outcome="completed")
    assert _attribution(db, early) == {RESPONSE: ("met", None, "window-A"),
                                       RECOMMENDATION: ("cancelled", None, "window-A")}
    [answered] = [e["data"] for e in events(db, "sla.clock_closed")]   # a cancelled clock has no verdict
    assert (answered["rule"], answered["outcome"], answered["window_id"]) == (RESPONSE, "met", "window-A")


def test_the_staff_member_dismissing_an_enterprises_own_demand_attributes_its_verdict(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    # Window staff act only on demands they filed: here an admin whose token names a window and an institution.
    admin = {"user_id": "admin-9", "role": "admin", "window_id": "window-B", "institution_id": "inst-3"}
    late = utc(2026, 9, 21, 9, 0)
    close(db, admin, view["id"], at=late, outcome="duplicate", note="同一需求重复提交")
    verdicts = {e["data"]["rule"]: e["data"] for e in events(db, "sla.clock_closed")}
    assert (verdicts[RESPONSE]["institution_id"], verdicts[RESPONSE]["window_id"]) == ("inst-3", "window-B")
