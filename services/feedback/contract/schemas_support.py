"""Callback, support request and improvement schemas."""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from services.common import fields
from services.common.schemas import Schema, SlaClockOut

from .fields_ext import instant
from .schemas import PRESENT, StepOut, _need
from .vocabulary import (CALLBACK_ATTEMPTS, CALLBACK_OUTCOMES, CALLBACK_REASONS, CALLBACK_STATES, IMPROVEMENT_KINDS,
                         IMPROVEMENT_SOURCES, IMPROVEMENT_STATES, SUPPORT_STATES, support_categories)


# -- callbacks --------------------------------------------------------------------------------------
class CallbackQuery(Schema):
    state = fields.String(validate=validate.OneOf(CALLBACK_STATES))
    reason = fields.String(validate=validate.OneOf(CALLBACK_REASONS))
    outcome = fields.String(validate=validate.OneOf(CALLBACK_OUTCOMES))
    subject_id = fields.String(validate=validate.Length(max=36))
    institution_id = fields.String(validate=validate.Length(max=64))
    q = fields.String(validate=validate.Length(max=100), metadata={"description": "Words in the call notes"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class CallbackAttemptIn(Schema):
    result = fields.String(required=True, validate=validate.OneOf(CALLBACK_ATTEMPTS))
    notes = fields.MultilineString(validate=validate.Length(max=4000), load_default=None, allow_none=True)
    OPENAPI_EXTRA = {"anyOf": [{"properties": {"result": {"const": "no_answer"}}},
                               {"required": ["notes"], "properties": {"notes": PRESENT["multi"]}}],
                     "description": "reached and reopen need notes"}

    @validates_schema
    def _rules(self, data, **kwargs):
        errors: dict = {}
        if data["result"] in ("reached", "reopen"):
            _need(errors, data, "notes")
        if errors:
            raise ValidationError(errors)


class CallbackOut(Schema):
    id = fields.String()
    subject_type = fields.String(metadata={"description": "evaluation or complaint"})
    subject_id = fields.String()
    subject_number = fields.String(allow_none=True, metadata={
        "description": "A complaint's acceptance number (TS-YYYYMMDD-NNNN); null for an evaluation"})
    subject_service_type = fields.String(allow_none=True, metadata={
        "description": "An evaluation's service type (demand, booking...); null for a complaint"})
    reason = fields.String(metadata={"description": "dissatisfied, complaint, or sample (the random share)"})
    enterprise_id = fields.String(allow_none=True)
    institution_id = fields.String(allow_none=True)
    institution_name = fields.String(allow_none=True, metadata={"description": "From the registry's events (feedback's "
                                                                             "copy); null while not yet known"})
    state = fields.String()
    tries = fields.Integer()
    outcome = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    done_by = fields.String(allow_none=True)
    created_at = instant()
    done_at = instant()
    script = fields.List(fields.String(), metadata={"description": "The questions to ask (data)"})
    steps = fields.List(fields.Nested(StepOut))


class CallbackPage(Schema):
    items = fields.List(fields.Nested(CallbackOut))
    total = fields.Integer()


# -- support requests ---------------------------------------------------------------------------------
class SupportIn(Schema):
    category = fields.String(required=True, validate=validate.OneOf(support_categories()))
    description = fields.MultilineString(required=True, blank=False, validate=validate.Length(max=4000))
    page = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300),
                         metadata={"description": "The page or operation concerned"})
    request_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                               metadata={"description": "The request id of an error response"})


class SupportQuery(Schema):
    state = fields.String(validate=validate.OneOf(SUPPORT_STATES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class SupportAnswerIn(Schema):
    answer = fields.MultilineString(required=True, blank=False, validate=validate.Length(max=4000))
    resolve = fields.Boolean(load_default=True)


class SupportOut(Schema):
    id = fields.String()
    user_id = fields.String()
    category = fields.String()
    description = fields.String()
    page = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    state = fields.String()
    answer = fields.String(allow_none=True)
    answered_by = fields.String(allow_none=True)
    created_at = instant()
    resolved_at = instant()
    clocks = fields.List(fields.Nested(SlaClockOut))


# -- improvements -------------------------------------------------------------------------------------
class ImprovementIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(IMPROVEMENT_KINDS))
    source = fields.String(required=True, validate=validate.OneOf(IMPROVEMENT_SOURCES))
    title = fields.String(required=True, blank=False, validate=validate.Length(max=200))
    detail = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=4000),
                                    metadata={"description": "A joint assessment's findings"})
    owner_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    institution_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    linked_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=36),
                              metadata={"description": "An assessment: the plan item it leads to; a plan item: "
                                                       "its source (complaint, callback...)"})
    due_working_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=250))
    OPENAPI_EXTRA = {"anyOf": [{"required": ["kind", "owner_id", "due_working_days"],
                                "properties": {"kind": {"const": "plan_item"}, "owner_id": PRESENT["single"],
                                               "due_working_days": {"type": "integer"}}},
                               {"required": ["kind", "detail"],
                                "properties": {"kind": {"const": "assessment"}, "detail": PRESENT["multi"]}}],
                     "description": "a plan item needs owner_id and due_working_days; an assessment its findings "
                                    "in detail (a linked_id that names no item is 404)"}

    @validates_schema
    def _rules(self, data, **kwargs):
        errors: dict = {}
        if data["kind"] == "plan_item":
            _need(errors, data, "owner_id", "due_working_days")
        else:
            _need(errors, data, "detail")
        if errors:
            raise ValidationError(errors)


class ImprovementQuery(Schema):
    kind = fields.String(validate=validate.OneOf(IMPROVEMENT_KINDS))
    state = fields.String(validate=validate.OneOf(IMPROVEMENT_STATES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class ImprovementProgressIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("evidence", "recheck")))
    text = fields.MultilineString(required=True, blank=False, validate=validate.Length(max=4000))


class ImprovementOut(Schema):
    id = fields.String()
    kind = fields.String()
    source = fields.String()
    title = fields.String()
    detail = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    owner_name = fields.String(allow_none=True, metadata={"description": "The owner's name when the owner is an "
                                                                        "institution feedback knows (registry's events); "
                                                                        "null for an account"})
    institution_id = fields.String(allow_none=True)
    institution_name = fields.String(allow_none=True, metadata={"description": "From the registry's events (feedback's "
                                                                             "copy); null while not yet known"})
    linked_id = fields.String(allow_none=True)
    due_at = instant()
    state = fields.String()
    evidence = fields.String(allow_none=True)
    recheck_result = fields.String(allow_none=True, metadata={"description": "Published (public list)"})
    clocks = fields.List(fields.Nested(SlaClockOut), metadata={"description": "The due clock (null due_at with "
                                                                              "calendar_gap: year not loaded)"})
    created_by = fields.String()
    created_at = instant()
