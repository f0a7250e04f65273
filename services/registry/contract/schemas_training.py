"""Training events and sign-ups (clause 5)."""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema
from services.common.vocabulary import CATEGORIES as CATEGORY_CODES

from .schemas_common import IsoDateTime, _Strict, _text
from .vocabulary import TRAINING_MODES

QUALIFICATION_CODE = r"^[a-z0-9][a-z0-9.-]{1,63}$"


class TrainingIn(_Strict):
    category_code = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES))
    item_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                              metadata={"description": "Optional catalogue item of that category"})
    title = _text(200)
    description = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    starts_at = IsoDateTime(required=True, metadata={"description": "ISO 8601 with offset, in the future"})
    ends_at = IsoDateTime(load_default=None, allow_none=True)
    mode = fields.String(required=True, validate=validate.OneOf(TRAINING_MODES))
    venue = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=300),
                          metadata={"description": "Required for onsite training"})
    online_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"},
                            validate=validate.Length(max=500),
                            metadata={"description": "Required for online training; shown to confirmed "
                                                     "participants only"})
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10000))
    qualification_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(QUALIFICATION_CODE),
        metadata={"description": "The instrument qualification attending grants (e.g. icpms-operation); booking "
                                 "grants it on every instrument requiring that code"})

    OPENAPI_EXTRA = {
        "allOf": [{"anyOf": [{"properties": {"mode": {"const": "online"}}},
                             {"required": ["venue"], "properties": {"venue": {"type": "string"}}}]},
                  {"anyOf": [{"properties": {"mode": {"const": "onsite"}}},
                             {"required": ["online_url"], "properties": {"online_url": {"type": "string"}}}]}],
        "description": "venue is required for onsite training, online_url for online training; ends_at after "
                       "starts_at"}

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data.get("mode") == "onsite" and not data.get("venue"):
            raise ValidationError("线下培训须填写地点 / venue is required for onsite training", "venue")
        if data.get("mode") == "online" and not data.get("online_url"):
            raise ValidationError("线上培训须填写链接 / online_url is required for online training", "online_url")
        def instant(text):
            return dt.datetime.fromisoformat(text.rstrip("Z"))
        if data.get("ends_at") and data.get("starts_at") and instant(data["ends_at"]) <= instant(data["starts_at"]):
            raise ValidationError("结束须晚于开始 / ends_at must be after starts_at", "ends_at")


class SignupOut(Schema):
    signup_id = fields.String()
    training_id = fields.String()
    user_id = fields.String()
    nickname = fields.String(allow_none=True, metadata={
        "description": "The participant's public nickname (from identity's user.registered); null when the registry "
                       "never heard of the account (registered before it consumed the event)"})
    user_role = fields.String()
    status = fields.String(metadata={"description": "confirmed, waitlisted or cancelled"})
    waitlist_position = fields.Integer(allow_none=True, metadata={"description": "1 = next to be promoted"})
    signed_up_at = fields.String()
    confirmed_at = fields.String(allow_none=True)
    cancelled_at = fields.String(allow_none=True)
    attended_at = fields.String(allow_none=True, metadata={"description": "Attendance recorded by staff"})
    online_url = fields.String(metadata={"description": "Online training, confirmed sign-ups only"})
    already_signed_up = fields.Boolean(metadata={"description": "True when this user already held a place"})


class TrainingOut(Schema):
    training_id = fields.String()
    category_code = fields.String()
    category_name_zh = fields.String(allow_none=True)
    item_code = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String(allow_none=True)
    starts_at = fields.String()
    starts_local = fields.String(metadata={"description": "starts_at in Asia/Shanghai"})
    ends_at = fields.String(allow_none=True)
    ends_local = fields.String(allow_none=True)
    mode = fields.String()
    venue = fields.String(allow_none=True)
    online_url = fields.String(metadata={"description": "Operators only here; participants see it on their sign-up"})
    capacity = fields.Integer()
    confirmed = fields.Integer()
    waitlisted = fields.Integer()
    seats_left = fields.Integer()
    status = fields.String()
    qualification_code = fields.String(allow_none=True)
    attended = fields.Integer(metadata={"description": "Participants whose attendance is recorded"})
    mine = fields.Nested(SignupOut, allow_none=True, metadata={
        "description": "In the list, for a signed-in enterprise or person: their sign-up (any status), or null"})


class SignupListOut(Schema):
    training = fields.Nested(TrainingOut)
    items = fields.List(fields.Nested(SignupOut))


class TrainingPageOut(Schema):
    items = fields.List(fields.Nested(TrainingOut))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class AttendanceIn(_Strict):
    user_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                           validate=validate.Length(min=1, max=1000),
                           metadata={"description": "Confirmed participants who attended"})
    attended_on = fields.Date(load_default=None, allow_none=True,
                              metadata={"description": "Local date; the training's start date by default"})


class AttendanceOut(Schema):
    training = fields.Nested(TrainingOut)
    recorded = fields.List(fields.String(), metadata={"description": "User ids newly marked attended"})
    already = fields.List(fields.String(), metadata={"description": "User ids already marked (unchanged)"})
