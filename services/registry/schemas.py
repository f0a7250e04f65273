"""Request and response schemas of the registry service: the single source.

The gateway validates HTTP bodies with these classes and renders them into
OpenAPI; the service validates again (the RPC queue is reachable by anything on
the broker). Loaded values stay JSON-able (dates as ISO strings) so what the
gateway forwards loads again unchanged on the service's side.

Uploads: attachments travel inside the JSON body as base64 (`AttachmentIn`),
at most 10 MiB decoded each, PDF/JPEG/PNG by magic bytes. A file the registry
already holds may be referenced by `file_id` (its SHA-256) instead.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, ValidationError, validates_schema

from services.common import errors, fields, pii, validate
from services.common.money import Money
from services.common.schemas import Schema, SlaClockOut, load

from .files import MAX_BASE64_CHARS, MAX_FILE_BYTES
from .models import (CASE_LOG_KINDS, CASE_ROLES, CATEGORY_CODES, KINDS, QUALIFICATION_TYPES, TRAINING_MODES,
                     WINDOW_KINDS)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class IsoDate(fields.Date):
    """A YYYY-MM-DD date, validated, kept as its ISO string (JSON-able over RPC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class IsoDateTime(fields.AwareDateTime):
    """An ISO 8601 instant that must carry its offset (API.md); kept as a UTC "...Z" string."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


class UsccField(fields.String):
    """Unified social credit code, GB 32100 (check character verified)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return pii.check_uscc(text, field="uscc")
        except errors.ValidationFailed as exc:
            raise ValidationError(exc.errors.get("uscc") or [exc.detail]) from None


def _text(max_len: int, required: bool = True, **kw):
    return fields.String(required=required, validate=validate.Length(min=1, max=max_len), **kw)


def _lines(max_len: int, required: bool = True, **kw):
    """Text of several lines (descriptions, conditions, scopes, addresses): tab and newline allowed."""
    return fields.MultilineString(required=required, validate=validate.Length(min=1, max=max_len), **kw)


# -- attachments ----------------------------------------------------------------------

class AttachmentIn(_Strict):
    filename = fields.String(validate=validate.Length(max=200), metadata={"description": "Original file name"})
    content_base64 = fields.String(metadata={
        "description": f"File bytes, base64; PDF, JPEG or PNG (checked by magic bytes), at most {MAX_FILE_BYTES} "
                       "bytes decoded / 文件内容 base64，仅限 PDF/JPEG/PNG，不超过 10 MiB"})
    file_id = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"),
                            metadata={"description": "SHA-256 of a file already stored (e.g. on resubmission)"})

    OPENAPI_EXTRA = {"anyOf": [{"required": ["content_base64"], "properties": {"content_base64": {"minLength": 1}}},
                               {"required": ["file_id"]}],
                     "description": "Give content_base64 (a new file) or file_id (a stored one)"}

    @validates_schema
    def _one_source(self, data, **kwargs):
        if not data.get("content_base64") and not data.get("file_id"):
            raise ValidationError("须提供 content_base64 或 file_id / content_base64 or file_id is required",
                                  "content_base64")
        if len(data.get("content_base64") or "") > MAX_BASE64_CHARS + 4:
            raise ValidationError(f"文件超过 10 MiB / file larger than {MAX_FILE_BYTES} bytes", "content_base64")


class AttachmentRef(Schema):
    file_id = fields.String()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()


class ApplicationAttachments(_Strict):
    application_form = fields.Nested(AttachmentIn, required=True, metadata={"description": "a) 技术机构申请书"})
    business_licence = fields.Nested(AttachmentIn, required=True, metadata={"description": "b) 营业执照"})
    integrity_pledge = fields.Nested(AttachmentIn, required=True, metadata={"description": "d) 诚信承诺书"})


# -- institution data -------------------------------------------------------------------

class InstitutionIn(_Strict):
    name = _text(200)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    uscc = UsccField(required=True)
    region = _text(50, metadata={"description": "District, e.g. 海陵区"})
    park = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    address = _lines(300)
    legal_representative = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                                         metadata={"description": "Stored encrypted; never published or in events"})


