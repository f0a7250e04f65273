"""Demands: SLA clocks (R-6.3.2.1), object-level access, the demand's life to closing,
packages (R-4.2.2.1). Domain functions, their results dumped as the operation's caller gets them."""
import pytest

from services.common import contracts, sla
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.matching import clocks as demand_clocks, closing, demands, handling, packages

from ..helpers import (ENTERPRISE, OPERATOR, OTHER_ENTERPRISE, apply, breached, capability, clocks, events, met,
                       profile, profile_event, publish, shown, utc)


def test_friday_demand_response_due_on_the_adjusted_sunday(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    response = clocks(view)["matching.demand_response"]
    assert response["due_local"].startswith("2026-09-20T23:59:59")  # 调休: Sunday 20 Sep is a working day


def test_national_day_pushes_the_deadlines(db):
    view = publish(db, at=utc(2026, 9, 30, 10, 0))
    assert clocks(view)["matching.demand_response"]["due_local"].startswith("2026-10-08T23:59:59")
    assert clocks(view)["matching.demand_recommendation"]["due_local"].startswith("2026-10-10T23:59:59")


def test_breach_counts_once_and_lists_as_overdue(db):
    view = publish(db, at=utc(2026, 9, 18, 10, 0))
    before = breached("matching.demand_response")
    with db.transaction() as session:
        newly = sla.sweep_overdue(session, now=utc(2026, 9, 21, 9, 0))
    assert [c.rule for c in newly] == ["matching.demand_response"]
    assert breached("matching.demand_response") == before + 1
    with db.transaction() as session:
        sla.sweep_overdue(session, now=utc(2026, 9, 21, 10, 0))
    assert breached("matching.demand_response") == before + 1
    with db.read() as session:
        late = shown("sla_demands", demand_clocks.sla_demands(session, OPERATOR, "overdue", now=utc(2026, 9, 21, 10, 0)))
        soon = shown("sla_demands", demand_clocks.sla_demands(session, OPERATOR, "due_soon",
                                                             now=utc(2026, 9, 21, 10, 0)))
    assert [(i["demand"]["id"], i["clock"]["rule"]) for i in late["items"]] == [(view["id"], "matching.demand_response")]
    assert [i["clock"]["rule"] for i in soon["items"]] == ["matching.demand_recommendation"]


def test_response_and_recommendation_stop_their_clocks(db):
    lab = profile(capabilities=[capability(method_standard="GB/T 3956-2008")])
    apply(db, profile_event(lab))
    view = publish(db, at=utc(2026, 9, 14, 9, 0))
    met_before = met("matching.demand_response")
    with db.transaction() as session:
        view = shown("respond", handling.respond(session, OPERATOR, view["id"], {"message": "已收到，请补充样品数量"},
                                                 at=utc(2026, 9, 14, 15, 0)))
    assert clocks(view)["matching.demand_response"]["state"] == "met"
    assert met("matching.demand_response") == met_before + 1
    with db.read() as session:
        proposals = shown("proposals", handling.proposals(session, OPERATOR, view["id"]))["items"]
    assert proposals[0]["institution_id"] == lab["institution_id"]
    assert {e["factor"] for e in proposals[0]["explain"]} >= {"text", "standard", "region", "qualification"}
    with db.transaction() as session:
        view = shown("recommend", handling.recommend(
            session, OPERATOR, view["id"], {"institutions": [{"institution_id": lab["institution_id"], "reason": "能力匹配"}]},
            at=utc(2026, 9, 16, 9, 0)))
    assert clocks(view)["matching.demand_recommendation"]["state"] == "met"
    assert view["status"] == "recommended"


def test_recommendation_only_from_platform_institutions(db):
    view = publish(db)
    with db.transaction() as session, pytest.raises(ValidationFailed):
        handling.recommend(session, OPERATOR, view["id"], {"institutions": [{"institution_id": "outside"}]})


def test_enterprise_sees_only_its_own_demands(db):
    mine = publish(db)
    theirs = publish(db, principal=OTHER_ENTERPRISE)
    with db.read() as session:
        assert [d["id"] for d in shown("list_demands", demands.list_demands(session, ENTERPRISE))["items"]] \
            == [mine["id"]]
        assert demands.list_demands(session, OPERATOR)["total"] == 2
        with pytest.raises(NotFound):
            demands.get_demand(session, ENTERPRISE, theirs["id"])
    with db.transaction() as session, pytest.raises(NotFound):
        handling.engage(session, ENTERPRISE, theirs["id"], {"institution_id": "x", "agreed_items": ["a"]})


def test_enterprise_cannot_publish_for_someone_else_and_staff_must_name_the_channel(db):
    with pytest.raises(Forbidden):
        publish(db, enterprise_user_id=OTHER_ENTERPRISE["user_id"])
    with pytest.raises(ValidationFailed):
        publish(db, principal=OPERATOR, enterprise_user_id=ENTERPRISE["user_id"], channel="online")
    view = publish(db, principal=OPERATOR, enterprise_user_id=ENTERPRISE["user_id"], channel="phone")
    assert (view["channel"], view["enterprise_user_id"], view["entered_by"]) == (
        "phone", ENTERPRISE["user_id"], OPERATOR["user_id"])


def test_engagement_follow_up_close_and_events(db):
    lab = profile()
    apply(db, profile_event(lab))
    view = publish(db)
    with db.transaction() as session:
        handling.engage(session, ENTERPRISE, view["id"], {
            "institution_id": lab["institution_id"], "agreed_items": ["导体电阻"], "agreed_cycle_working_days": 5,
            "first_contact_at": "2026-09-15T10:00:00+08:00", "first_contact_notes": "电话联系"})
        handling.follow_up(session, OPERATOR, view["id"], {"kind": "problem", "note": "样品延误，已协调"})
        closed = shown("close_demand", closing.close(session, ENTERPRISE, view["id"], {"outcome": "completed"}))
    assert [e["kind"] for e in closed["timeline"]] == ["engagement", "follow_up", "closing"]
    # The enterprise found its institution itself: the platform neither responded nor recommended,
    # so neither clock is met; closed before either was due, both are cancelled.
    assert {c["state"] for c in closed["sla"]} == {"cancelled"}
    with db.transaction() as session, pytest.raises(Conflict):
        handling.follow_up(session, OPERATOR, view["id"], {"note": "again"})
    closed_event = events(db, "demand.closed")[0]
    assert closed_event["data"] == {"demand_id": view["id"], "enterprise_user_id": ENTERPRISE["user_id"],
                                    "institution_id": lab["institution_id"], "closed_at": closed["closed_at"],
                                    "outcome": "completed", "evaluation": {
                                        "service_type": "demand", "service_id": view["id"],
                                        "enterprise_id": ENTERPRISE["user_id"],
                                        "institution_id": lab["institution_id"], "window_id": None,
                                        "handler_id": None, "finished_at": closed["closed_at"]}}
    for envelope in events(db):
        contracts.validate_envelope(envelope)


def test_external_referral_is_visible_to_the_enterprise(db):
    view = publish(db)
    with db.transaction() as session:
        handling.refer(session, OPERATOR, view["id"], {"external_name": "上海某检测有限公司", "reason": "本地无资质"})
    with db.read() as session:
        seen = shown("get_demand", demands.get_demand(session, ENTERPRISE, view["id"]))
    assert seen["status"] == "referred"
    assert seen["timeline"][-1]["external_name"] == "上海某检测有限公司"
    assert events(db, "demand.referred")[0]["data"]["demand_id"] == view["id"]


def test_packages_group_same_kind_demands_and_show_each_share(db):
    lab = profile()
    apply(db, profile_event(lab))
    a = publish(db, item_code="T-01", industry="电线电缆")
    b = publish(db, principal=OTHER_ENTERPRISE, item_code="T-01", industry="电线电缆")
    publish(db, principal=OTHER_ENTERPRISE, item_code="T-02", product="塑料管材", industry="电线电缆")
    with db.read() as session:
        groups = shown("package_groups", packages.package_groups(session, OPERATOR))["items"]
    assert [sorted(g["demand_ids"]) for g in groups] == [sorted([a["id"], b["id"]])]
    with db.transaction() as session:
        package = shown("create_package", packages.create_package(session, OPERATOR, {
            "title": "电缆企业导体电阻批量检测", "institution_id": lab["institution_id"], "package_price_yuan": "1000.01",
            "demand_ids": [a["id"], b["id"]]}))
    assert [m["share_yuan"] for m in package["members"]] == ["500.01", "500.00"]
    assert package["package_price_yuan"] == "1000.01"
    with db.read() as session:
        own = shown("get_package", packages.get_package(session, ENTERPRISE, package["id"]))
        seen_by_staff = shown("get_demand", demands.get_demand(session, OPERATOR, a["id"]))
    assert [m["demand_id"] for m in own["members"]] == [a["id"]] and own["package_price_yuan"] is None
    assert events(db, "package.created")[0]["data"]["package_id"] == package["id"]
    assert seen_by_staff["package"] == {"package_id": package["id"], "title": "电缆企业导体电阻批量检测",
                                        "institution_id": lab["institution_id"],
                                        "share_yuan": {m["demand_id"]: m["share_yuan"] for m in package["members"]}[a["id"]]}
