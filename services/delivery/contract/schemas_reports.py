"""Report registry (4.1.3) and public verification: request and response schemas."""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from services.common import fields
from services.common.schemas import Schema

from .schemas_common import ID, NUMBER_PATTERN, IsoDate, JsonList, Page, ScopeFlagOut, UtcDateTime, text
from .vocabulary import CERTIFICATE_KINDS, MARKS, REPORT_STATUSES, SCOPE_STATES, VERIFY_METHODS, VERIFY_RESULTS

SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="64 hex digits (lower case) / 64 位小写十六进制")
CODE = validate.Regexp(r"^[A-Za-z0-9]{4,16}$", error="4-16 letters or digits / 4-16 位字母或数字")
MAX_PDF_BASE64 = 14_000_000   # about 10 MB of PDF


class ReportIn(Schema):
    number = fields.String(required=True, validate=validate.Regexp(NUMBER_PATTERN),
                           metadata={"description": "The report number printed on the report"})
    institution_id = fields.String(validate=ID["validate"],
                                   metadata={"description": "Staff only: the issuing institution (an institution "
                                                            "account registers for its own)"})
    enterprise_id = fields.String(required=True, validate=ID["validate"],
                                  metadata={"description": "Account id of the client enterprise"})
    product = text(200, required=True)
    item = text(200, allow_none=True)
    standards = fields.List(fields.String(validate=validate.Length(min=2, max=80)), required=True,
                            validate=validate.Length(min=1, max=20))
    test_date = fields.Date(required=True)
    valid_until = fields.Date(allow_none=True, metadata={"description": "After this date the report answers expired"})
    conclusion = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=2000))
    marks = fields.List(fields.String(validate=validate.OneOf(MARKS)), load_default=list,
                        validate=validate.Length(max=3))
    kind = fields.String(load_default="test", validate=validate.OneOf(CERTIFICATE_KINDS),
                         metadata={"description": "test report, or a calibration / verification certificate"})
    instrument_id = fields.String(allow_none=True, validate=ID["validate"],
                                  metadata={"description": "The ledger instrument a calibration/verification "
                                                           "certificate is for: the ledger updates itself"})
    pdf_sha256 = fields.String(required=True, validate=SHA256)
    pdf_base64 = fields.String(allow_none=True, validate=validate.Length(max=MAX_PDF_BASE64),
                               metadata={"description": "Optional: the PDF itself (its SHA-256 must match)"})
    supersedes = fields.String(allow_none=True, validate=validate.Regexp(NUMBER_PATTERN),
                               metadata={"description": "The number of the report this corrected one replaces"})

    OPENAPI_EXTRA = {"description": "valid_until, if given, is not before test_date (a 422 otherwise: JSON Schema "
                                    "cannot compare dates); marks are distinct",
                     "properties": {"marks": {"uniqueItems": True}}}

    @validates_schema
    def _dates(self, data, **_):
        if data.get("valid_until") and data["valid_until"] < data["test_date"]:
            raise ValidationError("valid_until before test_date / 有效期早于检测日期", "valid_until")
        if len(set(data.get("marks") or [])) != len(data.get("marks") or []):
            raise ValidationError("a mark listed twice / 标志重复", "marks")


class WithdrawIn(Schema):
    reason = fields.String(required=True, blank=False, validate=validate.Length(min=2, max=1000))


class ReportQuery(Page):
    status = fields.String(validate=validate.OneOf(REPORT_STATUSES))
    scope = fields.String(validate=validate.OneOf(SCOPE_STATES))
    institution_id = fields.String(validate=ID["validate"])


class ReportOut(Schema):
    id = fields.String()
    number = fields.String()
    institution_id = fields.String()
    institution_name = fields.String()
    enterprise_id = fields.String()
    product = fields.String()
    item = fields.String(allow_none=True)
    standards = JsonList()
    test_date = IsoDate()
    valid_until = IsoDate(allow_none=True)
    conclusion = fields.String()
    marks = JsonList()
    kind = fields.String()
    instrument_id = fields.String(allow_none=True)
    pdf_sha256 = fields.String()
    pdf_stored = fields.Boolean()
    scope = fields.String(metadata={"description": "in_scope, or flagged: outside the institution's valid scope"})
    scope_flags = fields.List(fields.Nested(ScopeFlagOut), attribute="flag_list")
    status = fields.String()
    supersedes = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
    withdrawn_reason = fields.String(allow_none=True)
    withdrawn_at = UtcDateTime(allow_none=True)
    verification_count = fields.Integer()
    acceptance_count = fields.Integer()
    retests_avoided = fields.Integer()
    registered_at = UtcDateTime()


