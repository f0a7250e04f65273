"""Every institution's public profile, page by page: what matching's index rebuild
(`python -m services.matching.index rebuild`) reads instead of the registry's tables.

A page is exactly the `data` of the profile events (institution_id, revision,
snapshot, as institutions.profile_event_data builds it) for institutions after a
given id, deregistered ones included (their snapshot says so), so a rebuilt index
equals one fed by every event since the start. Loaded per page, not per
institution: qualifications and capabilities of the whole page in one query each.
Public data only, the same the events carry; an RPC of the service, not an HTTP
operation.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .institutions import capability_view, qualification_view
from .models import CatalogItem, Capability, Institution, Qualification

MAX_PAGE = 1000


def profiles_page(session: Session, after: str | None = None, limit: int = 500) -> dict:
    """{"items": [profile event data...], "next_after": id to pass for the next page, or None}."""
    limit = max(1, min(int(limit), MAX_PAGE))
    query = select(Institution).order_by(Institution.id).limit(limit + 1)
    if after:
        query = query.where(Institution.id > str(after))
    rows = session.scalars(query).all()
    page = rows[:limit]
    ids = [inst.id for inst in page]
    quals: dict[str, list[Qualification]] = {}
    for q in session.scalars(select(Qualification).where(Qualification.institution_id.in_(ids))
                             .order_by(Qualification.valid_from, Qualification.id)):
        quals.setdefault(q.institution_id, []).append(q)
    caps: dict[str, list[Capability]] = {}
    for c in session.scalars(select(Capability).where(Capability.institution_id.in_(ids))
                             .order_by(Capability.created_at, Capability.id)):
        caps.setdefault(c.institution_id, []).append(c)
    names = dict(session.execute(select(CatalogItem.code, CatalogItem.name_zh)).all())
    items = []
    for inst in page:
        own = quals.get(inst.id, [])
        valid = {q.id for q in own if q.status == "valid"}
        # institutions.offered_capabilities: none backed by an expired or revoked qualification
        offered = [c for c in caps.get(inst.id, []) if c.qualification_id is None or c.qualification_id in valid]
        snapshot = {
            "institution_id": inst.id, "name": inst.name, "kind": inst.kind, "uscc": inst.uscc,
            "region": inst.region, "park": inst.park, "address": inst.address,
            "categories": sorted({c.category for c in offered}),
            "qualifications": [qualification_view(q) for q in own],
            "capabilities": [capability_view(c, names) for c in offered],
            "status": "active" if inst.status == "active" else inst.status,
        }
        items.append({"institution_id": inst.id, "revision": inst.revision, "snapshot": snapshot})
    return {"items": items, "next_after": page[-1].id if len(rows) > limit else None}
