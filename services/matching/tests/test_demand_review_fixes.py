"""Review findings on demands: closing vs the SLA clocks (R-6.3.2.1), Idempotency-Key on
every creating write (API.md), staff filing only for active enterprise accounts, and
upper bounds on every number a client sends."""
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.matching import demands, schemas

from .helpers import ENTERPRISE, OPERATOR, WINDOW, apply, events, profile, profile_event
from .test_demands import DEMAND, DIRECTORY, clocks, publish, service, utc  # noqa: F401 (fixture)

RESPONSE, RECOMMENDATION = "matching.demand_response", "matching.demand_recommendation"


def _sample(name, rule):
    return REGISTRY.get_sample_value(name, {"rule": rule}) or 0.0


def close(db, principal, demand_id, at=None, **data):
    with db.transaction() as session:
        return demands.close(session, principal, demand_id, data, at=at)


# -- 1. closing and the SLA clocks ---------------------------------------------------------------
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
    from services.common import sla
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
        demands.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 15, 9, 0), outcome="unresolved", note="企业未再联系")
    assert {c["rule"]: c["state"] for c in closed["sla"]} == {RESPONSE: "met", RECOMMENDATION: "cancelled"}


# Issue 8 point 12: a responded demand closed without any recommendation.
def test_closing_a_responded_demand_before_the_recommendation_is_due_cancels_that_clock(db):
    # Published Monday 14 Sep 2026: recommendation due Thursday 17 (3 working days).
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    with db.transaction() as session:
        demands.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
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
        demands.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
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
        demands.recommend(session, OPERATOR, view["id"], {"institutions": [{"institution_id": lab["institution_id"]}]},
                          at=utc(2026, 9, 15, 9, 0))
    closed = close(db, OPERATOR, view["id"], at=utc(2026, 9, 30, 9, 0), outcome="completed")
    assert {c["rule"]: c["state"] for c in closed["sla"]} == {RESPONSE: "met", RECOMMENDATION: "met"}


# -- 2. Idempotency-Key -----------------------------------------------------------------------------
def _lab(db):
    lab = profile()
    apply(db, profile_event(lab))
    return lab["institution_id"]


CASES = {
    "respond": (OPERATOR, lambda lab: {"message": "已收到"}, "response", "demand.responded"),
    "recommend": (OPERATOR, lambda lab: {"institutions": [{"institution_id": lab, "reason": "能力匹配"}]},
                  "recommendation", "demand.recommended"),
    "follow_up": (OPERATOR, lambda lab: {"kind": "coordination", "note": "协调送样"}, "follow_up", None),
    "refer": (OPERATOR, lambda lab: {"external_name": "上海某检测有限公司", "reason": "本地无资质"}, "referral",
              "demand.referred"),
    "close_demand": (ENTERPRISE, lambda lab: {"outcome": "withdrawn", "note": "不再需要"}, "closing", "demand.closed"),
}


@pytest.mark.parametrize("method", sorted(CASES))
def test_the_same_key_writes_once_and_a_reused_key_is_refused(service, db, method):
    principal, body, kind, event_type = CASES[method]
    demand_id = service.publish_demand(ENTERPRISE, dict(DEMAND))["id"]
    payload = body(_lab(db))
    call = getattr(service, method)
    first = call(principal, demand_id, payload, idempotency_key="key-1")
    again = call(principal, demand_id, payload, idempotency_key="key-1")
    assert again == first
    timeline = service.get_demand(OPERATOR, demand_id)["timeline"]
    assert [e["kind"] for e in timeline].count(kind) == 1
    if event_type:
        assert len(events(db, event_type)) == 1
    with pytest.raises(Conflict) as reused:
        call(principal, demand_id, {**payload, ("message" if method == "respond" else "note"): "另一个请求"},
             idempotency_key="key-1")
    assert reused.value.code == "idempotency_key_reused"
    other = service.publish_demand(ENTERPRISE, dict(DEMAND))["id"]
    with pytest.raises(Conflict) as elsewhere:  # the same key on another demand is another request
        call(principal, other, payload, idempotency_key="key-1")
    assert elsewhere.value.code == "idempotency_key_reused"


def test_without_a_key_each_call_writes(service):
    demand_id = service.publish_demand(ENTERPRISE, dict(DEMAND))["id"]
    service.follow_up(OPERATOR, demand_id, {"note": "一"})
    view = service.follow_up(OPERATOR, demand_id, {"note": "一"})
    assert [e["kind"] for e in view["timeline"]] == ["follow_up", "follow_up"]


# -- 3. staff file for active enterprise accounts only -------------------------------------------------
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
        view = demands.publish(session, ENTERPRISE, dict(DEMAND))
    assert view["enterprise_user_id"] == ENTERPRISE["user_id"]


