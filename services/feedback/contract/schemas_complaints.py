"""Complaint and supervision-rule schemas."""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from services.common import fields
from services.common.platform import PLATFORM_STAFF, STAFF_READERS
from services.common.schemas import Schema, SlaClockOut

from .fields_ext import instant
from .schemas import PRESENT, StepOut, _need, needs_by_action
from .vocabulary import (COMPLAINT_ACTIONS, COMPLAINT_CHANNELS, COMPLAINT_OUTCOMES, COMPLAINT_STATES, LINK_TYPES,
                         RATINGS, complaint_types)


class ComplaintIn(Schema):
    """Filed online by the complainant (channel web), or entered by staff for phone, window and letter
    complaints with the complainant's name and phone (kept encrypted, shown to platform staff only)."""

    channel = fields.String(load_default="web", validate=validate.OneOf(COMPLAINT_CHANNELS))
    institution_id = fields.String(required=True, blank=False, validate=validate.Length(max=64),
                                   metadata={"description": "An approved institution of the platform (else 422 "
                                                            "complaint_reference_unknown)"})
    type = fields.String(required=True, validate=validate.OneOf(complaint_types()))
    content = fields.MultilineString(required=True, blank=False, validate=validate.Length(max=4000))
    requests = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    link_type = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(LINK_TYPES))
    link_id = fields.String(load_default=None, allow_none=True, blank=False, validate=validate.Length(max=64),
                            metadata={"description": "A demand, booking, sample or report of that institution the "
                                                     "platform knows (else 422 complaint_reference_unknown)"})
    complainant_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                                   metadata={"description": "Staff entry: the complainant's account, if any"})
    complainant_name = fields.String(load_default=None, allow_none=True, blank=False,
                                     validate=validate.Length(max=50))
    complainant_phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^1[3-9]\d{9}$"))

    OPENAPI_EXTRA = {
        "allOf": [
            {"anyOf": [{"properties": {"link_type": {"type": "null"}, "link_id": {"type": "null"}}},
                       {"required": ["link_type", "link_id"],
                        "properties": {"link_type": {"type": "string"}, "link_id": {"type": "string"}}}]},
            {"anyOf": [{"properties": {"channel": {"const": "web"}, "complainant_id": {"type": "null"}}},
                       {"required": ["channel", "complainant_name", "complainant_phone"],
                        "properties": {"channel": {"enum": [c for c in COMPLAINT_CHANNELS if c != "web"]},
                                       "complainant_name": PRESENT["single"],
                                       "complainant_phone": {"type": "string"}}}]},
        ],
        "description": "link_type and link_id together; web: the caller is the complainant (no complainant_id); "
                       "phone, window and letter (staff entry) need the complainant's name and phone"}

    @validates_schema
    def _rules(self, data, **kwargs):
        errors: dict = {}
        if data.get("channel", "web") == "web" and data.get("complainant_id") is not None:
            errors["complainant_id"] = ["网上投诉不填写 / not given for a web complaint"]
        if (data.get("link_type") is None) != (data.get("link_id") is None):
            errors["link_id"] = ["须与 link_type 同时给出 / give link_type and link_id together"]
        if data.get("channel") != "web":
            _need(errors, data, "complainant_name", "complainant_phone")
        if errors:
            raise ValidationError(errors)


