"""Service guides (办事指南, R-4.1.1): public, versioned, edited only by operators.

An edit never overwrites: it adds version n+1 and moves the `current` mark, so
what a citizen was told on a given day can always be read back.
"""
from __future__ import annotations

import json

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import NotFound

from . import access, catalogue
from .models import GuideVersion


def _public_item(session: Session, code: str, principal: dict | None):
    item = catalogue.get_item(session, code)
    if not item.public and not access.is_staff_reader(principal):
        raise NotFound(f"No catalogue item {code} / 服务事项不存在", code="item_not_found")
    return item


def current(session: Session, item_code: str, principal: dict | None = None) -> GuideVersion:
    _public_item(session, item_code, principal)
    version = session.scalars(select(GuideVersion).where(GuideVersion.item_code == item_code,
                                                         GuideVersion.current)).first()
    if version is None:
        raise NotFound(f"No guide published for {item_code} yet / 该事项尚未发布办事指南", code="guide_not_found")
    return version


def versions(session: Session, item_code: str, principal: dict | None = None) -> list[GuideVersion]:
    _public_item(session, item_code, principal)
    rows = session.scalars(select(GuideVersion).where(GuideVersion.item_code == item_code)
                           .order_by(GuideVersion.version.desc()))
    return list(rows)


def version(session: Session, item_code: str, version: int, principal: dict | None = None) -> GuideVersion:
    _public_item(session, item_code, principal)
    row = session.scalars(select(GuideVersion).where(GuideVersion.item_code == item_code,
                                                     GuideVersion.version == int(version))).first()
    if row is None:
        raise NotFound(f"No version {version} of the guide for {item_code} / 指南版本不存在", code="guide_not_found")
    return row


def publish(session: Session, principal: dict, item_code: str, data: dict) -> GuideVersion:
    catalogue.get_item(session, item_code)
    latest = session.scalar(select(func.max(GuideVersion.version)).where(GuideVersion.item_code == item_code)) or 0
    session.execute(update(GuideVersion).where(GuideVersion.item_code == item_code, GuideVersion.current)
                    .values(current=False))
    row = GuideVersion(
        item_code=item_code, version=latest + 1, current=True, title=data["title"],
        acceptance_conditions=data["acceptance_conditions"],
        materials=json.dumps(data["materials"], ensure_ascii=False),
        process_steps=json.dumps(data["process_steps"], ensure_ascii=False),
        time_limit_working_days=data.get("time_limit_working_days"), time_limit_note=data.get("time_limit_note"),
        fees=data["fees"], channels=json.dumps(data["channels"], ensure_ascii=False),
        change_note=data.get("change_note"), created_by=str(principal["user_id"]), created_at=utcnow())
    session.add(row)
    session.flush()
    audit(session, principal, "guide.published", "guide", item_code, detail={"version": row.version})
    return row
