"""Evaluation and rectification schemas (requests and responses)."""
from __future__ import annotations

from marshmallow import validate, validates_schema, ValidationError

from services.common import fields
from services.common.fields import PATTERN_MULTI_NOT_BLANK, PATTERN_SINGLE_NOT_BLANK, bilingual
from services.common.schemas import Schema, SlaClockOut

from .fields_ext import JsonList, instant
from .vocabulary import (ASSESSMENT_METHODS, CHANNELS, DISSATISFIED, EVALUATION_STATES, RATINGS,
                         RECTIFICATION_ACTIONS, RECTIFICATION_STATES, SERVICE_TYPES, STAFF_CHANNELS, reason_tags)

Rating = lambda **kw: fields.String(validate=validate.OneOf(RATINGS), **kw)  # noqa: E731


# JSON Schema of "present and not blank" per field kind, for OPENAPI_EXTRA (rules across fields).
PRESENT = {"multi": {"type": "string", "pattern": PATTERN_MULTI_NOT_BLANK},
           "single": {"type": "string", "pattern": PATTERN_SINGLE_NOT_BLANK},
           "list": {"type": "array", "minItems": 1}, "any": {}}


def needs_by_action(needs: dict, kinds: dict, field: str = "action") -> dict:
    """OPENAPI_EXTRA saying, per value of `field`, which other fields it needs (as `_need` checks)."""
    branches = []
    for value, names in needs.items():
        branches.append({"required": [field, *names],
                         "properties": {field: {"const": value}, **{n: PRESENT[kinds[n]] for n in names}}})
    return {"anyOf": branches}


def _need(errors: dict, data: dict, *names: str) -> None:
    for name in names:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            errors[name] = [bilingual("required")]


# -- evaluations ---------------------------------------------------------------------------
class EvaluationQuery(Schema):
    state = fields.String(validate=validate.OneOf(EVALUATION_STATES))
    service_type = fields.String(validate=validate.OneOf(SERVICE_TYPES))
    institution_id = fields.String(validate=validate.Length(max=64))
    rating = Rating()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class SubmissionIn(Schema):
    """The rating: 不满意 or worse needs reason tags and text. Staff entering a phone or SMS answer
    give the channel and the call reference."""

    overall = Rating(required=True)
    process = Rating(required=True)
    efficiency = Rating(required=True, metadata={"description": "Accepted centrally and finished on time"})
    attitude = Rating(required=True)
    reason_tags = fields.List(fields.String(validate=validate.OneOf(reason_tags())), load_default=list,
                              validate=validate.Length(max=10))
    text = fields.MultilineString(validate=validate.Length(max=2000), load_default=None, allow_none=True)
    channel = fields.String(validate=validate.OneOf(CHANNELS), load_default="web")
    call_reference = fields.String(validate=validate.Length(max=100), load_default=None, allow_none=True)

    OPENAPI_EXTRA = {
        "allOf": [
            {"anyOf": [{"properties": {"overall": {"enum": [r for r in RATINGS if r not in DISSATISFIED]}}},
                       {"required": ["reason_tags", "text"],
                        "properties": {"reason_tags": PRESENT["list"], "text": PRESENT["multi"]}}]},
            {"anyOf": [{"properties": {"channel": {"enum": [c for c in CHANNELS if c not in STAFF_CHANNELS]}}},
                       {"required": ["channel", "call_reference"],
                        "properties": {"channel": {"enum": list(STAFF_CHANNELS)},
                                       "call_reference": PRESENT["single"]}}]},
        ],
        "description": "不满意 or worse needs reason_tags and text; a phone or sms answer needs call_reference"}

    @validates_schema
    def _rules(self, data, **kwargs):
        errors: dict = {}
        if data["overall"] in DISSATISFIED:
            _need(errors, data, "reason_tags", "text")
        if data.get("channel") in STAFF_CHANNELS:
            _need(errors, data, "call_reference")
        if errors:
            raise ValidationError(errors)


class CommentIn(Schema):
    comment = fields.MultilineString(required=True, blank=False, validate=validate.Length(max=2000))


class AssessmentIn(Schema):
    method = fields.String(required=True, validate=validate.OneOf(ASSESSMENT_METHODS))
    rating = Rating(required=True)
    note = fields.MultilineString(validate=validate.Length(max=2000), load_default=None, allow_none=True)


class BatchItemIn(Schema):
    evaluation_id = fields.String(required=True, blank=False, validate=validate.Length(max=36))
    rating = Rating(required=True)
    note = fields.MultilineString(validate=validate.Length(max=2000), load_default=None, allow_none=True)


class ThirdPartyBatchIn(Schema):
    batch = fields.String(required=True, blank=False, validate=validate.Length(max=100))
    items = fields.List(fields.Nested(BatchItemIn), required=True, validate=validate.Length(min=1, max=1000))


class AssessmentOut(Schema):
    id = fields.String()
    method = fields.String()
    rating = fields.String()
    assessor_id = fields.String()
    batch = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = instant()