class RegisteredOut(ReportOut):
    verification_code = fields.String(metadata={"description": "Print it on the report: shown once"})
    qr_payload = fields.String(metadata={"description": "The signed QR payload to print"})


class ReportPage(Schema):
    items = fields.List(fields.Nested(ReportOut))
    total = fields.Integer()


class QrOut(Schema):
    number = fields.String()
    payload = fields.String(metadata={"description": "QI1.<number>.<sha256>.<Ed25519 signature, base64url>"})
    svg = fields.String(metadata={"description": "The QR code as SVG"})
    key_id = fields.String()


class PublicKeyOut(Schema):
    algorithm = fields.String()
    key_id = fields.String()
    public_key_pem = fields.String()
    public_key_raw_base64url = fields.String()
    payload_format = fields.String()


# -- public verification ------------------------------------------------------------------------
class VerifyIn(Schema):
    code = fields.String(required=True, validate=CODE)
    contact = fields.String(allow_none=True, validate=validate.Length(min=3, max=100),
                            metadata={"description": "Optional phone or e-mail: told if the report is withdrawn"})


class VerifyQuery(Schema):
    code = fields.String(required=True, validate=CODE)


class QrVerifyIn(Schema):
    payload = fields.String(required=True, validate=validate.Length(min=10, max=400))
    contact = fields.String(allow_none=True, validate=validate.Length(min=3, max=100))


class PdfVerifyIn(Schema):
    pdf_base64 = fields.String(validate=validate.Length(min=4, max=MAX_PDF_BASE64))
    pdf_sha256 = fields.String(validate=SHA256)
    contact = fields.String(allow_none=True, validate=validate.Length(min=3, max=100))

    OPENAPI_EXTRA = {"oneOf": [{"required": ["pdf_base64"]}, {"required": ["pdf_sha256"]}],
                     "description": "Give pdf_base64 (the file) or pdf_sha256 (its hash), not both"}

    @validates_schema
    def _one(self, data, **_):
        if bool(data.get("pdf_base64")) == bool(data.get("pdf_sha256")):
            raise ValidationError("give pdf_base64 or pdf_sha256 / 提供 PDF 或其哈希之一", "pdf_base64")


class VerifyOut(Schema):
    number = fields.String()
    result = fields.String(metadata={"description": " | ".join(VERIFY_RESULTS)})
    method = fields.String(metadata={"description": " | ".join(VERIFY_METHODS)})
    successor_number = fields.String(allow_none=True, metadata={"description": "superseded: the report replacing it"})
    withdrawn_reason = fields.String(allow_none=True)
    withdrawn_at = UtcDateTime(allow_none=True)
    institution_name = fields.String()
    product = fields.String()
    item = fields.String(allow_none=True)
    standards = JsonList()
    test_date = IsoDate()
    valid_until = IsoDate(allow_none=True)
    conclusion = fields.String()
    marks = JsonList()
    pdf_sha256 = fields.String()
    scope = fields.String()
    verification_count = fields.Integer()
    signature_valid = fields.Boolean(allow_none=True)


class AcceptanceIn(Schema):
    code = fields.String(required=True, validate=CODE)
    party = fields.String(required=True, blank=False, validate=validate.Length(min=2, max=200))
    purpose = fields.String(required=True, blank=False, validate=validate.Length(min=2, max=500))
    retest_avoided = fields.Boolean(load_default=True)


class AcceptanceOut(Schema):
    id = fields.String()
    number = fields.String()
    party = fields.String()
    purpose = fields.String()
    retest_avoided = fields.Boolean()
    at = UtcDateTime()
    acceptance_count = fields.Integer()
    retests_avoided = fields.Integer()


class VerificationStatsOut(Schema):
    number = fields.String()
    verification_count = fields.Integer()
    by_method = fields.Dict(keys=fields.String(), values=fields.Integer())
    acceptances = fields.List(fields.Nested(AcceptanceOut))
    acceptance_count = fields.Integer()
    retests_avoided = fields.Integer()
    contacts_to_notify = fields.Integer()
    notified = fields.Integer()
