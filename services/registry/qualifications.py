"""Qualifications and capabilities an active institution adds to its profile (R-6.1).

A capability may point at one of the institution's qualifications; it cannot
be published on an expired or revoked one. Each addition is a new revision of
the public profile (institution.changed, capability.published).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import ValidationFailed
from services.common.money import to_money

from . import files
from .institutions import active_own_institution, bump, capability_view
from .journal import local_day, record, set_error
from .models import CatalogItem, Capability, Qualification, new_id


def check_item(session: Session, cap: dict, path: tuple, errors: dict) -> None:
    item = session.get(CatalogItem, cap["item_code"])
    if item is None:
        set_error(errors, path + ("item_code",), "服务事项不存在 / unknown catalogue item")
    elif item.category_code != cap["category"]:
        set_error(errors, path + ("category",), f"事项属于 {item.category_code} / item belongs to {item.category_code}")


def add_qualification(session: Session, principal: dict, institution_id: str, data: dict,
                      at: dt.datetime | None = None) -> Qualification:
    inst = active_own_institution(session, principal, institution_id)
    at = at or utcnow()
    if dt.date.fromisoformat(data["valid_to"]) < local_day(at):
        raise ValidationFailed("Qualification expired / 资质证书已过期",
                               errors={"valid_to": [f"expired on {data['valid_to']} / 已过期"]})
    prepared = files.check(data["certificate"], session)
    if isinstance(prepared, str):
        raise ValidationFailed("Invalid attachment / 附件无效", errors={"certificate": [prepared]})
    ref = files.store(session, prepared)
    row = Qualification(id=new_id(), institution_id=inst.id, type=data["type"], number=data["number"],
                        issuer=data["issuer"], valid_from=dt.date.fromisoformat(data["valid_from"]),
                        valid_to=dt.date.fromisoformat(data["valid_to"]), scope=data["scope"], status="valid",
                        certificate_sha256=ref["file_id"])
    session.add(row)
    session.flush()
    record(session, inst.id, principal, "qualification_added", {"qualification_id": row.id}, at)
    bump(session, inst, "institution.changed", at)
    return row


def add_capability(session: Session, principal: dict, institution_id: str, data: dict,
                   at: dt.datetime | None = None) -> dict:
    inst = active_own_institution(session, principal, institution_id)
    errors: dict = {}
    check_item(session, data, (), errors)
    qual_id = data.get("qualification_id")
    if qual_id:
        qual = session.get(Qualification, qual_id)
        if qual is None or qual.institution_id != inst.id:
            set_error(errors, ("qualification_id",), "不是本机构的资质 / not a qualification of this institution")
        elif qual.status != "valid" or qual.valid_to < local_day(at):
            set_error(errors, ("qualification_id",),
                       f"资质已{('过期' if qual.status != 'revoked' else '撤销')}，不能开展该服务 / qualification is "
                       f"{'revoked' if qual.status == 'revoked' else 'expired'}: this capability cannot be offered")
    if errors:
        raise ValidationFailed("The capability cannot be published / 服务能力无法发布", errors=errors)
    cap = Capability(id=new_id(), institution_id=inst.id, category=data["category"], item_code=data["item_code"],
                     product=data["product"], parameter=data["parameter"], method_standard=data["method_standard"],
                     price_yuan=to_money(data["price_yuan"]), cycle_working_days=data["cycle_working_days"],
                     qualification_id=qual_id or None, created_at=at or utcnow())
    session.add(cap)
    session.flush()
    record(session, inst.id, principal, "capability_published", {"capability_id": cap.id}, at)
    bump(session, inst, "capability.published", at)
    names = dict(session.execute(select(CatalogItem.code, CatalogItem.name_zh)).all())
    return capability_view(cap, names)
