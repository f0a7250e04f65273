"""Matching's operations through the shared pipeline (the generated RPC entrypoints), on SQLite and
PostgreSQL: wire signatures, roles checked once, input refused before anything is written,
Idempotency-Key, the caller's window and enterprise asked of identity, results dumped once."""
import inspect

import pytest

from services.common.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from services.matching.contract import CONTRACT
from services.matching.models import Demand
from services.matching.service import MatchingService

from ..helpers import (DEMAND, ENTERPRISE, OPERATOR, OTHER_ENTERPRISE, RECOMMENDATION, RESPONSE, WINDOW, apply, events,
                       profile, profile_event)

REGULATOR = {"user_id": "44444444-4444-4444-8444-444444444444", "role": "regulator"}


def publish(service, principal=ENTERPRISE, **overrides):
    return service.publish_demand(payload={**DEMAND, **overrides}, principal=principal)


def demand_count(db):
    with db.read() as session:
        return session.query(Demand).count()


# -- the surface ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", CONTRACT.operations, ids=lambda op: op.name)
def test_every_operation_is_an_rpc_with_the_wire_signature(op):
    params = inspect.signature(getattr(MatchingService, op.name).__qi_target__).parameters
    expected = ["self", *op.path_params] + (["payload"] if op.body else []) + ["principal"]
    expected += ["idempotency_key"] if op.creates else []
    expected += ["query"] if op.query else []
    assert list(params) == expected
    assert (params["principal"].default is None) == (op.roles is None)


def test_the_contract_handlers_resolve_and_the_gateway_loads_no_models():
    import subprocess
    import sys
    code = ("import sys, services.gateway.service; "
            "print([m for m in sys.modules if m.startswith('services.matching') and 'contract' not in m])")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['services.matching']"
    from services.common.pipeline import handler_of
    for op in CONTRACT.operations:
        assert callable(handler_of("services.matching", op.handler)), op.handler


# -- roles, once, before any input is read ---------------------------------------------------------------
def test_roles_are_checked_by_the_pipeline(service, idb):
    demand_id = publish(service)["id"]
    with pytest.raises(Forbidden):
        service.refer(demand_id=demand_id, payload={"bad": 1}, principal=WINDOW)          # operators only
    with pytest.raises(Forbidden):
        service.close_demand(demand_id=demand_id, payload={"outcome": "completed"}, principal=WINDOW)
    with pytest.raises(Forbidden):
        service.publish_demand(payload=dict(DEMAND), principal=REGULATOR)   # regulators never write
    with pytest.raises(Unauthorized):
        service.get_demand(demand_id=demand_id, principal=None)
    with pytest.raises(Forbidden):
        service.put_standard(number="GB/T 19001-2016", payload={"title": "x", "status": "current"},
                             principal=ENTERPRISE)
    assert demand_count(idb) == 1


def test_bad_input_is_a_422_and_writes_nothing(service, idb):
    with pytest.raises(ValidationFailed) as refused:
        service.publish_demand(payload={**DEMAND, "category": "astrology"}, principal=ENTERPRISE)
    assert "category" in refused.value.errors
    with pytest.raises(ValidationFailed) as unknown:
        service.publish_demand(payload={**DEMAND, "secret": 1}, principal=ENTERPRISE)
    assert "secret" in unknown.value.errors
    assert demand_count(idb) == 0 and events(idb) == []


def test_someone_elses_demand_is_not_found(service):
    theirs = publish(service, principal=OTHER_ENTERPRISE)["id"]
    with pytest.raises(NotFound):
        service.get_demand(demand_id=theirs, principal=ENTERPRISE)
    assert service.list_demands(principal=ENTERPRISE)["total"] == 0
    assert service.list_demands(principal=OPERATOR, status="published")["total"] == 1


def test_the_response_is_dumped_once_with_the_response_schema(service):
    view = publish(service)
    assert set(view) == {"id", "enterprise_user_id", "channel", "entered_by", "visit_id", "title", "description",
                         "category", "item_code", "product", "standard", "parameter", "region", "industry",
                         "budget_yuan", "desired_cycle_working_days", "status", "institution_id", "package_id",
                         "outcome", "created_at", "closed_at", "timeline", "sla"}
    assert view["budget_yuan"] == "2000.00" and view["created_at"].endswith("Z")
    listed = service.list_demands(principal=ENTERPRISE, limit=1)["items"][0]
    assert "timeline" not in listed and "sla" not in listed and listed["id"] == view["id"]


