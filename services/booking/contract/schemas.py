"""Request and response schemas of the booking slice: instruments, their rules, availability and
qualifications (bookings and appointments: schemas_bookings.py)."""
from __future__ import annotations

import re

from marshmallow import ValidationError, validate, validates_schema

from services.common import fields
from services.common.money import Money
from services.common.schemas import Schema
from services.common.vocabulary import CATEGORIES

from .vocabulary import BLACKOUT_KINDS, BOOKING_MODES, PRICE_GROUPS, QUALIFICATION_EXPIRY, SLOT_STATES

QUALIFICATION_CODE = r"^[a-z0-9][a-z0-9.-]{1,63}$"

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
_GRID = "须为 15 的倍数 / must be a multiple of 15"


def _multiple_of_15(value):
    if value % 15:
        raise ValidationError(_GRID)


def _opening_hours(value):
    if not isinstance(value, dict):
        raise ValidationError("须为对象 / must be an object")
    for day, periods in value.items():
        if day not in {str(d) for d in range(1, 8)}:
            raise ValidationError(f"星期须为 1..7 / weekday keys are 1..7, not {day!r}")
        if not isinstance(periods, list):
            raise ValidationError("须为时段列表 / periods must be a list")
        for p in periods:
            if (not isinstance(p, list) or len(p) != 2 or not all(isinstance(x, str) and _HHMM.match(x) for x in p)
                    or p[0] >= p[1] or int(p[0][3:]) % 15 or int(p[1][3:]) % 15):
                raise ValidationError("时段须为 [\"HH:MM\",\"HH:MM\"]，按 15 分钟 / periods are "
                                      "[\"HH:MM\",\"HH:MM\"] on a 15-minute grid")


