"""The registry's periodic sweep: overdue reviews, expiring and expired qualifications."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.db import utcnow
from services.common.outbox import record_event

from .institutions import bump
from .journal import SOURCE, local_day, notify, record
from .models import Institution, Qualification

EXPIRY_NOTICE_DAYS = 30


def sweep(session: Session, now: dt.datetime | None = None) -> dict:
    """Mark late reviews overdue, warn of qualifications expiring within 30 days (once each),
    and expire the ones past their end date (their capabilities leave the public profile)."""
    now = now or utcnow()
    today = local_day(now)
    overdue = sla.sweep_overdue(session, now)
    expiring = 0
    soon = today + dt.timedelta(days=EXPIRY_NOTICE_DAYS)
    for qual in session.scalars(select(Qualification).where(Qualification.status == "valid",
                                                            Qualification.valid_to <= soon,
                                                            Qualification.expiring_notified_at.is_(None))):
        inst = session.get(Institution, qual.institution_id)
        qual.expiring_notified_at = now
        if inst.status != "active" or qual.valid_to < today:
            continue
        record_event(session, SOURCE, "qualification.expiring", inst.id, {
            "institution_id": inst.id, "qualification_id": qual.id, "type": qual.type, "number": qual.number,
            "valid_to": qual.valid_to.isoformat(), "days_left": (qual.valid_to - today).days})
        notify(session, inst.applicant_user_id, "qualification.expiring", qual.id,
               "资质证书即将到期 / Qualification expiring", f"{qual.type} {qual.number} → {qual.valid_to}", now)
        expiring += 1
    expired_institutions = set()
    for qual in session.scalars(select(Qualification).where(Qualification.status == "valid",
                                                            Qualification.valid_to < today)):
        qual.status = "expired"
        expired_institutions.add(qual.institution_id)
        record(session, qual.institution_id, None, "qualification_expired", {"qualification_id": qual.id}, now)
    for institution_id in sorted(expired_institutions):
        inst = session.get(Institution, institution_id)
        if inst.status == "active":
            bump(session, inst, "institution.changed", now)
    return {"overdue": len(overdue), "expiring": expiring, "expired_institutions": len(expired_institutions)}
