"""Events the delivery service publishes on `delivery.events` (ids, numbers and states only: no personal data)."""
from __future__ import annotations

from dataclasses import replace

from marshmallow import validate

from services.common import fields
from services.common.evaluation import FinishedService
from services.common.operations import EventType
from services.common.sla_events import clock_closed_of
from services.common.schemas import Schema

from .vocabulary import CERTIFICATE_KINDS, EXCEPTION_KINDS, SCOPE_STATES, STEPS

ISO = {"metadata": {"description": "ISO 8601 UTC instant"}}


# -- report registry -------------------------------------------------------------------------
class ReportRegistered(Schema):
    report_id = fields.String(required=True)
    number = fields.String(required=True)
    institution_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CERTIFICATE_KINDS))
    instrument_id = fields.String(required=True, allow_none=True)
    test_date = fields.String(required=True)
    scope = fields.String(required=True, validate=validate.OneOf(SCOPE_STATES))
    scope_flags = fields.List(fields.String(), required=True)
    supersedes = fields.String(required=True, allow_none=True)
    registered_at = fields.String(required=True, **ISO)


class ReportSuperseded(Schema):
    number = fields.String(required=True)
    superseded_by = fields.String(required=True)
    institution_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    superseded_at = fields.String(required=True, **ISO)


class ReportWithdrawn(Schema):
    number = fields.String(required=True)
    institution_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    reason = fields.String(required=True)
    withdrawn_at = fields.String(required=True, **ISO)
    contacts_notified = fields.Integer(required=True)


# -- samples ------------------------------------------------------------------------------------
class SampleStep(Schema):
    sample_id = fields.String(required=True)
    label_number = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    institution_id = fields.String(required=True)
    step = fields.String(required=True, validate=validate.OneOf(STEPS + ("rejected",)))
    manifest_id = fields.String(required=True, allow_none=True)
    at = fields.String(required=True, **ISO)


class SampleExceptionRaised(SampleStep):
    kind = fields.String(required=True, validate=validate.OneOf(EXCEPTION_KINDS))
    exception_id = fields.String(required=True)


class SampleReportDelivered(SampleStep):
    report_number = fields.String(required=True)
    how = fields.String(required=True)
    evaluation = fields.Nested(FinishedService, required=True)


class SampleDisposed(SampleStep):
    disposition = fields.String(required=True, validate=validate.OneOf(("returned", "disposed")))


# -- metrology ledger ---------------------------------------------------------------------------
class InstrumentDue(Schema):
    instrument_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    next_due = fields.String(required=True)
    working_days_left = fields.Integer(required=True)
    threshold = fields.Integer(required=True, metadata={"description": "30, 7 or 1 working days before due"})
    compulsory = fields.Boolean(required=True)


class InstrumentOverdue(Schema):
    instrument_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    next_due = fields.String(required=True)
    suspended_at = fields.String(required=True, **ISO)
    compulsory = fields.Boolean(required=True)


