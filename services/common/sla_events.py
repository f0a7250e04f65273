"""`sla.clock_closed`: every service tells the platform when one of its SLA clocks got a verdict.

The quarterly statistics (7.1.1 efficiency, 7.1.3 on-time rate "from the clocks of every
service") live in feedback, which reads no other service's tables: each service records
this event in the transaction that judged the clock (met or breached at stop, or a
pending `stopped` clock judged when the calendar year is loaded, or a verdict changed
by a calendar notice). Declared once here; every service's contract lists it.

The source is the service owning the rule: rule names are "<service>.<name>"
(services/common/data/sla_rules.json). Ids, times and the institution / window the clock
is attributed to only: no personal data. Contracts import this module, so it imports no
SQLAlchemy: the recording is `sla_clock.announce`.
"""
from __future__ import annotations

from . import fields, platform
from .operations import EventType
from .schemas import Schema

TYPE = "sla.clock_closed"


class ClockClosed(Schema):
    clock_id = fields.String(required=True)
    rule = fields.String(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.String(required=True)
    outcome = fields.String(required=True)          # met | breached
    started_at = fields.String(required=True)
    due_at = fields.String(required=True, allow_none=True)
    stopped_at = fields.String(required=True)
    limit_working_days = fields.Integer(required=True, allow_none=True)
    institution_id = fields.String(required=True, allow_none=True)
    window_id = fields.String(required=True, allow_none=True)
    # When this verdict was reached: a later one (a calendar notice re-judged the clock) wins.
    judged_at = fields.String(required=True)
    rejudged = fields.Boolean(load_default=False)


EXAMPLE = {"clock_id": "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "rule": "matching.demand_response",
           "subject_type": "demand", "subject_id": "a1b2c3d4-0000-4000-8000-000000000001", "outcome": "met",
           "started_at": "2026-09-01T01:00:00Z", "due_at": "2026-09-03T15:59:59.999999Z",
           "stopped_at": "2026-09-02T06:30:00Z", "limit_working_days": 2,
           "institution_id": "d4181854-86a6-553a-a083-9d89cf042561", "window_id": None,
           "judged_at": "2026-09-02T06:30:00Z", "rejudged": False}

CLOCK_CLOSED = EventType(TYPE, ClockClosed, "An SLA clock got its verdict (met or breached) / 时限已判定（按时或超时）",
                         description="Recorded in the transaction that judged the clock; feedback's quarterly "
                                     "on-time rates are computed from these events of every service.",
                         example=EXAMPLE)


# An example rule per publisher, so each service's documented example is one of its own clocks.
_EXAMPLE_RULES = {"identity": ("identity.licence_review", "user"), "registry": ("registry.application_review",
                                                                              "application"),
                  "matching": ("matching.demand_response", "demand"), "booking": ("booking.approval", "booking"),
                  "delivery": ("delivery.lab_report", "sample"), "feedback": ("feedback.complaint_reply", "complaint")}


def clock_closed_of(service: str) -> EventType:
    """The shared declaration as `service`'s contract lists it (its example names one of its rules)."""
    from dataclasses import replace
    rule, subject_type = _EXAMPLE_RULES.get(service, (EXAMPLE["rule"], EXAMPLE["subject_type"]))
    return replace(CLOCK_CLOSED, example={**EXAMPLE, "rule": rule, "subject_type": subject_type})


def source_of(rule: str) -> str | None:
    """The service owning a rule ("booking.approval" -> "booking"); None for a rule of no service."""
    prefix = rule.split(".", 1)[0]
    return prefix if prefix in platform.with_database() else None
