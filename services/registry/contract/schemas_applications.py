"""Onboarding applications (R-6.1.1/6.1.2) and the review decision shared with changes."""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_common import AttachmentIn, _Strict
from .schemas_institutions import CapabilityIn, InstitutionIn, QualificationIn
from .vocabulary import REVIEW_DECISIONS


class ApplicationAttachments(_Strict):
    application_form = fields.Nested(AttachmentIn, required=True, metadata={"description": "a) 技术机构申请书"})
    business_licence = fields.Nested(AttachmentIn, required=True, metadata={"description": "b) 营业执照"})
    integrity_pledge = fields.Nested(AttachmentIn, required=True, metadata={"description": "d) 诚信承诺书"})


class ApplicationIn(_Strict):
    institution = fields.Nested(InstitutionIn, required=True)
    attachments = fields.Nested(ApplicationAttachments, required=True)
    qualifications = fields.List(fields.Nested(QualificationIn), required=True, validate=validate.Length(min=1),
                                 metadata={"description": "c) 资质证书 (type, number, issuer, validity, scope, scan)"})
    capabilities = fields.List(fields.Nested(CapabilityIn), required=True, validate=validate.Length(min=1),
                               metadata={"description": "e) 服务能力范围"})


class ReviewIn(_Strict):
    decision = fields.String(required=True, validate=validate.OneOf(REVIEW_DECISIONS))
    reasons = fields.List(fields.MultilineString(validate=validate.Length(min=1, max=500)), load_default=list)

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"decision": {"const": "approve"}}},
                               {"required": ["reasons"], "properties": {"reasons": {"minItems": 1}}}],
                     "description": "reasons (at least one) are required to reject or return"}

    @validates_schema
    def _reasons(self, data, **kwargs):
        if data["decision"] in ("reject", "return") and not data.get("reasons"):
            raise ValidationError("驳回或退回须说明理由 / reasons are required to reject or return", "reasons")


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