class QualificationIn(_Strict):
    ref = fields.String(validate=validate.Length(max=50),
                        metadata={"description": "Local label the capabilities use to point at this certificate"})
    type = fields.String(required=True, validate=validate.OneOf(QUALIFICATION_TYPES))
    number = _text(100)
    issuer = _text(200)
    valid_from = IsoDate(required=True)
    valid_to = IsoDate(required=True)
    scope = _lines(2000)
    certificate = fields.Nested(AttachmentIn, required=True, metadata={"description": "c) 资质证书 scan"})

    @validates_schema
    def _dates(self, data, **kwargs):
        if data.get("valid_from") and data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError("有效期止早于起 / valid_to is before valid_from", "valid_to")


class CapabilityIn(_Strict):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES))
    item_code = _text(64)
    product = _text(200)
    parameter = _text(200)
    method_standard = _text(100, metadata={"description": "e.g. GB/T 2828.1-2012"})
    price_yuan = Money(integer_digits=8, required=True)  # below 100 million yuan
    cycle_working_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))
    qualification_ref = fields.String(validate=validate.Length(max=50))
    qualification_id = fields.String(validate=validate.Length(max=36))


class ApplicationIn(_Strict):
    institution = fields.Nested(InstitutionIn, required=True)
    attachments = fields.Nested(ApplicationAttachments, required=True)
    qualifications = fields.List(fields.Nested(QualificationIn), required=True, validate=validate.Length(min=1),
                                 metadata={"description": "c) 资质证书 (type, number, issuer, validity, scope, scan)"})
    capabilities = fields.List(fields.Nested(CapabilityIn), required=True, validate=validate.Length(min=1),
                               metadata={"description": "e) 服务能力范围"})


class ReviewIn(_Strict):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject", "return")))
    reasons = fields.List(fields.MultilineString(validate=validate.Length(min=1, max=500)), load_default=list)

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"decision": {"const": "approve"}}},
                               {"required": ["reasons"], "properties": {"reasons": {"minItems": 1}}}],
                     "description": "reasons (at least one) are required to reject or return"}

    @validates_schema
    def _reasons(self, data, **kwargs):
        if data["decision"] in ("reject", "return") and not data.get("reasons"):
            raise ValidationError("驳回或退回须说明理由 / reasons are required to reject or return", "reasons")


class QualificationCreate(QualificationIn):
    pass


class CapabilityCreate(CapabilityIn):
    pass


class ChangeAttachments(_Strict):
    business_licence = fields.Nested(AttachmentIn, required=True, metadata={"description": "a) 营业执照"})
    supporting = fields.List(fields.Nested(AttachmentIn), load_default=list,
                             metadata={"description": "b) 其他资料: approval, property deed or lease"})


class ChangeIn(_Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    address = fields.MultilineString(validate=validate.Length(min=1, max=300))
    legal_representative = fields.String(validate=validate.Length(min=1, max=100))
    change_date = IsoDate(required=True, metadata={"description": "Day the change took effect"})
    attachments = fields.Nested(ChangeAttachments, required=True)

    OPENAPI_EXTRA = {"anyOf": [{"required": ["name"]}, {"required": ["address"]},
                               {"required": ["legal_representative"]}],
                     "description": "Change at least one of name, address, legal_representative"}

    @validates_schema
    def _something(self, data, **kwargs):
        if not any(data.get(k) for k in ("name", "address", "legal_representative")):
            raise ValidationError("至少变更一项 / change at least one of name, address, legal_representative",
                                  "_schema")


class DeregistrationIn(_Strict):
    reason = _lines(1000)
    closed_on = IsoDate(load_default=None, allow_none=True,
                        metadata={"description": "Self-deregistration: the day the institution closed"})
    qualification_id = fields.String(load_default=None, allow_none=True,
                                     metadata={"description": "Forced: the revoked qualification"})


class GuideIn(_Strict):
    title = _text(200)
    acceptance_conditions = _lines(5000)
    materials = fields.List(fields.MultilineString(validate=validate.Length(min=1, max=500)), required=True,
                            validate=validate.Length(min=1))
    process_steps = fields.List(fields.MultilineString(validate=validate.Length(min=1, max=500)), required=True,
                                validate=validate.Length(min=1))
    time_limit_working_days = fields.Integer(load_default=None, allow_none=True,
                                             validate=validate.Range(min=0, max=3650))
    time_limit_note = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=500))
    fees = _lines(1000)
    channels = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                           validate=validate.Length(min=1))
    change_note = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CatalogItemIn(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_.]{1,63}$"))
    category_code = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES))
    name_zh = _text(200)
    name_en = _text(300)
    clause = fields.String(load_default=None, allow_none=True)
    public = fields.Boolean(load_default=True)


