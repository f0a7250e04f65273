"""Schemas of the business-licence review and the external verification (verification levels)."""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_fields import Base64Bytes, Strict, timestamp
from .vocabulary import LICENCE_DECISIONS, LICENCE_STATUSES


class LicenceUpload(Strict):
    filename = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=200),
                             metadata={"description": "File name (informative; the type is read from the bytes)"})
    content_base64 = fields.String(required=True, validate=validate.Length(min=1, max=14_000_000), metadata={
        "description": "The business licence scan, base64: PDF, JPEG or PNG, at most 10 MiB"})


class LicenceDecision(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(LICENCE_DECISIONS),
                             metadata={"description": "approve, or return to the enterprise for correction"})
    reason = fields.MultilineString(load_default=None, allow_none=True, blank=False,
                                    validate=validate.Length(min=1, max=1000),
                                    metadata={"description": "Why the licence is returned (required to return); "
                                                             "shown to the enterprise"})

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"decision": {"const": "approve"}}},
                               {"required": ["reason"], "properties": {"reason": {"type": "string"}}}],
                     "description": "reason is required to return"}

    @validates_schema
    def _reason(self, data, **kwargs):
        if data.get("decision") == "return" and not (data.get("reason") or "").strip():
            raise ValidationError("退回须说明原因 / required when returning", "reason")


class LicenceQueueQuery(Strict):
    status = fields.String(load_default="submitted", validate=validate.OneOf(LICENCE_STATUSES),
                           metadata={"description": "Reviews in this state (default: awaiting review)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class LicenceFileRef(Schema):
    file_id = fields.String(metadata={"description": "SHA-256 of the file"})
    filename = fields.String()
    media_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)


class LicenceReviewOut(Schema):
    """services.identity.licence.Case: the review, its account, its file and its SLA clock."""

    user_id = fields.String()
    nickname = fields.String()
    org_name = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(LICENCE_STATUSES)})
    round = fields.Integer(metadata={"description": "1 for the first upload, +1 per resubmission"})
    file = fields.Nested(LicenceFileRef)
    submitted_at = timestamp("Latest upload")
    decided_at = timestamp("Latest decision")
    return_reason = fields.String(allow_none=True)
    verification_level = fields.String(allow_none=True)
    review_clock = fields.Dict(allow_none=True, metadata={"description": "SLA clock identity.licence_review "
                                                                         "(working days)"})
    history = fields.List(fields.Dict())


class LicenceQueueOut(Schema):
    items = fields.List(fields.Nested(LicenceReviewOut))


class LicenceFileOut(LicenceFileRef):
    content_base64 = Base64Bytes()


class ExternalVerificationOut(Schema):
    verified = fields.Boolean()
    verifier = fields.String()
    reason = fields.String(allow_none=True)
    verified_at = timestamp("When the verifier confirmed")
    verification_level = fields.String(allow_none=True)
