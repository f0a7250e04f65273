"""Changes of name, address or legal representative (R-6.1.3)."""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema, SlaClockOut

from .schemas_common import AttachmentIn, AttachmentRef, IsoDate, _Strict


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