class CatalogItemUpdate(_Strict):
    name_zh = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(min=1, max=300))
    public = fields.Boolean()


def _case_info(value) -> None:
    """What the document states for case_info: a flat object of text, lists of text, numbers, booleans."""
    if len(value) > 50:
        raise ValidationError("最多 50 项 / at most 50 entries")
    for key, item in value.items():
        if isinstance(item, str):
            fields.check_text(item, multiline=True)
            ok = len(item) <= 2000
        elif isinstance(item, list):
            ok = len(item) <= 50 and all(isinstance(x, str) and len(x) <= 500 for x in item)
            for x in item if ok else ():
                fields.check_text(x)
        else:
            ok = item is None or isinstance(item, (bool, int, float))
        if not ok:
            raise ValidationError(f"{key}: 须为文本、文本列表、数字或布尔值 / must be text, a list of text, a number "
                                  "or a boolean")


class WindowIn(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(WINDOW_KINDS))
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9\-]{3,32}$"))
    name = _text(200)
    region = _text(50)
    address = _lines(300)
    contact = _text(100, metadata={"description": "Desk phone of the window"})
    opening_hours = _text(200)
    public = fields.Boolean(load_default=True)
    institution_id = fields.String(load_default=None, allow_none=True)
    services = fields.List(fields.String(), load_default=list, metadata={"description": "catalogue item codes"})
    case_info = fields.Dict(load_default=None, allow_none=True, keys=fields.String(validate=validate.Length(min=1, max=100)),
                            validate=_case_info, multiline=True,
                            metadata={"description": "Enterprise windows: the point-to-point case and its team, "
                                                     "e.g. {\"topic\": \"…\", \"team\": [\"…\"]}",
                                      "maxProperties": 50,
                                      "additionalProperties": {"anyOf": [
                                          {"type": "string", "maxLength": 2000, "pattern": fields.PATTERN_MULTI},
                                          {"type": "array", "maxItems": 50,
                                           "items": {"type": "string", "maxLength": 500,
                                                     "pattern": fields.PATTERN_SINGLE}},
                                          {"type": ["number", "boolean", "null"]}]}})

    # apispec renders no propertyNames; the keys' rule, stated here.
    OPENAPI_EXTRA = {"properties": {"case_info": {"propertyNames": {"minLength": 1, "maxLength": 100,
                                                                    "pattern": fields.PATTERN_SINGLE}}}}


class WindowServicesIn(_Strict):
    services = fields.List(fields.String(), required=True)


class WindowUpdate(_Strict):
    """Identity fields of a window (R-4.2.1.4); give only the ones that change."""

    code = fields.String(validate=validate.Regexp(r"^[A-Z0-9\-]{3,32}$"))
    name = fields.String(validate=validate.Length(min=1, max=200))
    region = fields.String(validate=validate.Length(min=1, max=50))
    address = fields.MultilineString(validate=validate.Length(min=1, max=300))
    contact = fields.String(validate=validate.Length(min=1, max=100),
                            metadata={"description": "Desk phone of the window"})
    opening_hours = fields.String(validate=validate.Length(min=1, max=200))
    public = fields.Boolean(metadata={"description": "Listed publicly (false: staff only)"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("至少修改一项 / give at least one field to change", "_schema")

    OPENAPI_EXTRA = {"minProperties": 1}


class CaseMemberIn(_Strict):
    user_id = _text(64, metadata={"description": "Account id of the member"})
    role = fields.String(required=True, validate=validate.OneOf(CASE_ROLES),
                         metadata={"description": "Role in the case team: " + ", ".join(CASE_ROLES)})


def _unique_members(members) -> None:
    ids = [m["user_id"] for m in members or []]
    if len(ids) != len(set(ids)):
        raise ValidationError("成员重复 / a user is listed twice", "members")


class CaseIn(_Strict):
    title = _text(200, metadata={"description": "e.g. 新能源开关柜研制"})
    description = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    enterprise_user_id = _text(64, metadata={"description": "Account of the enterprise the case serves"})
    members = fields.List(fields.Nested(CaseMemberIn), load_default=list,
                          metadata={"description": "The team (协同服务团队)"})

    @validates_schema
    def _members(self, data, **kwargs):
        _unique_members(data.get("members"))


class CaseTeamIn(_Strict):
    members = fields.List(fields.Nested(CaseMemberIn), required=True)

    @validates_schema
    def _members(self, data, **kwargs):
        _unique_members(data.get("members"))


class CaseLogIn(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(CASE_LOG_KINDS),
                         metadata={"description": "仪器选型 instrument_selection, 产品研发 product_development, "
                                                  "技术难题 technical_problem, other"})
    summary = _text(200)
    detail = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=10000))


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


