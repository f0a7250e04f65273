"""Parsed public profiles for search pages (and what matching their capabilities needs),
cached per institution revision and day."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import IndexedInstitution

# Public profile and capabilities of an institution at a revision, parsed once per day (the
# "currently valid" flags depend on the date): a page shows 20 of them on every search, and
# parsing their snapshots was the largest part of a search's own work. Bounded; a revision
# never changes content, so nothing goes stale.
_CARDS: dict[tuple, tuple] = {}
_MAX_CARDS = 5000


def cards(session: Session, ids: list[str], revisions: dict[str, int], today: dt.date,
          make_card) -> dict[str, tuple]:
    """{id: make_card(parsed snapshot, today)} of the given institutions at the given revisions."""
    missing = [i for i in ids if (i, revisions[i], today) not in _CARDS]
    if missing:
        if len(_CARDS) + len(missing) > _MAX_CARDS:
            _CARDS.clear()
        for institution_id, snapshot in session.execute(select(IndexedInstitution.id, IndexedInstitution.snapshot)
                                                        .where(IndexedInstitution.id.in_(missing))):
            parsed = json.loads(snapshot or "{}")
            _CARDS[(institution_id, revisions[institution_id], today)] = make_card(parsed, today)
    return {i: _CARDS.get((i, revisions[i], today)) for i in ids}
