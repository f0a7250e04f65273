"""Ratings from feedback: `institution.rated` puts an institution's satisfaction and on-time
rate on its index row, where the search score and the proposals read them.

Until the first such event an institution ranks with a neutral 0.5 for both
(scoring.NEUTRAL). The event (source "feedback") carries, per institution and
period: satisfaction (0..1), on_time_rate (0..1, or null when no clock finished),
evaluations (how many), period ("2026-Q3") and computed_at. Matching keeps the
rating out of 5 (satisfaction x 5, as the API always showed it).

`apply_rating_event` is the whole consumer: it claims the event id (a redelivery
changes nothing) and compares computed_at (an older computation arriving late, or
the same one again under a new id, changes nothing either), in the caller's
transaction. A rating for an institution the index has not seen yet is kept on a
`pending` row that the institution's first profile event turns active.
"""
from __future__ import annotations

import datetime as dt
import logging

from marshmallow import EXCLUDE, ValidationError
from sqlalchemy.orm import Session

from services.common import fields, validate
from services.common.consumer import claim_event
from services.common.db import utcnow
from services.common.schemas import Schema

from . import index
from .contract.vocabulary import INDEX_PENDING
from .models import IndexedInstitution

log = logging.getLogger(__name__)

CONSUMER = "matching.ratings"
SOURCE, RATED = "feedback", "institution.rated"


class InstitutionRated(Schema):
    """The payload as matching reads it (feedback's contract declares the event; added fields are ignored)."""

    class Meta:
        unknown = EXCLUDE

    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    satisfaction = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    on_time_rate = fields.Float(required=True, allow_none=True, validate=validate.Range(min=0, max=1))
    evaluations = fields.Integer(required=True, validate=validate.Range(min=0))
    period = fields.String(required=True, validate=validate.Length(min=1, max=20))
    computed_at = fields.String(required=True, validate=validate.Length(min=10, max=40))


def _instant(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def read(envelope: dict) -> dict:
    """The event's payload, checked; a malformed one raises ValueError (the handler parks it)."""
    try:
        data = InstitutionRated().load(envelope.get("data") or {})
        data["computed_at"] = _instant(data["computed_at"])
    except (ValidationError, ValueError) as exc:
        raise ValueError(f"{RATED}: payload unreadable: {exc}") from None
    return data


def apply_rating_event(session: Session, envelope: dict) -> str:
    """Apply one rating event; returns what happened: applied | duplicate | stale | ignored."""
    if envelope.get("type") != RATED:
        return "ignored"
    data = read(envelope)
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    institution_id = str(data["institution_id"])
    row = session.get(IndexedInstitution, institution_id, with_for_update=True)
    if row is None:
        row = IndexedInstitution(id=institution_id, revision=0, status=INDEX_PENDING, name="", kind="other",
                                 snapshot="{}", updated_at=utcnow())
        session.add(row)
        session.flush()
    elif row.rated_at is not None and data["computed_at"] <= row.rated_at:
        log.info("ratings: %s for %s computed %s is not newer than %s, skipped", data["period"], institution_id,
                 data["computed_at"], row.rated_at)
        return "stale"
    rating = round(data["satisfaction"] * 5, 4)
    index.set_reputation(session, institution_id, rating, data["on_time_rate"])
    row.rating_period = data["period"]
    row.rating_evaluations = data["evaluations"]
    row.rated_at = data["computed_at"]
    return "applied"
