"""Deregistration (R-6.1.4): by the institution after its closure, or forced by an operator.

A self-deregistration names the closure date (more than a month before telling
the platform is "late"); a forced one may name the revoked qualification. The
institution leaves public view at once; its history stays under its USCC.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import ValidationFailed
from services.common.outbox import record_event

from . import access
from .institutions import active_own_institution, institution_view
from .journal import SOURCE, is_late, iso, local_day, record
from .models import Qualification


def deregister(session: Session, principal: dict, institution_id: str, data: dict,
               at: dt.datetime | None = None) -> dict:
    inst = active_own_institution(session, principal, institution_id)
    at = at or utcnow()
    forced = principal["role"] in access.OPERATORS
    late = False
    if forced:
        qual_id = data.get("qualification_id")
        if qual_id:
            qual = session.get(Qualification, qual_id)
            if qual is None or qual.institution_id != inst.id:
                raise ValidationFailed("Unknown qualification / 资质不存在",
                                       errors={"qualification_id": ["not a qualification of this institution"]})
            qual.status, qual.revoked_reason = "revoked", data["reason"]
    else:
        if not data.get("closed_on"):
            raise ValidationFailed("Give the closure date / 请填写关闭日期",
                                   errors={"closed_on": ["required for self-deregistration"]})
        late = is_late(dt.date.fromisoformat(data["closed_on"]), local_day(at))
    inst.status = "deregistered"
    inst.deregistered_at = at
    inst.deregistration_reason = data["reason"]
    inst.deregistration_forced = forced
    inst.deregistration_late = late
    inst.revision += 1
    inst.updated_at = at
    record(session, inst.id, principal, "deregistered",
            {"forced": forced, "late": late, "reason": data["reason"], "closed_on": data.get("closed_on")}, at)
    record_event(session, SOURCE, "institution.deregistered", inst.id, {
        "institution_id": inst.id, "revision": inst.revision, "reason": data["reason"], "forced": forced,
        "deregistered_at": iso(at)})
    audit(session, principal, "institution.deregistered", "institution", inst.id, detail={"forced": forced})
    return institution_view(session, inst, principal)
