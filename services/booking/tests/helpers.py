"""Builders shared by the booking tests: institutions from registry-shaped events, instrument
payloads, principals, and calling an operation through the real pipeline (no broker)."""
from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from services.common import pipeline
from services.common.events import make_envelope
from services.common.outbox import OutboxEvent

INSTITUTION = "inst-lab-1"
OTHER_INSTITUTION = "inst-lab-2"
STAFF = {"user_id": "staff-1", "role": "institution", "institution_id": INSTITUTION}
OTHER_STAFF = {"user_id": "staff-2", "role": "institution", "institution_id": OTHER_INSTITUTION}
ALICE = {"user_id": "ent-alice", "role": "enterprise"}
BOB = {"user_id": "ent-bob", "role": "enterprise"}
OPERATOR = {"user_id": "op-1", "role": "operator"}
WINDOW = {"user_id": "win-staff", "role": "window", "window_id": "demo-window-1"}
# Tuesday 1 December 2026, 10:00 in Shanghai: the next working days are 2, 3, 4, 7, 8 ... December.
NOW = dt.datetime(2026, 12, 1, 2, 0)
WEEKDAYS = {str(d): [["08:30", "12:00"], ["13:00", "17:30"]] for d in range(1, 6)}


def local(y, m, d, hh, mm=0) -> str:
    return dt.datetime(y, m, d, hh, mm, tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()


def approved(institution_id=INSTITUTION, name="泰州市产品质量监督检验所", revision=1, park="海陵工业园区"):
    return make_envelope("registry", "institution.approved", institution_id, {
        "institution_id": institution_id, "revision": revision,
        "snapshot": {"institution_id": institution_id, "name": name, "kind": "lab", "park": park, "region": "海陵区",
                     "status": "active", "capabilities": [{"capability_id": "c1", "method_standard": "GB/T 228.1"}]}})


def deregistered(institution_id=INSTITUTION, revision=2):
    return make_envelope("registry", "institution.deregistered", institution_id, {
        "institution_id": institution_id, "revision": revision, "reason": "closed", "forced": True,
        "deregistered_at": "2026-12-01T00:00:00Z"})


def instrument_payload(**rules):
    base = {"notice_working_days": 1, "horizon_working_days": 10, "slot_minutes": 30, "min_minutes": 60,
            "max_minutes": 240, "buffer_minutes": 0, "weekly_limit_minutes": None, "approval_required": True,
            "qualification_required": False, "operator_assisted": True, "opening_hours": WEEKDAYS,
            "minimum_charge": "100.00", "cancel_deadline_hours": 24, "no_show_minutes": 15}
    base.update(rules)
    return {"name": "万能材料试验机", "category": "testing", "model": "WDW-100", "maker": "济南试金",
            "specifications": {"最大试验力": "100 kN"}, "standards": ["GB/T 228.1-2021"], "park": "海陵工业园区",
            "location": "海陵工业园区服务站 1 楼", "station_window_id": "ps-hlgy", "rules": base,
            "prices": [{"price_group": "enterprise", "hourly_rate": "200.00"},
                       {"price_group": "park_member", "hourly_rate": "150.00"}]}


class FakeService:
    def __init__(self, db):
        self.db = db
        self.call_data = {}


def call(db, name, principal=None, **arguments):
    from services.booking.contract import CONTRACT
    op = CONTRACT.operation(name)
    return pipeline.run(FakeService(db), CONTRACT, op, "services.booking", principal, arguments)


def apply(db, envelope):
    from services.booking import institutions
    with db.transaction() as session:
        return institutions.apply_registry_event(session, envelope)


def events(db, event_type=None):
    with db.read() as session:
        q = select(OutboxEvent).order_by(OutboxEvent.seq)
        if event_type:
            q = q.where(OutboxEvent.type == event_type)
        return [json.loads(r.body) for r in session.scalars(q)]


def new_key() -> str:
    return str(uuid.uuid4())


def window_services(window_id="demo-window-1", services=("tst.matching", "met.calibration")):
    return make_envelope("registry", "window.services_changed", window_id, {
        "window_id": window_id, "kind": "park_station", "institution_id": None, "services": list(services),
        "changed_at": "2026-11-30T00:00:00Z"})


def demand_event(demand_id, user_id, closed=False):
    kind = "demand.closed" if closed else "demand.published"
    return make_envelope("matching", kind, demand_id, {"demand_id": demand_id, "enterprise_user_id": user_id})


def case_event(case_id, user_id, closed=False):
    kind = "case.closed" if closed else "case.opened"
    return make_envelope("registry", kind, case_id, {"case_id": case_id, "window_id": "ew-demo",
                                                     "enterprise_user_id": user_id})


def apply_link(db, envelope):
    from services.booking import links
    with db.transaction() as session:
        return links.apply_event(session, envelope)
