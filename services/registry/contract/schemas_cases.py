"""Point-to-point cases of enterprise windows (R-4.2.3)."""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_common import UtcInstant, _Strict, _text
from .vocabulary import CASE_LOG_KINDS, CASE_ROLES


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


class CaseMemberOut(Schema):
    user_id = fields.String()
    role = fields.String(metadata={"description": "Role in the case team: " + ", ".join(CASE_ROLES)})
    added_at = UtcInstant()


class CaseLogEntryOut(Schema):
    entry_id = fields.Integer(attribute="id")
    kind = fields.String(metadata={"description": ", ".join(CASE_LOG_KINDS)})
    summary = fields.String()
    detail = fields.String(allow_none=True)
    author_id = fields.String()
    author_role = fields.String()
    at = UtcInstant()


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
