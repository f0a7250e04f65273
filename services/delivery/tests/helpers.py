"""Builders for the delivery tests: registry events as the registry publishes them, callers, a pipeline runner."""
from __future__ import annotations

import hashlib
import json
import uuid

from sqlalchemy import select

from services.common import client_address, pipeline
from services.common.events import make_envelope
from services.common.outbox import OutboxEvent
from services.delivery.contract import CONTRACT

LAB_ID = "7d0e3a0c-0000-4000-8000-000000000001"
METRO_ID = "7d0e3a0c-0000-4000-8000-000000000002"
ENTERPRISE = {"user_id": "11111111-1111-4111-8111-111111111111", "role": "enterprise",
              "verification_level": "licence_reviewed", "sid": "s1"}
OTHER_ENTERPRISE = {"user_id": "22222222-2222-4222-8222-222222222222", "role": "enterprise", "sid": "s2"}
LAB = {"user_id": "33333333-3333-4333-8333-333333333333", "role": "institution", "institution_id": LAB_ID,
       "sid": "s3"}
METRO = {"user_id": "44444444-4444-4444-8444-444444444444", "role": "institution", "institution_id": METRO_ID,
         "sid": "s4"}
STATION = {"user_id": "55555555-5555-4555-8555-555555555555", "role": "window", "window_id": "station-1",
           "sid": "s5"}
OPERATOR = {"user_id": "66666666-6666-4666-8666-666666666666", "role": "operator", "sid": "s6"}


def qualification(type_="CMA", valid_to="2030-12-31", status="valid", qualification_id=None):
    return {"qualification_id": qualification_id or str(uuid.uuid4()), "type": type_, "number": "230012345678",
            "issuer": "江苏省市场监督管理局", "valid_from": "2022-01-01", "valid_to": valid_to, "scope": "",
            "status": status}


def capability(standard, qualification_id, category="testing", product="电线电缆"):
    return {"capability_id": str(uuid.uuid4()), "category": category, "item_code": None, "item_name": product,
            "product": product, "parameter": "p", "method_standard": standard, "price_yuan": "100.00",
            "cycle_working_days": 5, "qualification_id": qualification_id}


def lab_profile(institution_id=LAB_ID, kind="lab", quals=None, standards=("GB/T 3956-2008",), category="testing"):
    quals = quals if quals is not None else [qualification("CMA"), qualification("CNAS")]
    caps = [capability(s, quals[0]["qualification_id"] if quals else None, category=category) for s in standards]
    return {"institution_id": institution_id, "name": "泰州市产品质量监督检验所" if kind == "lab" else "泰州市计量测试院",
            "kind": kind, "uscc": "x", "region": "海陵区", "park": None, "address": "a",
            "categories": [category], "qualifications": quals, "capabilities": caps, "status": "active"}


def approved(snapshot, revision=1, type_="institution.approved"):
    return make_envelope("registry", type_, snapshot["institution_id"], {
        "institution_id": snapshot["institution_id"], "revision": revision, "snapshot": snapshot})


def know(db, snapshot, revision=1):
    from services.delivery import institutions
    with db.transaction() as session:
        return institutions.apply_registry_event(session, approved(snapshot, revision))


PDF = b"%PDF-1.4 demo report\n%%EOF"
PDF_SHA = hashlib.sha256(PDF).hexdigest()


def report_body(number="TZ2026-0001", **kw):
    body = {"number": number, "enterprise_id": ENTERPRISE["user_id"], "product": "电线电缆",
            "standards": ["GB/T 3956-2008"], "test_date": "2026-11-20", "conclusion": "所检项目符合标准要求",
            "marks": ["CMA"], "pdf_sha256": hashlib.sha256(number.encode()).hexdigest()}
    body.update(kw)
    return body


class Svc:
    """What the pipeline needs of the service: its database, call data, dependencies."""

    name = "delivery"

    def __init__(self, db, client_ip="203.0.113.7", publish_demand=None):
        self.db = db
        self.call_data = client_address.sealed(client_ip)
        self.published = []
        self._publish = publish_demand

    def operation_dependencies(self):
        def publish_demand(payload, key):
            if self._publish:
                return self._publish(payload, key)
            self.published.append((payload, key))
            return {"id": f"demand-{len(self.published)}"}
        return {"db": self.db, "publish_demand": publish_demand}


def call(svc, name, principal=None, **arguments):
    return pipeline.run(svc, CONTRACT, CONTRACT.operation(name), "services.delivery", principal, arguments)


def events(db, event_type=None):
    with db.read() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.seq)
        if event_type:
            query = query.where(OutboxEvent.type == event_type)
        return [json.loads(row.body) for row in session.scalars(query)]


def count(db, model):
    from sqlalchemy import func
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model))