class EvaluationOut(Schema):
    id = fields.String()
    service_type = fields.String()
    service_id = fields.String()
    enterprise_id = fields.String()
    institution_id = fields.String(allow_none=True)
    window_id = fields.String(allow_none=True)
    handler_id = fields.String(allow_none=True)
    finished_at = instant()
    state = fields.String(metadata={"description": "invited, submitted, or expired (not evaluated)"})
    invited_at = instant()
    due_at = instant(metadata={"description": "End of the answer window (working days, SLA rule "
                                              "feedback.evaluation_window)"})
    submitted_at = instant()
    expired_at = instant()
    channel = fields.String(allow_none=True)
    entered_by_staff = fields.Boolean(metadata={"description": "A phone or SMS answer entered by staff"})
    entered_by = fields.String(allow_none=True)
    call_reference = fields.String(allow_none=True)
    overall = fields.String(allow_none=True)
    process = fields.String(allow_none=True)
    efficiency = fields.String(allow_none=True)
    attitude = fields.String(allow_none=True)
    reason_tags = JsonList()
    text = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    comment_at = instant()
    overturned = fields.Boolean()
    overturn_reason = fields.String(allow_none=True)
    assessments = fields.List(fields.Nested(AssessmentOut))
    combined_score = fields.Float(allow_none=True, metadata={"description": "Weighted score 1..5 of the user, "
                                                                            "self and third-party ratings "
                                                                            "(weights in data)"})
    rectification_id = fields.String(allow_none=True)


class EvaluationPage(Schema):
    items = fields.List(fields.Nested(EvaluationOut))
    total = fields.Integer()


class BatchOut(Schema):
    batch = fields.String()
    imported = fields.Integer()


# -- rectifications ---------------------------------------------------------------------------
class RectificationQuery(Schema):
    state = fields.String(validate=validate.OneOf(RECTIFICATION_STATES))
    institution_id = fields.String(validate=validate.Length(max=64))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class RectificationStepIn(Schema):
    """One step. verify: cause_analysis; rectify / explain: measures; appeal: reason;
    decide_appeal: overturn (true/false) and reason; recheck: note; call_back: result; close."""

    action = fields.String(required=True, validate=validate.OneOf(RECTIFICATION_ACTIONS))
    cause_analysis = fields.MultilineString(validate=validate.Length(max=4000))
    measures = fields.MultilineString(validate=validate.Length(max=4000))
    reason = fields.MultilineString(validate=validate.Length(max=2000))
    overturn = fields.Boolean()
    note = fields.MultilineString(validate=validate.Length(max=2000))
    result = fields.String(validate=validate.OneOf(("satisfied", "dissatisfied", "unreachable")))

    NEEDS = {"verify": ("cause_analysis",), "rectify": ("measures",), "explain": ("measures",),
             "appeal": ("reason",), "decide_appeal": ("overturn", "reason"), "recheck": ("note",),
             "call_back": ("result",), "close": ()}
    OPENAPI_EXTRA = needs_by_action(NEEDS, {"cause_analysis": "multi", "measures": "multi", "reason": "multi",
                                            "note": "multi", "overturn": "any", "result": "any"})

    @validates_schema
    def _rules(self, data, **kwargs):
        errors: dict = {}
        _need(errors, data, *self.NEEDS[data["action"]])
        if errors:
            raise ValidationError(errors)


class StepOut(Schema):
    seq = fields.Integer()
    action = fields.String()
    actor_id = fields.String()
    actor_role = fields.String()
    at = instant()
    note = fields.String(allow_none=True)


class RectificationOut(Schema):
    id = fields.String()
    evaluation_id = fields.String()
    institution_id = fields.String(allow_none=True)
    state = fields.String()
    opened_at = instant()
    verified_at = instant()
    verified_by = fields.String(allow_none=True)
    cause_analysis = fields.String(allow_none=True)
    acted_at = instant()
    acted_by = fields.String(allow_none=True)
    measures = fields.String(allow_none=True)
    appeal_reason = fields.String(allow_none=True)
    appealed_at = instant()
    appeal_decision = fields.String(allow_none=True)
    appeal_decided_by = fields.String(allow_none=True)
    rechecked_at = instant()
    rechecked_by = fields.String(allow_none=True)
    recheck_note = fields.String(allow_none=True)
    called_back_at = instant()
    callback_result = fields.String(allow_none=True)
    closed_at = instant()
    steps = fields.List(fields.Nested(StepOut))
    clocks = fields.List(fields.Nested(SlaClockOut), metadata={"description": "SLA clocks of the case (verify, rectify)"})



class NoticeQuery(Schema):
    unread = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class NoticeOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "complaint.escalated | rectification.escalated"})
    subject_type = fields.String()
    subject_id = fields.String()
    message = fields.String()
    created_at = fields.String()
    read_at = fields.String(allow_none=True)
    to_role = fields.String(allow_none=True, metadata={"description": "Sent to everyone of this role, else to you"})


class NoticePage(Schema):
    items = fields.List(fields.Nested(NoticeOut))
