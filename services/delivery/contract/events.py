"""Events the delivery service publishes on `delivery.events` (ids, numbers and states only: no personal data)."""
from __future__ import annotations

from marshmallow import validate

from services.common import fields
from services.common.evaluation import FinishedService
from services.common.operations import EventType
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


EVENTS = (
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
