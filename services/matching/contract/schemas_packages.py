"""Packaged same-kind demands for one institution window (R-4.2.2.1)."""
from __future__ import annotations

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_base import Instant, text, yuan


class PackageCreate(Schema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    industry = text(100, allow_none=True)
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    window_id = text(64, allow_none=True)
    package_price_yuan = yuan(required=True)
    demand_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                             validate=validate.Length(min=2, max=200))


class PackageGroupOut(Schema):
    industry = fields.String(allow_none=True)
    category = fields.String()
    item_code = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    demand_ids = fields.List(fields.String())
    enterprise_count = fields.Integer()


class PackageGroupsOut(Schema):
    items = fields.List(fields.Nested(PackageGroupOut))


class PackageMemberOut(Schema):
    demand_id = fields.String()
    enterprise_user_id = fields.String()
    share_yuan = yuan()


class PackageOut(Schema):
    id = fields.String()
    title = fields.String()
    industry = fields.String(allow_none=True)
    category = fields.String()
    item_code = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    institution_id = fields.String()
    window_id = fields.String(allow_none=True)
    created_at = Instant()
    package_price_yuan = yuan(allow_none=True, metadata={"description": "Null for an enterprise"})
    members = fields.List(fields.Nested(PackageMemberOut),
                          metadata={"description": "An enterprise sees only its own demands"})