class Utc(fields.DateTime):
    """A naive-UTC datetime dumped as ISO 8601 with Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


class PriceIn(Schema):
    price_group = fields.String(required=True, validate=validate.OneOf(PRICE_GROUPS))
    hourly_rate = Money(required=True)


class RulesIn(Schema):
    notice_working_days = fields.Integer(load_default=1, validate=validate.Range(0, 60))
    horizon_working_days = fields.Integer(load_default=20, validate=validate.Range(1, 250))
    slot_minutes = fields.Integer(load_default=60, validate=[validate.Range(15, 480), _multiple_of_15])
    min_minutes = fields.Integer(load_default=60, validate=[validate.Range(15, 1440), _multiple_of_15])
    max_minutes = fields.Integer(load_default=480, validate=[validate.Range(15, 1440), _multiple_of_15])
    buffer_minutes = fields.Integer(load_default=0, validate=[validate.Range(0, 240), _multiple_of_15])
    weekly_limit_minutes = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(15, 10080))
    approval_required = fields.Boolean(load_default=True)
    qualification_required = fields.Boolean(load_default=False)
    operator_assisted = fields.Boolean(load_default=False)
    opening_hours = fields.Dict(required=True, validate=_opening_hours,
                                metadata={"description": "ISO weekday 1..7 -> [[\"08:30\",\"17:30\"], ...] local "
                                                         "time; PRC holidays and 调休 apply by themselves"})
    calibration_due = fields.Date(load_default=None, allow_none=True)
    minimum_charge = Money(load_default="0")
    cancel_deadline_hours = fields.Integer(load_default=24, validate=validate.Range(0, 720))
    no_show_minutes = fields.Integer(load_default=15, validate=validate.Range(5, 240))
    qualification_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(QUALIFICATION_CODE),
        metadata={"description": "The qualification it requires, e.g. icpms-operation: attending a registry "
                                 "training naming this code grants it"})
    qualification_expiry = fields.String(load_default="fixed_months", validate=validate.OneOf(QUALIFICATION_EXPIRY),
                                         metadata={"description": "fixed_months after the grant, or idle_days "
                                                                  "without use (a completed booking renews it)"})
    qualification_months = fields.Integer(load_default=12, validate=validate.Range(1, 60))
    qualification_idle_days = fields.Integer(load_default=180, validate=validate.Range(1, 730))

    @validates_schema
    def _durations(self, data, **_):
        if data.get("min_minutes", 0) > data.get("max_minutes", 10 ** 6):
            raise ValidationError("最短时长不能大于最长时长 / min_minutes exceeds max_minutes", "min_minutes")
        slot = data.get("slot_minutes", 60)
        for name in ("min_minutes", "max_minutes"):
            if data.get(name, 0) % slot:
                raise ValidationError("须为时段长度的倍数 / must be a multiple of slot_minutes", name)


class InstrumentIn(Schema):
    institution_id = fields.String(load_default=None, allow_none=True,
                                   metadata={"description": "Operators name it; an institution's own by default"})
    name = fields.String(required=True, blank=False, validate=validate.Length(1, 200))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    model = fields.String(load_default="", validate=validate.Length(0, 100))
    maker = fields.String(load_default="", validate=validate.Length(0, 100))
    specifications = fields.Dict(keys=fields.String(validate=validate.Length(1, 60)),
                                 values=fields.String(validate=validate.Length(0, 200)), load_default=dict)
    capability_ids = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list)
    standards = fields.List(fields.String(validate=validate.Length(1, 80)), load_default=list)
    station_window_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64),
                                      metadata={"description": "The park station hosting it; null: at the institution"})
    park = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 100))
    location = fields.String(load_default="", validate=validate.Length(0, 300))
    photo_url = fields.Url(load_default=None, allow_none=True)
    rules = fields.Nested(RulesIn, required=True)
    prices = fields.List(fields.Nested(PriceIn), required=True, validate=validate.Length(1, 3))

    @validates_schema
    def _prices(self, data, **_):
        groups = [p["price_group"] for p in data.get("prices", [])]
        if len(groups) != len(set(groups)):
            raise ValidationError("价格组重复 / a price group is given twice", "prices")


class InstrumentChange(InstrumentIn):
    pass


class WithdrawIn(Schema):
    reason = fields.String(required=True, blank=False, validate=validate.Length(1, 300))


class BlackoutIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(BLACKOUT_KINDS))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, blank=False, validate=validate.Length(1, 300))

    @validates_schema
    def _order(self, data, **_):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("结束须晚于开始 / ends_at must be after starts_at", "ends_at")


class InstrumentQuery(Schema):
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    park = fields.String(validate=validate.Length(1, 100))
    standard = fields.String(validate=validate.Length(1, 80))
    institution_id = fields.String(validate=validate.Length(1, 64))
    q = fields.String(validate=validate.Length(1, 100))
    include_withdrawn = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 100000))


class AvailabilityQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    mode = fields.String(load_default="self", validate=validate.OneOf(BOOKING_MODES),
                         metadata={"description": "Signed in: judge the slots for self use (qualification) or "
                                                  "operator-assisted use, as a request in that mode would be"})

    @validates_schema
    def _range(self, data, **_):
        if data.get("from_") and data.get("to"):
            days = (data["to"] - data["from_"]).days
            if days < 0 or days > 30:
                raise ValidationError("日期范围须为 1 到 31 天 / the range is 1 to 31 days", "to")


class GrantIn(Schema):
    user_id = fields.String(required=True, validate=validate.Length(1, 64))
    months = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 60),
                            metadata={"description": "Fixed expiry; the instrument's qualification_months by default"})


class PriceOut(Schema):
    price_group = fields.String()
    hourly_rate = Money()


class RulesOut(Schema):
    notice_working_days = fields.Integer()
    horizon_working_days = fields.Integer()
    slot_minutes = fields.Integer()
    min_minutes = fields.Integer()
    max_minutes = fields.Integer()
    buffer_minutes = fields.Integer()
    weekly_limit_minutes = fields.Integer(allow_none=True)
    approval_required = fields.Boolean()
    qualification_required = fields.Boolean()
    operator_assisted = fields.Boolean()
    opening_hours = fields.Dict()
    calibration_due = fields.Date(allow_none=True)
    minimum_charge = Money()
    cancel_deadline_hours = fields.Integer()
    no_show_minutes = fields.Integer()
    qualification_code = fields.String(allow_none=True)
    qualification_expiry = fields.String()
    qualification_months = fields.Integer()
    qualification_idle_days = fields.Integer()


class BlackoutOut(Schema):
    id = fields.String()
    kind = fields.String()
    starts_at = Utc()
    ends_at = Utc()
    reason = fields.String()


class InstrumentOut(Schema):
    id = fields.String()
    institution_id = fields.String()
    institution_name = fields.String(allow_none=True)
    name = fields.String()
    category = fields.String()
    model = fields.String()
    maker = fields.String()
    specifications = fields.Dict()
    capability_ids = fields.List(fields.String())
    standards = fields.List(fields.String())
    station_window_id = fields.String(allow_none=True)
    park = fields.String(allow_none=True)
    location = fields.String()
    photo_url = fields.String(allow_none=True)
    status = fields.String()
    withdrawn_reason = fields.String(allow_none=True)
    revision = fields.Integer()
    rules = fields.Nested(RulesOut)
    prices = fields.List(fields.Nested(PriceOut))
    blackouts = fields.List(fields.Nested(BlackoutOut))


class InstrumentPage(Schema):
    items = fields.List(fields.Nested(InstrumentOut))
    total = fields.Integer()


class RuleViolationOut(Schema):
    rule = fields.String(metadata={"description": "Stable rule id, e.g. calendar.holiday, notice.too_short"})
    message = fields.String()
    message_zh = fields.String()
    message_en = fields.String()


class SlotOut(Schema):
    start = Utc()
    end = Utc()
    start_local = fields.String()
    state = fields.String(metadata={"description": " | ".join(SLOT_STATES)})
    rules = fields.List(fields.Nested(RuleViolationOut))


class QualificationStatusOut(Schema):
    required = fields.Boolean()
    code = fields.String(allow_none=True)
    expiry_rule = fields.String(metadata={"description": "fixed_months or idle_days"})
    state = fields.String(metadata={"description": "not_required | valid | expired | missing | unknown (anonymous)"})
    expires_at = Utc(allow_none=True)


class AvailabilityOut(Schema):
    instrument_id = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    slot_minutes = fields.Integer()
    mode = fields.String()
    qualification = fields.Nested(QualificationStatusOut,
                                  metadata={"description": "The caller's qualification, judged by the rule engine"})
    slots = fields.List(fields.Nested(SlotOut))


class QualificationOut(Schema):
    id = fields.String()
    user_id = fields.String()
    instrument_id = fields.String()
    expires_at = Utc()
    source = fields.String(metadata={"description": "staff, or training (attendance at a registry training)"})
    training_id = fields.String(allow_none=True)
    created_at = Utc()
    last_used_at = Utc(allow_none=True)
    state = fields.String(metadata={"description": "valid or expired, by the instrument's expiry rule"})
    effective_expires_at = Utc(metadata={"description": "When it lapses under the instrument's rule"})