class ListQuery(_Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100_000))
    category = fields.String(validate=validate.OneOf(CATEGORY_CODES))
    status = fields.String()
    kind = fields.String()


# -- responses ---------------------------------------------------------------------------

class ItemOut(Schema):
    code = fields.String()
    category_code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    clause = fields.String(allow_none=True)
    public = fields.Boolean()
    guide_version = fields.Integer(allow_none=True)


class CategoryOut(Schema):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    clause = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ItemOut))


class GuideOut(Schema):
    item_code = fields.String()
    item_name_zh = fields.String()
    item_name_en = fields.String()
    version = fields.Integer()
    current = fields.Boolean()
    title = fields.String()
    acceptance_conditions = fields.String()
    materials = fields.List(fields.String())
    process_steps = fields.List(fields.String())
    time_limit_working_days = fields.Integer(allow_none=True)
    time_limit_note = fields.String(allow_none=True)
    fees = fields.String()
    channels = fields.List(fields.String())
    change_note = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.String()


class QualificationOut(Schema):
    qualification_id = fields.String()
    type = fields.String()
    number = fields.String()
    issuer = fields.String()
    valid_from = fields.String()
    valid_to = fields.String()
    scope = fields.String()
    status = fields.String()


class CapabilityOut(Schema):
    capability_id = fields.String()
    category = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    product = fields.String()
    parameter = fields.String()
    method_standard = fields.String()
    price_yuan = Money(integer_digits=8)
    cycle_working_days = fields.Integer()
    qualification_id = fields.String(allow_none=True)


class InstitutionOut(Schema):
    institution_id = fields.String()
    name = fields.String()
    kind = fields.String()
    uscc = fields.String()
    region = fields.String()
    park = fields.String(allow_none=True)
    address = fields.String()
    categories = fields.List(fields.String())
    qualifications = fields.List(fields.Nested(QualificationOut))
    capabilities = fields.List(fields.Nested(CapabilityOut))
    status = fields.String()
    revision = fields.Integer()
    legal_representative = fields.String(allow_none=True, metadata={"description": "Staff views only, masked"})
    deregistered_at = fields.String(allow_none=True)
    deregistration_reason = fields.String(allow_none=True)
    deregistration_forced = fields.Boolean(allow_none=True)
    deregistration_late = fields.Boolean(allow_none=True)
    windows = fields.List(fields.Dict())


class ApplicationOut(Schema):
    application_id = fields.String()
    institution_id = fields.String()
    applicant_user_id = fields.String()
    status = fields.String()
    name = fields.String()
    submissions = fields.Integer()
    submitted_at = fields.String()
    decided_at = fields.String(allow_none=True)
    reasons = fields.List(fields.String(), allow_none=True)
    institution = fields.Dict()
    attachments = fields.Dict()
    qualifications = fields.List(fields.Dict())
    capabilities = fields.List(fields.Dict())
    history = fields.List(fields.Dict())
    review_clock = fields.Dict(allow_none=True, metadata={"description": "SLA clock of the 3-working-day review"})


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


class SignupOut(Schema):
    signup_id = fields.String()
    training_id = fields.String()
    user_id = fields.String()
    user_role = fields.String()
    status = fields.String(metadata={"description": "confirmed, waitlisted or cancelled"})
    waitlist_position = fields.Integer(allow_none=True, metadata={"description": "1 = next to be promoted"})
    signed_up_at = fields.String()
    confirmed_at = fields.String(allow_none=True)
    cancelled_at = fields.String(allow_none=True)
    online_url = fields.String(metadata={"description": "Online training, confirmed sign-ups only"})
    already_signed_up = fields.Boolean(metadata={"description": "True when this user already held a place"})


class SignupListOut(Schema):
    training = fields.Nested(TrainingOut)
    items = fields.List(fields.Nested(SignupOut))


