"""Builders of registry events exactly as the registry publishes them (see the brief's contract)."""
from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from services.common.events import make_envelope
from services.common.money import money_str
from services.common.outbox import OutboxEvent

# Enterprises whose licence was reviewed: the level demand.publish needs (verification_levels).
ENTERPRISE = {"user_id": "11111111-1111-4111-8111-111111111111", "role": "enterprise",
              "verification_level": "licence_reviewed"}
OTHER_ENTERPRISE = {"user_id": "22222222-2222-4222-8222-222222222222", "role": "enterprise",
                    "verification_level": "licence_reviewed"}
OPERATOR = {"user_id": "33333333-3333-4333-8333-333333333333", "role": "operator"}
WINDOW = {"user_id": "win-1", "role": "window"}


def capability(category="testing", item_name="电线电缆检测", product="电线电缆", parameter="导体电阻",
               method_standard="GB/T 3956-2008", price="800.00", cycle=5, qualification_id=None, item_code=None, **kw):
    return {"capability_id": kw.pop("capability_id", str(uuid.uuid4())), "category": category, "item_code": item_code,
            "item_name": item_name, "product": product, "parameter": parameter, "method_standard": method_standard,
            "price_yuan": money_str(price), "cycle_working_days": cycle, "qualification_id": qualification_id, **kw}


def qualification(type_="CMA", valid_to="2030-12-31", status="valid", qualification_id=None):
    return {"qualification_id": qualification_id or str(uuid.uuid4()), "type": type_, "number": "230012345678",
            "issuer": "江苏省市场监督管理局", "valid_from": "2024-01-01", "valid_to": valid_to, "scope": "",
            "status": status}


def profile(institution_id=None, name="泰州市产品质量检验所", kind="lab", region="海陵区", park=None,
            categories=("testing",), qualifications=None, capabilities=None):
    institution_id = institution_id or str(uuid.uuid4())
    quals = qualifications if qualifications is not None else [qualification()]
    caps = capabilities if capabilities is not None else [capability(qualification_id=quals[0]["qualification_id"]
                                                                      if quals else None)]
    return {"institution_id": institution_id, "name": name, "kind": kind, "uscc": "91321200MA1XXXXX0X",
            "region": region, "park": park, "address": "泰州市海陵区示例路1号", "categories": list(categories),
            "qualifications": quals, "capabilities": caps, "status": "active"}


def profile_event(snapshot, revision=1, type_="institution.approved"):
    return make_envelope("registry", type_, snapshot["institution_id"], {
        "institution_id": snapshot["institution_id"], "revision": revision, "snapshot": snapshot})


def deregistered_event(institution_id, revision):
    return make_envelope("registry", "institution.deregistered", institution_id, {
        "institution_id": institution_id, "revision": revision, "reason": "closed", "forced": False,
        "deregistered_at": "2026-09-01T00:00:00Z"})


def apply(db, envelope):
    from services.matching import index
    with db.transaction() as session:
        return index.apply_registry_event(session, envelope)


def run_search(db, **params):
    from services.matching import search
    with db.read() as session:
        return search.search(session, params)


def ids(result):
    return [item["institution_id"] for item in result["items"]]


def events(db, event_type=None):
    with db.read() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.seq)
        if event_type:
            query = query.where(OutboxEvent.type == event_type)
        return [json.loads(row.body) for row in session.scalars(query)]


# -- demands -------------------------------------------------------------------------------------
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
RESPONSE, RECOMMENDATION = "matching.demand_response", "matching.demand_recommendation"

DEMAND = {"title": "电线电缆导体电阻检测", "description": "出口前需要检测报告", "category": "testing",
          "product": "电线电缆", "parameter": "导体电阻", "standard": "GB/T 3956-2008", "region": "海陵区",
          "budget_yuan": "2000", "desired_cycle_working_days": 5}

# What identity's get_user tells staff about these accounts (role and status are what count).
DIRECTORY = {
    ENTERPRISE["user_id"]: {"id": ENTERPRISE["user_id"], "role": "enterprise", "status": "active",
                            "verification_level": "licence_reviewed"},
    OTHER_ENTERPRISE["user_id"]: {"id": OTHER_ENTERPRISE["user_id"], "role": "enterprise", "status": "active",
                                  "verification_level": "licence_reviewed"},
    OPERATOR["user_id"]: {"id": OPERATOR["user_id"], "role": "operator", "status": "active"},
    "person-1": {"id": "person-1", "role": "person", "status": "active"},
    "closed-ent": {"id": "closed-ent", "role": "enterprise", "status": "disabled"},
}


def directory(user_id):
    return DIRECTORY.get(user_id)


def utc(*args):
    """A Shanghai wall-clock time as the naive UTC the database stores."""
    return dt.datetime(*args, tzinfo=SHANGHAI).astimezone(dt.timezone.utc).replace(tzinfo=None)


def shown(operation, result):
    """`result` as the operation's response schema dumps it: what its caller receives."""
    from services.matching.contract import CONTRACT
    op = CONTRACT.operation(operation)
    return op.response().dump(result, many=op.many)


def publish(db, principal=ENTERPRISE, at=None, **overrides):
    from services.matching import demands
    with db.transaction() as session:
        return shown("publish_demand", demands.publish(session, principal, {**DEMAND, **overrides}, at=at,
                                                       enterprise_lookup=directory))


def clocks(view):
    return {c["rule"]: c for c in view["sla"]}


def breached(rule):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("qi_sla_breached_total", {"rule": rule}) or 0.0


def met(rule):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("qi_sla_met_total", {"rule": rule}) or 0.0


def rated_event(institution_id, satisfaction=0.9, on_time_rate=0.8, evaluations=12, period="2026-Q3",
                computed_at="2026-10-08T02:00:00Z"):
    """feedback's `institution.rated`, as the feedback service publishes it."""
    return make_envelope("feedback", "institution.rated", institution_id, {
        "institution_id": institution_id, "satisfaction": satisfaction, "on_time_rate": on_time_rate,
        "evaluations": evaluations, "period": period, "computed_at": computed_at})