# -- search, lookups and standards (public) -------------------------------------------------------------
def test_search_and_lookups_take_their_query_as_keywords(service, idb):
    lab = profile()
    apply(idb, profile_event(lab))
    found = service.search_institutions(q="电线电缆", limit="5")
    assert [i["institution_id"] for i in found["items"]] == [lab["institution_id"]]
    labs = service.lookup_labs(region="海陵区")
    assert labs["lookup"] == "labs" and labs["total"] == 1
    assert service.lookup_metrology()["total"] == 0   # needs LEGAL_METROLOGY
    with pytest.raises(ValidationFailed):
        service.search_institutions(limit="1000")
    assert service.get_institution(institution_id=lab["institution_id"])["name"] == lab["name"]
    with pytest.raises(NotFound):
        service.get_institution(institution_id="nowhere")


def test_standards_by_path_by_query_and_maintained_by_operators(service):
    by_query = service.standard_by_query(number="GB/T 19001-2008")
    by_path = service.standard_by_path(number="GB/T 19001-2008")
    assert by_query == by_path and by_query["status"] == "replaced"
    with pytest.raises(ValidationFailed):
        service.standard_by_path(number="not a standard")
    put = service.put_standard(number="GB/T 19001-2008", payload={"title": "质量管理体系 要求", "status": "withdrawn"},
                               principal=OPERATOR)
    assert put["status"] == "withdrawn" and put["updated_at"].endswith("Z") and isinstance(put["replaces"], list)
    with pytest.raises(NotFound):
        service.standard_by_query(number="GB 99999-2020")


# -- identity: the caller's enterprise and window ---------------------------------------------------------
def test_service_asks_identity_as_the_caller(service):
    with pytest.raises(ValidationFailed):
        publish(service, OPERATOR, enterprise_user_id="no-such-user", channel="phone")
    filed = publish(service, OPERATOR, enterprise_user_id=ENTERPRISE["user_id"], channel="phone")
    assert filed["enterprise_user_id"] == ENTERPRISE["user_id"]
    service.identity.account_kind.assert_called_with(ENTERPRISE["user_id"])  # as the caller (token in context)


def test_window_staff_see_only_their_windows_visits(service):
    visit = service.log_visit(payload={"enterprise_name": "泰州某电缆厂", "enterprise_user_id": ENTERPRISE["user_id"],
                                       "visited_on": "2026-09-15", "demands": [dict(DEMAND)]}, principal=WINDOW)
    assert visit["window_id"] == "window-A" and len(visit["demand_ids"]) == 1
    assert visit["visited_on"] == "2026-09-15" and visit["recorded_at"].endswith("Z")
    colleague = {"user_id": "win-3", "role": "window"}
    stranger = {"user_id": "win-2", "role": "window"}
    assert [v["id"] for v in service.list_visits(principal=colleague)["items"]] == [visit["id"]]
    assert service.list_visits(principal=stranger)["items"] == []
    with pytest.raises(NotFound):
        service.get_visit(visit_id=visit["id"], principal=stranger)
    demand = service.get_demand(demand_id=visit["demand_ids"][0], principal=ENTERPRISE)
    assert (demand["channel"], demand["visit_id"]) == ("visit", visit["id"])


def test_window_staff_filings_are_checked_once_per_request(service):
    visit = service.log_visit(payload={"enterprise_name": "泰州某电缆厂", "enterprise_user_id": ENTERPRISE["user_id"],
                                       "visited_on": "2026-09-15", "demands": [dict(DEMAND), dict(DEMAND)]},
                              principal=WINDOW)
    assert len(visit["demand_ids"]) == 2
    lookups = [c for c in service.identity.account_kind.call_args_list if c.args[0] == ENTERPRISE["user_id"]]
    assert len(lookups) == 1  # memoised for the visit and its demands
    with pytest.raises(ValidationFailed) as refused:
        service.log_visit(payload={"enterprise_name": "无此企业", "enterprise_user_id": "no-such-user",
                                   "visited_on": "2026-09-15", "demands": [dict(DEMAND)]}, principal=WINDOW)
    assert "enterprise_user_id" in refused.value.errors
    service.identity.account_kind.side_effect = Forbidden("no")
    with pytest.raises(Forbidden):
        service._enterprise_lookup(OPERATOR)(ENTERPRISE["user_id"])