class TrainingPageOut(Schema):
    items = fields.List(fields.Nested(TrainingOut))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class PageOut(Schema):
    items = fields.List(fields.Dict())
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class ReviewStepOut(Schema):
    """One step in the history of a change."""

    at = fields.String()
    action = fields.String(metadata={"description": "submitted, resubmitted, approved, rejected or returned"})
    by = fields.String(metadata={"description": "User id of whoever took the step"})
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields",
                          metadata={"description": "Changes: the fields submitted"})
    reasons = fields.List(fields.String(), metadata={"description": "Decisions: the reasons given"})


class ChangedFieldsOut(Schema):
    """The values of a change, before or after; only the fields it changes appear."""

    name = fields.String()
    address = fields.String()
    legal_representative = fields.String(allow_none=True, metadata={"description": "Masked"})


class ChangeAttachmentsOut(Schema):
    business_licence = fields.Nested(AttachmentRef)
    supporting = fields.List(fields.Nested(AttachmentRef))


class ChangeOut(Schema):
    """A change of name, address or legal representative (R-6.1.3) with its review clock."""

    change_id = fields.String()
    institution_id = fields.String()
    status = fields.String(metadata={"description": "submitted, returned, approved or rejected"})
    changed_fields = fields.List(fields.String(), metadata={"description": "name, address, legal_representative"})
    before = fields.Nested(ChangedFieldsOut)
    after = fields.Nested(ChangedFieldsOut)
    change_date = fields.String(metadata={"description": "Day the change took effect (YYYY-MM-DD)"})
    late = fields.Boolean(metadata={"description": "Reported more than one month after change_date"})
    attachments = fields.Nested(ChangeAttachmentsOut)
    submitted_by = fields.String()
    submitted_at = fields.String(metadata={"description": "Latest (re)submission"})
    submissions = fields.Integer()
    first_submitted_at = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    reasons = fields.List(fields.String(), allow_none=True)
    history = fields.List(fields.Nested(ReviewStepOut))
    review_clock = fields.Nested(SlaClockOut, allow_none=True,
                                 metadata={"description": "SLA clock of the 3-working-day change review"})


class InstitutionEventOut(Schema):
    at = fields.String()
    actor_id = fields.String(metadata={"description": "User id, or \"system\" for the sweep"})
    action = fields.String(metadata={"description": "e.g. approved, change_submitted, capability_published, "
                                                    "qualification_expired, deregistered"})
    detail = fields.Dict(allow_none=True, metadata={"description": "Depends on the action (ids, fields, reasons)"})


class CaseMemberOut(Schema):
    user_id = fields.String()
    role = fields.String(metadata={"description": "Role in the case team: " + ", ".join(CASE_ROLES)})
    added_at = fields.String()


class CaseLogEntryOut(Schema):
    entry_id = fields.Integer()
    kind = fields.String(metadata={"description": ", ".join(CASE_LOG_KINDS)})
    summary = fields.String()
    detail = fields.String(allow_none=True)
    author_id = fields.String()
    author_role = fields.String()
    at = fields.String()


class CaseOut(Schema):
    """A point-to-point case of an enterprise window (R-4.2.3)."""

    case_id = fields.String()
    window_id = fields.String()
    enterprise_user_id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    status = fields.String()
    created_by = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    my_relation = fields.String(metadata={"description": "How the caller may see the case: operator, enterprise "
                                                         "or member"})
    members = fields.List(fields.Nested(CaseMemberOut), metadata={"description": "The team (协同服务团队)"})
    log = fields.List(fields.Nested(CaseLogEntryOut), metadata={"description": "One case only, not in lists"})


class WindowOut(Schema):
    window_id = fields.String()
    kind = fields.String(metadata={"description": ", ".join(WINDOW_KINDS)})
    code = fields.String()
    name = fields.String()
    region = fields.String()
    address = fields.String()
    contact = fields.String(metadata={"description": "Desk phone of the window"})
    opening_hours = fields.String()
    public = fields.Boolean()
    institution_id = fields.String(allow_none=True)
    services = fields.List(fields.String(), metadata={"description": "Catalogue item codes"})
    published_items = fields.List(fields.Nested(CapabilityOut),
                                  metadata={"description": "Institution windows of an active institution: what it "
                                                           "offers, with price and cycle"})
    case_info = fields.Dict(allow_none=True, metadata={"description": "Enterprise windows, operators only: the "
                                                                      "free-form case summary given on creation"})



def today_local() -> dt.date:
    from services.common.workdays import local_date
    from services.common.db import utcnow
    return local_date(utcnow())
