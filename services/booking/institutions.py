"""The local copy of approved institutions, kept from the registry's public events only.

institution.approved / institution.changed carry the profile snapshot: the copy is
upserted (a stale revision is ignored). institution.deregistered withdraws every
instrument of the institution at once (instrument.withdrawn, reason "deregistered")
and cancels its open bookings without charge.
"""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.consumer import claim_event
from services.common.db import utcnow

from .models import KnownInstitution

ACTIVE = "active"
CONSUMER = "booking.institutions"


def apply_registry_event(session: Session, envelope: dict) -> str:
    kind = envelope.get("type")
    if kind not in ("institution.approved", "institution.changed", "institution.deregistered"):
        return "ignored"
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    data = envelope.get("data") or {}
    institution_id = str(data.get("institution_id") or envelope.get("subject"))
    revision = int(data.get("revision") or 0)
    row = session.get(KnownInstitution, institution_id, with_for_update=True)
    if row is not None and row.revision and revision <= row.revision:
        return "stale"
    if kind in ("institution.approved", "institution.changed"):
        snap = data.get("snapshot") or {}
        if row is None:
            row = KnownInstitution(id=institution_id, name=snap.get("name") or institution_id, status=ACTIVE)
            session.add(row)
        row.name = snap.get("name") or row.name
        row.kind, row.park, row.region = snap.get("kind"), snap.get("park"), snap.get("region")
        row.status = snap.get("status") or ACTIVE
        row.capabilities = json.dumps([{"capability_id": c.get("capability_id"),
                                        "method_standard": c.get("method_standard")}
                                       for c in snap.get("capabilities") or []], ensure_ascii=False)
        row.revision = max(revision, row.revision or 0)
        row.updated_at = utcnow()
        session.flush()
        if row.status != ACTIVE:
            _withdraw_all(session, institution_id, "deregistered")
        return "upserted"
    if kind == "institution.deregistered":
        if row is None:
            row = KnownInstitution(id=institution_id, name=institution_id, status="deregistered")
            session.add(row)
        row.status = "deregistered"
        row.revision = max(revision, row.revision or 0)
        row.updated_at = utcnow()
        session.flush()
        return f"deregistered:{_withdraw_all(session, institution_id, 'deregistered')}"
    return "ignored"


def _withdraw_all(session: Session, institution_id: str, reason: str) -> int:
    from . import instruments
    from .models import Instrument
    count = 0
    for inst in session.scalars(select(Instrument).where(Instrument.institution_id == institution_id,
                                                         Instrument.status == "published")).all():
        instruments.withdraw_row(session, inst, reason, "机构已注销 / institution deregistered")
        count += 1
    return count


def is_active(session: Session, institution_id: str) -> bool:
    row = session.get(KnownInstitution, institution_id)
    return row is not None and row.status == ACTIVE


def names_of(session: Session, institution_ids) -> dict[str, str]:
    """{id: name} of these local copies, in one query."""
    ids = [str(i) for i in institution_ids if i]
    if not ids:
        return {}
    return dict(session.execute(select(KnownInstitution.id, KnownInstitution.name)
                                .where(KnownInstitution.id.in_(ids))).all())


def name_of(session: Session, institution_id: str) -> str | None:
    row = session.get(KnownInstitution, institution_id)
    return row.name if row else None


def upsert_known(session: Session, institution_id: str, name: str, park: str | None = None,
                 kind: str | None = None) -> KnownInstitution:
    """Demo bootstrap only: the same ids and names the registry demo publishes (its events refresh them)."""
    row = session.get(KnownInstitution, institution_id)
    if row is None:
        row = KnownInstitution(id=institution_id, name=name, park=park, kind=kind, status=ACTIVE, revision=0,
                               capabilities="[]", updated_at=utcnow())
        session.add(row)
        session.flush()
    return row
