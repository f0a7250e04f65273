"""Events the feedback service publishes on `feedback.events` (ids and figures only, no personal data)."""
from __future__ import annotations

from services.common import fields
from services.common.evaluation import FinishedService
from services.common.operations import EventType
from services.common.schemas import Schema
from marshmallow import validate

from .vocabulary import DIMENSIONS, RATINGS, RECTIFICATION_ACTIONS, RECTIFICATION_STATES

Iso = lambda **kw: fields.String(required=True, metadata={"description": "ISO 8601 UTC instant"}, **kw)  # noqa: E731
Id = lambda **kw: fields.String(required=True, **kw)  # noqa: E731
MaybeId = lambda: fields.String(required=True, allow_none=True)  # noqa: E731


class EvaluationInvited(Schema):
    evaluation_id = Id()
    service_type = Id()
    service_id = Id()
    institution_id = MaybeId()
    window_id = MaybeId()
    invited_at = Iso()


class Dimensions(Schema):
    process = fields.String(required=True, validate=validate.OneOf(RATINGS))
    efficiency = fields.String(required=True, validate=validate.OneOf(RATINGS))
    attitude = fields.String(required=True, validate=validate.OneOf(RATINGS))


class EvaluationSubmitted(Schema):
    evaluation_id = Id()
    service_type = Id()
    service_id = Id()
    institution_id = MaybeId()
    window_id = MaybeId()
    overall = fields.String(required=True, validate=validate.OneOf(RATINGS))
    dimensions = fields.Nested(Dimensions, required=True)
    channel = Id(metadata={"description": "web, app, or phone / sms entered by staff"})
    submitted_at = Iso()


class EvaluationExpired(Schema):
    evaluation_id = Id()
    service_type = Id()
    service_id = Id()
    institution_id = MaybeId()
    expired_at = Iso()


class RectificationOpened(Schema):
    rectification_id = Id()
    evaluation_id = Id()
    institution_id = MaybeId()
    opened_at = Iso()


class RectificationAdvanced(Schema):
    rectification_id = Id()
    action = fields.String(required=True, validate=validate.OneOf(RECTIFICATION_ACTIONS))
    state = fields.String(required=True, validate=validate.OneOf(RECTIFICATION_STATES))
    at = Iso()


class RectificationClosed(Schema):
    rectification_id = Id()
    evaluation_id = Id()
    institution_id = MaybeId()
    overturned = fields.Boolean(required=True)
    closed_at = Iso()


class CallbackDone(Schema):
    callback_id = Id()
    subject_type = Id()
    subject_id = Id()
    outcome = Id(metadata={"description": "reached, unreachable or reopened"})
    done_at = Iso()


class ComplaintStep(Schema):
    complaint_id = Id()
    number = Id(metadata={"description": "Acceptance number TS-YYYYMMDD-NNNN"})
    institution_id = Id()
    type = Id()
    at = Iso()


class ComplaintClosed(ComplaintStep):
    outcome = fields.String(required=True, allow_none=True)
    evaluation = fields.Nested(FinishedService, required=True, allow_none=True,
                               metadata={"description": "Null when the complainant has no account to invite"})


class StatisticsPublished(Schema):
    year = fields.Integer(required=True)
    quarter = fields.Integer(required=True)
    period = Id(metadata={"description": "e.g. 2026-Q3"})
    services_finished = fields.Integer(required=True)
    evaluations = fields.Integer(required=True)
    satisfaction_rate = fields.Float(required=True, allow_none=True)
    published_at = Iso()


class SupportStep(Schema):
    support_id = Id()
    category = Id()
    at = Iso()


class InstitutionRated(Schema):
    institution_id = Id()
    satisfaction = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    on_time_rate = fields.Float(required=True, allow_none=True, validate=validate.Range(min=0, max=1))
    evaluations = fields.Integer(required=True)
    period = Id(metadata={"description": "e.g. 2026-Q3"})
    computed_at = Iso()


EVENTS = (
    EventType("evaluation.invited", EvaluationInvited, "An evaluation invitation opened / 已发起评价邀请"),
    EventType("evaluation.submitted", EvaluationSubmitted, "An evaluation was submitted / 已提交评价"),
    EventType("evaluation.expired", EvaluationExpired, "Unanswered: not evaluated / 逾期未评价"),
    EventType("rectification.opened", RectificationOpened, "A bad review opened a rectification / 差评整改已立案"),
    EventType("rectification.advanced", RectificationAdvanced, "A rectification step / 整改环节"),
    EventType("rectification.closed", RectificationClosed, "A rectification closed / 差评整改已办结"),
    EventType("callback.done", CallbackDone, "A callback finished / 回访已完成"),
    EventType("complaint.accepted", ComplaintStep, "A complaint was accepted / 投诉已受理"),
    EventType("complaint.forwarded", ComplaintStep, "A complaint was forwarded to the institution / 投诉已转办"),
    EventType("complaint.answered", ComplaintStep, "The institution answered a complaint / 机构已答复投诉"),
    EventType("complaint.closed", ComplaintClosed, "A complaint closed (a finished service) / 投诉已办结"),
    EventType("statistics.published", StatisticsPublished, "Quarterly statistics published / 季度统计已公示"),
    EventType("support.opened", SupportStep, "A support request opened / 技术支持请求已提交"),
    EventType("support.resolved", SupportStep, "A support request resolved / 技术支持请求已解决"),
    EventType("institution.rated", InstitutionRated, "An institution's rating and on-time rate / 机构评价与按时率"),
)

__all__ = ["EVENTS", "DIMENSIONS"]