class ComplaintQuery(Schema):
    state = fields.String(validate=validate.OneOf(COMPLAINT_STATES))
    type = fields.String(validate=validate.OneOf(complaint_types()))
    institution_id = fields.String(validate=validate.Length(max=64))
    number = fields.String(validate=validate.Length(max=16))
    mine = fields.Boolean(load_default=False, metadata={"description": "Staff: only the types whose supervision "
                                                                      "rule gives them to the caller's role"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class RevealQuery(Schema):
    reveal = fields.Boolean(load_default=False, metadata={"description": "Operators: show the complainant's "
                                                                        "name and phone (audited)"})


class ComplaintActionIn(Schema):
    """accept; investigate (note); forward; answer (note, the institution); return (reason, once, the
    institution); decide_return (accept_return true/false, note); decide (outcome, note); tell (channel);
    satisfaction (rating); pause (reason: waiting for the complainant); resume; merge (into: complaint id)."""

    action = fields.String(required=True, validate=validate.OneOf(COMPLAINT_ACTIONS))
    note = fields.MultilineString(validate=validate.Length(max=4000))
    reason = fields.MultilineString(validate=validate.Length(max=2000))
    accept_return = fields.Boolean()
    outcome = fields.String(validate=validate.OneOf(COMPLAINT_OUTCOMES))
    channel = fields.String(validate=validate.OneOf(COMPLAINT_CHANNELS + ("sms",)))
    rating = fields.String(validate=validate.OneOf(RATINGS))
    into = fields.String(validate=validate.Length(max=36), metadata={"description": "merge: the id of the complaint "
                                                                                   "kept (404 if there is none)"})

    NEEDS = {"accept": (), "investigate": ("note",), "forward": (), "answer": ("note",), "return": ("reason",),
             "decide_return": ("accept_return", "note"), "decide": ("outcome", "note"), "tell": ("channel",),
             "satisfaction": ("rating",), "pause": ("reason",), "resume": (), "merge": ("into",)}
    OPENAPI_EXTRA = needs_by_action(NEEDS, {"note": "multi", "reason": "multi", "accept_return": "any",
                                            "outcome": "any", "channel": "any", "rating": "any",
                                            "into": "single"})

    @validates_schema
    def _rules(self, data, **kwargs):
        errors: dict = {}
        _need(errors, data, *self.NEEDS[data["action"]])
        if errors:
            raise ValidationError(errors)


class PauseOut(Schema):
    started_at = instant()
    ended_at = instant()
    reason = fields.String()
    started_by = fields.String()
    ended_by = fields.String(allow_none=True)


class ComplaintOut(Schema):
    id = fields.String()
    number = fields.String(metadata={"description": "Acceptance number TS-YYYYMMDD-NNNN"})
    channel = fields.String()
    complainant_id = fields.String(allow_none=True, metadata={"description": "Platform staff and the complainant "
                                                                             "only; null for the institution"})
    complainant_name = fields.String(allow_none=True, metadata={"description": "Masked (operators may reveal); "
                                                                               "never shown to the institution"})
    complainant_phone = fields.String(allow_none=True)
    institution_id = fields.String()
    type = fields.String()
    content = fields.String()
    requests = fields.String(allow_none=True)
    link_type = fields.String(allow_none=True)
    link_id = fields.String(allow_none=True)
    state = fields.String()
    waiting = fields.Boolean(metadata={"description": "Waiting for the complainant: the clocks are paused"})
    created_at = instant()
    accepted_at = instant()
    investigated_at = instant()
    forwarded_at = instant()
    returned_at = instant()
    return_reason = fields.String(allow_none=True)
    return_decision = fields.String(allow_none=True)
    answered_at = instant()
    answer = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_text = fields.String(allow_none=True)
    decided_at = instant()
    told_at = instant()
    told_channel = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    closed_at = instant()
    merged_into = fields.String(allow_none=True)
    handler_role = fields.String(allow_none=True, metadata={"description": "From the supervision rule of its type"})
    escalated_to = fields.String(allow_none=True, metadata={"description": "Set once the reply limit of the rule "
                                                                          "passed (role escalated to)"})
    steps = fields.List(fields.Nested(StepOut))
    pauses = fields.List(fields.Nested(PauseOut))
    clocks = fields.List(fields.Nested(SlaClockOut))


class ComplaintPage(Schema):
    items = fields.List(fields.Nested(ComplaintOut))
    total = fields.Integer()


class ComplaintTypeOut(Schema):
    code = fields.String()
    zh = fields.String()
    en = fields.String()


class SupervisionRuleIn(Schema):
    handler_role = fields.String(required=True, validate=validate.OneOf(PLATFORM_STAFF),
                                 metadata={"description": "Platform staff role whose queue the type is in"})
    reply_rule = fields.String(required=True, validate=validate.OneOf(("feedback.complaint_reply",)))
    reply_working_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=60),
                                        metadata={"description": "The institution's reply limit for this type in "
                                                                 "working days; null: the SLA rule's"})
    escalate_to = fields.String(required=True, validate=validate.OneOf(STAFF_READERS))
    escalate_after_working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=60))


class SupervisionRuleOut(Schema):
    complaint_type = fields.String()
    handler_role = fields.String()
    reply_rule = fields.String()
    reply_working_days = fields.Integer(allow_none=True)
    escalate_to = fields.String()
    escalate_after_working_days = fields.Integer()
    version = fields.Integer()
    updated_at = instant()
    updated_by = fields.String()


class SupervisionRuleVersionOut(Schema):
    complaint_type = fields.String()
    version = fields.Integer()
    body = fields.Dict()
    changed_by = fields.String()
    changed_at = instant()
