"""Calling feedback operations through the shared pipeline (as the RPC entrypoints do), and
building finished-service events as the other slices publish them."""
from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from services.common import pipeline
from services.common.events import iso_utc, make_envelope
from services.common.outbox import OutboxEvent
from services.feedback.contract import CONTRACT

ENTERPRISE = {"user_id": "ent-1", "role": "enterprise"}
OTHER_ENTERPRISE = {"user_id": "ent-2", "role": "enterprise"}
OPERATOR = {"user_id": "op-1", "role": "operator"}
OPERATOR_2 = {"user_id": "op-2", "role": "operator"}
WINDOW = {"user_id": "win-user-1", "role": "window", "window_id": "win-1"}
REGULATOR = {"user_id": "reg-1", "role": "regulator"}
INSTITUTION_ID = "inst-1"
INSTITUTION = {"user_id": "inst-user-1", "role": "institution", "institution_id": INSTITUTION_ID}
HANDLER = {"user_id": "handler-1", "role": "window", "window_id": "win-9"}


class Svc:
    name = "feedback"

    def __init__(self, db):
        self.db = db
        self.call_data = {}


def call(db, name, principal=None, **arguments):
    op = CONTRACT.operation(name)
    return pipeline.run(Svc(db), CONTRACT, op, "services.feedback", principal, arguments)


def block(service_type="demand", service_id=None, enterprise_id="ent-1", institution_id=INSTITUTION_ID,
          window_id="win-1", handler_id="handler-1", finished_at=None):
    return {"service_type": service_type, "service_id": service_id or str(uuid.uuid4()),
            "enterprise_id": enterprise_id, "institution_id": institution_id, "window_id": window_id,
            "handler_id": handler_id, "finished_at": finished_at or iso_utc(dt.datetime.now(dt.timezone.utc))}


SOURCES = {"demand": ("matching", "demand.closed"), "window_case": ("registry", "case.closed"),
           "booking": ("booking", "booking.completed"), "appointment": ("booking", "appointment.completed"),
           "report_delivery": ("delivery", "sample.report_delivered"), "complaint": ("feedback", "complaint.closed")}


def finished_event(b: dict) -> dict:
    source, event_type = SOURCES[b["service_type"]]
    return make_envelope(source, event_type, b["service_id"], {"id": b["service_id"], "evaluation": b})


def invite(db, **kw) -> dict:
    """Open an invitation as the consumer would; returns the evaluation as the customer sees it."""
    from services.feedback.service import invite_from
    b = block(**kw)
    env = finished_event(b)
    assert invite_from(db, "feedback.test", env) == "opened"
    page = call(db, "list_evaluations", {"user_id": b["enterprise_id"], "role": "enterprise"},
                query={"limit": 500})
    return next(e for e in page["items"] if e["service_id"] == b["service_id"])


def events(db, event_type=None):
    with db.read() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.seq)
        if event_type:
            query = query.where(OutboxEvent.type == event_type)
        return [json.loads(row.body) for row in session.scalars(query)]


GOOD = {"overall": "satisfied", "process": "satisfied", "efficiency": "very_satisfied", "attitude": "satisfied"}
BAD = {"overall": "dissatisfied", "process": "basic", "efficiency": "dissatisfied", "attitude": "basic",
       "reason_tags": ["slow"], "text": "等了很久才出报告"}