def test_a_visit_names_an_existing_enterprise_or_writes_nothing(db):
    visit = {"enterprise_name": "泰州某电缆厂", "enterprise_user_id": "no-such-user", "visited_on": "2026-09-15",
             "demands": [dict(DEMAND)]}
    with db.transaction() as session, pytest.raises(ValidationFailed) as refused:
        demands.log_visit(session, WINDOW, "window-A", visit, enterprise_lookup=DIRECTORY.get)
    assert "enterprise_user_id" in refused.value.errors
    with db.read() as session:
        assert demands.list_visits(session, OPERATOR, None)["total"] == 0


def test_service_asks_identity_as_the_caller(service):
    with pytest.raises(ValidationFailed):
        service.publish_demand(OPERATOR, {**DEMAND, "enterprise_user_id": "no-such-user", "channel": "phone"})
    filed = service.publish_demand(OPERATOR, {**DEMAND, "enterprise_user_id": ENTERPRISE["user_id"],
                                              "channel": "phone"})
    assert filed["enterprise_user_id"] == ENTERPRISE["user_id"]
    service.identity.account_kind.assert_called_with(ENTERPRISE["user_id"])  # as the caller (token in context)


def test_window_staff_filings_are_checked_once_per_request(service):
    visit = service.log_visit(WINDOW, {"enterprise_name": "泰州某电缆厂", "enterprise_user_id": ENTERPRISE["user_id"],
                                       "visited_on": "2026-09-15", "demands": [dict(DEMAND), dict(DEMAND)]})
    assert len(visit["demand_ids"]) == 2
    lookups = [c for c in service.identity.account_kind.call_args_list if c.args[0] == ENTERPRISE["user_id"]]
    assert len(lookups) == 1  # memoised for the visit and its demands
    with pytest.raises(ValidationFailed) as refused:
        service.log_visit(WINDOW, {"enterprise_name": "无此企业", "enterprise_user_id": "no-such-user",
                                   "visited_on": "2026-09-15", "demands": [dict(DEMAND)]})
    assert "enterprise_user_id" in refused.value.errors
    service.identity.account_kind.side_effect = Forbidden("no")
    with pytest.raises(Forbidden):
        service._enterprise_lookup(OPERATOR)(ENTERPRISE["user_id"])


# -- 4. bounded numbers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("schema,payload,field", [
    (schemas.PackageCreate, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                             "package_price_yuan": 1e307}, "package_price_yuan"),
    (schemas.PackageCreate, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                             "package_price_yuan": "10000000000"}, "package_price_yuan"),
    (schemas.DemandCreate, {**DEMAND, "budget_yuan": 1e307}, "budget_yuan"),
    (schemas.DemandCreate, {**DEMAND, "desired_cycle_working_days": 10 ** 30}, "desired_cycle_working_days"),
    (schemas.VisitCreate, {"enterprise_name": "某厂", "visited_on": "2026-09-15",
                           "demands": [{**DEMAND, "budget_yuan": 1e11}]}, "demands"),
    (schemas.EngagementCreate, {"institution_id": "i", "agreed_items": ["a"], "agreed_cycle_working_days": 10 ** 9},
     "agreed_cycle_working_days"),
    (schemas.SearchQuery, {"price_max": 1e307}, "price_max"),
    (schemas.SearchQuery, {"cycle_max": 2 ** 63}, "cycle_max"),
    (schemas.SearchQuery, {"limit": 10 ** 6}, "limit"),
    (schemas.DemandListQuery, {"limit": 201}, "limit"),
    (schemas.VisitListQuery, {"limit": 201}, "limit"),
    (schemas.ProposalQuery, {"limit": 51}, "limit"),
])
def test_huge_numbers_are_a_validation_error(schema, payload, field):
    with pytest.raises(ValidationFailed) as refused:
        schemas.load(schema, payload)
    assert refused.value.status == 422 and field in refused.value.errors


def test_the_bounds_still_admit_real_values():
    loaded = schemas.load(schemas.PackageCreate, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                                                  "package_price_yuan": "9999999999.99"})
    assert loaded["package_price_yuan"] == Decimal("9999999999.99")
    assert schemas.load(schemas.SearchQuery, {"cycle_max": 3650, "price_max": "0"})["cycle_max"] == 3650


def test_a_huge_package_price_is_422_not_an_overflow(service):
    with pytest.raises(ValidationFailed):
        service.create_package(OPERATOR, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                                          "package_price_yuan": 1e307})



# -- issue 8 point 12: GET /sla/demands without a state -----------------------------------------------------
def test_sla_demands_rpc_without_a_state_lists_every_running_demand_clock(db, service):
    view = publish(db)
    listed = service.sla_demands(OPERATOR, {})
    assert listed["state"] == "all"
    assert {(i["demand"]["id"], i["clock"]["rule"]) for i in listed["items"]} == {
        (view["id"], RESPONSE), (view["id"], RECOMMENDATION)}
    assert service.sla_demands(OPERATOR, {"state": "overdue"})["items"] == []
    with pytest.raises(ValidationFailed):
        service.sla_demands(OPERATOR, {"state": "late"})
