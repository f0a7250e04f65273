"""Events the feedback service publishes on `feedback.events` (ids and figures only, no personal data)."""
from __future__ import annotations

from services.common import fields
from services.common.evaluation import FinishedService
from services.common.operations import EventType
from services.common.sla_events import clock_closed_of
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


class ComplaintEscalated(ComplaintStep):
    escalated_to = Id(metadata={"description": "The role the supervision rule escalates to"})
    working_days = fields.Integer(required=True)


class RectificationEscalated(Schema):
    rectification_id = Id()
    institution_id = MaybeId()
    rule = Id(metadata={"description": "The SLA rule whose limit passed"})
    due_at = fields.String(required=True, allow_none=True)
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


EV = "5b0c7f0e-3d1a-4a8e-9b6f-2c4d1e0a7f31"
INST = "d4181854-86a6-553a-a083-9d89cf042561"
AT = "2026-09-14T03:20:00Z"
BLOCK = {"service_type": "complaint", "service_id": "8e2b1c44-0f5a-4d3e-9a71-6c2d8b9e1f05",
         "enterprise_id": "2cf353fa-3387-4143-864b-417571bbcf9e", "institution_id": None, "window_id": None,
         "handler_id": "c86da1f0-9698-48c1-9f77-cfc21cb4f4a2", "finished_at": AT}
STEP = {"complaint_id": BLOCK["service_id"], "number": "TS-20260914-0003", "institution_id": INST,
        "type": "time_limit", "at": AT}

EVENTS = (
    EventType("evaluation.invited", EvaluationInvited, "An evaluation invitation opened / 已发起评价邀请",
              example={"evaluation_id": EV, "service_type": "demand", "service_id": "a1b2c3d4-0000-4000-8000-000000000001",
                       "institution_id": INST, "window_id": None, "invited_at": AT}),
    EventType("evaluation.submitted", EvaluationSubmitted, "An evaluation was submitted / 已提交评价",
              example={"evaluation_id": EV, "service_type": "demand", "service_id": "a1b2c3d4-0000-4000-8000-000000000001",
                       "institution_id": INST, "window_id": None, "overall": "satisfied",
                       "dimensions": {"process": "satisfied", "efficiency": "very_satisfied", "attitude": "satisfied"},
                       "channel": "web", "submitted_at": AT}),
    EventType("evaluation.expired", EvaluationExpired, "Unanswered: not evaluated / 逾期未评价",
              example={"evaluation_id": EV, "service_type": "booking", "service_id": "b1",
                       "institution_id": INST, "expired_at": AT}),
    EventType("rectification.opened", RectificationOpened, "A bad review opened a rectification / 差评整改已立案",
              example={"rectification_id": "7f3e2d1c-0b9a-4876-9543-210fedcba987", "evaluation_id": EV,
                       "institution_id": INST, "opened_at": AT}),
    EventType("rectification.advanced", RectificationAdvanced, "A rectification step / 整改环节",
              example={"rectification_id": "7f3e2d1c-0b9a-4876-9543-210fedcba987", "action": "verify",
                       "state": "verified", "at": AT}),
    EventType("rectification.closed", RectificationClosed, "A rectification closed / 差评整改已办结",
              example={"rectification_id": "7f3e2d1c-0b9a-4876-9543-210fedcba987", "evaluation_id": EV,
                       "institution_id": INST, "overturned": False, "closed_at": AT}),
    EventType("callback.done", CallbackDone, "A callback finished / 回访已完成",
              example={"callback_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "subject_type": "evaluation",
                       "subject_id": EV, "outcome": "reached", "done_at": AT}),
    EventType("complaint.accepted", ComplaintStep, "A complaint was accepted / 投诉已受理", example=STEP),
    EventType("complaint.forwarded", ComplaintStep, "A complaint was forwarded to the institution / 投诉已转办",
              example=STEP),
    EventType("complaint.answered", ComplaintStep, "The institution answered a complaint / 机构已答复投诉",
              example=STEP),
    EventType("complaint.escalated", ComplaintEscalated,
              "A forwarded complaint passed its escalation point / 投诉超时未答复已升级",
              description="Once per complaint, by the supervision rule; the role and the handler get a notice.",
              example={**STEP, "escalated_to": "operator", "working_days": 3}),
    EventType("rectification.escalated", RectificationEscalated,
              "A rectification passed its time limit / 差评整改超时已督办",
              description="When a rectification's clock passes its due time unfinished; operators get a notice.",
              example={"rectification_id": "7f3e2d1c-0b9a-4876-9543-210fedcba987", "institution_id": INST,
                       "rule": "feedback.rectification_rectify", "due_at": "2026-10-09T15:59:59.999999Z",
                       "at": AT}),
    EventType("complaint.closed", ComplaintClosed, "A complaint closed (a finished service) / 投诉已办结",
              example={**STEP, "outcome": "partly_upheld", "evaluation": BLOCK}),
    EventType("statistics.published", StatisticsPublished, "Quarterly statistics published / 季度统计已公示",
              example={"year": 2026, "quarter": 3, "period": "2026-Q3", "services_finished": 36, "evaluations": 30,
                       "satisfaction_rate": 0.9, "published_at": "2026-10-09T02:00:00Z"}),
    EventType("support.opened", SupportStep, "A support request opened / 技术支持请求已提交",
              example={"support_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "category": "bug", "at": AT}),
    EventType("support.resolved", SupportStep, "A support request resolved / 技术支持请求已解决",
              example={"support_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "category": "bug", "at": AT}),
    EventType("institution.rated", InstitutionRated, "An institution's rating and on-time rate / 机构评价与按时率",
              description="After each evaluation (the quarter the service finished in) and for every institution "
                          "when a quarter is published; matching ranks by it.",
              example={"institution_id": INST, "satisfaction": 0.889, "on_time_rate": 0.75, "evaluations": 9,
                       "period": "2026-Q3", "computed_at": AT}),
)
EVENTS += (clock_closed_of("feedback"),)   # every service: services.common.sla_events

__all__ = ["EVENTS", "DIMENSIONS"]