# -- Idempotency-Key on every creating write -------------------------------------------------------------
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
def test_the_same_key_writes_once_and_a_reused_key_is_refused(service, idb, method):
    principal, body, kind, event_type = CASES[method]
    demand_id = publish(service)["id"]
    payload = body(_lab(idb))
    call = getattr(service, method)
    first = call(demand_id=demand_id, payload=payload, principal=principal, idempotency_key="key-1")
    again = call(demand_id=demand_id, payload=payload, principal=principal, idempotency_key="key-1")
    assert again == first
    timeline = service.get_demand(demand_id=demand_id, principal=OPERATOR)["timeline"]
    assert [e["kind"] for e in timeline].count(kind) == 1
    if event_type:
        assert len(events(idb, event_type)) == 1
    with pytest.raises(Conflict) as reused:
        call(demand_id=demand_id, payload={**payload, ("message" if method == "respond" else "note"): "另一个请求"},
             principal=principal, idempotency_key="key-1")
    assert reused.value.code == "idempotency_key_reused"
    other = publish(service)["id"]
    with pytest.raises(Conflict) as elsewhere:  # the same key on another demand is another request
        call(demand_id=other, payload=payload, principal=principal, idempotency_key="key-1")
    assert elsewhere.value.code == "idempotency_key_reused"


def test_publishing_with_a_key_creates_one_demand(service, idb):
    first = service.publish_demand(payload=dict(DEMAND), principal=ENTERPRISE, idempotency_key="pub-1")
    assert service.publish_demand(payload=dict(DEMAND), principal=ENTERPRISE, idempotency_key="pub-1") == first
    assert demand_count(idb) == 1 and len(events(idb, "demand.published")) == 1


def test_without_a_key_each_call_writes(service):
    demand_id = publish(service)["id"]
    service.follow_up(demand_id=demand_id, payload={"note": "一"}, principal=OPERATOR)
    view = service.follow_up(demand_id=demand_id, payload={"note": "一"}, principal=OPERATOR)
    assert [e["kind"] for e in view["timeline"]] == ["follow_up", "follow_up"]


# -- packages and the SLA list -----------------------------------------------------------------------------
def test_a_huge_package_price_is_422_not_an_overflow(service):
    with pytest.raises(ValidationFailed):
        service.create_package(payload={"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                                        "package_price_yuan": 1e307}, principal=OPERATOR)


def test_packages_through_the_pipeline(service, idb):
    lab = _lab(idb)
    a = publish(service, item_code="T-01")["id"]
    b = publish(service, OTHER_ENTERPRISE, item_code="T-01")["id"]
    assert [sorted(g["demand_ids"]) for g in service.package_groups(principal=OPERATOR)["items"]] == [sorted([a, b])]
    package = service.create_package(payload={"title": "批量检测", "institution_id": lab, "demand_ids": [a, b],
                                              "package_price_yuan": "1000.01"}, principal=OPERATOR)
    own = service.get_package(package_id=package["id"], principal=ENTERPRISE)
    assert own["package_price_yuan"] is None and [m["demand_id"] for m in own["members"]] == [a]
    assert service.get_package(package_id=package["id"], principal=REGULATOR)["package_price_yuan"] == "1000.01"


def test_sla_demands_without_a_state_lists_every_running_demand_clock(service):
    view = publish(service)
    listed = service.sla_demands(principal=OPERATOR)
    assert listed["state"] == "all"
    assert {(i["demand"]["id"], i["clock"]["rule"]) for i in listed["items"]} == {
        (view["id"], RESPONSE), (view["id"], RECOMMENDATION)}
    assert service.sla_demands(principal=OPERATOR, state="overdue")["items"] == []
    with pytest.raises(ValidationFailed):
        service.sla_demands(principal=OPERATOR, state="late")
    assert {c["rule"] for c in service.list_open_clocks(OPERATOR)} == {RESPONSE, RECOMMENDATION}
    with pytest.raises(Forbidden):
        service.list_open_clocks(ENTERPRISE)