_IDS = {"sample_id": "5d7c0e1a-1b2c-4d3e-8f40-5a6b7c8d9e0f", "label_number": "YP20261201000123",
        "enterprise_id": "3f2e1d0c-9b8a-4765-b432-10fedcba9876", "station_id": "demo-window-1",
        "institution_id": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", "manifest_id": "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"}
EXAMPLES = {
    "report.registered": {"report_id": "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "number": "TZDEMO-2026-0047",
                          "institution_id": _IDS["institution_id"], "enterprise_id": _IDS["enterprise_id"],
                          "kind": "test", "instrument_id": None, "test_date": "2026-10-20", "scope": "in_scope",
                          "scope_flags": [], "supersedes": "TZDEMO-2026-0001", "registered_at": "2026-10-23T02:00:00Z"},
    "report.superseded": {"number": "TZDEMO-2026-0001", "superseded_by": "TZDEMO-2026-0047",
                          "institution_id": _IDS["institution_id"], "enterprise_id": _IDS["enterprise_id"],
                          "superseded_at": "2026-10-23T02:00:00Z"},
    "report.withdrawn": {"number": "TZDEMO-2026-0010", "institution_id": _IDS["institution_id"],
                         "enterprise_id": _IDS["enterprise_id"], "reason": "原始记录核查发现样品编号录入错误",
                         "withdrawn_at": "2026-11-02T06:30:00Z", "contacts_notified": 2},
    "sample.received": {**_IDS, "manifest_id": None, "step": "received", "at": "2026-12-01T01:30:00Z"},
    "sample.dispatched": {**_IDS, "step": "with_carrier", "at": "2026-12-01T06:00:00Z"},
    "sample.accepted": {**_IDS, "step": "accepted", "at": "2026-12-02T02:10:00Z"},
    "sample.exception": {**_IDS, "step": "with_carrier", "at": "2026-12-02T02:10:00Z", "kind": "broken_seal",
                         "exception_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
    "sample.report_delivered": {**_IDS, "step": "report_delivered", "at": "2026-12-15T03:00:00Z",
                                "report_number": "TZDEMO-2026-0047", "how": "pickup",
                                "evaluation": {"service_type": "report_delivery", "service_id": _IDS["sample_id"],
                                               "enterprise_id": _IDS["enterprise_id"],
                                               "institution_id": _IDS["institution_id"],
                                               "window_id": "demo-window-1",
                                               "handler_id": "9412103a-7295-4c28-9317-02a0cfbe86d8",
                                               "finished_at": "2026-12-15T03:00:00Z"}},
    "sample.disposed": {**_IDS, "step": "disposed", "at": "2027-03-15T03:00:00Z", "disposition": "disposed"},
    "ledger.instrument_due": {"instrument_id": "6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
                              "enterprise_id": _IDS["enterprise_id"], "next_due": "2026-12-14",
                              "working_days_left": 7, "threshold": 7, "compulsory": True},
    "ledger.instrument_overdue": {"instrument_id": "6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
                                  "enterprise_id": _IDS["enterprise_id"], "next_due": "2026-11-29",
                                  "suspended_at": "2026-11-30T16:00:05Z", "compulsory": True},
}

_DECLARED = (
    EventType("report.registered", ReportRegistered, "A report was registered / 报告已登记",
              description="scope is 'flagged' when the report lies outside the institution's valid scope"),
    EventType("report.superseded", ReportSuperseded, "A report was replaced by a corrected one / 报告已被更正替代"),
    EventType("report.withdrawn", ReportWithdrawn, "A report was withdrawn / 报告已撤回"),
    EventType("sample.received", SampleStep, "A park station received a sample / 驿站已接收样品"),
    EventType("sample.dispatched", SampleStep, "A carrier took a sample's manifest / 样品已交承运人"),
    EventType("sample.accepted", SampleStep, "The lab accepted a sample / 实验室已接收样品"),
    EventType("sample.exception", SampleExceptionRaised,
              "A custody exception (missing item, broken seal, rejected...) / 样品流转异常"),
    EventType("sample.report_delivered", SampleReportDelivered,
              "The report was handed to the enterprise (a finished service) / 报告已交付企业",
              description="Carries the evaluation block (services.common.evaluation.FinishedService)"),
    EventType("sample.disposed", SampleDisposed, "The sample was returned or disposed of / 样品已退还或处置"),
    EventType("ledger.instrument_due", InstrumentDue,
              "An instrument's verification/calibration is due soon / 计量器具即将到期"),
    EventType("ledger.instrument_overdue", InstrumentOverdue,
              "An instrument is overdue and suspended / 计量器具已超期停用"),
)
# Each type with its example payload (the event document shows it).
EVENTS = tuple(replace(e, example=EXAMPLES[e.type]) for e in _DECLARED)
EVENTS += (clock_closed_of("delivery"),)   # every service: services.common.sla_events
