"""Recurring bookings: a weekly series. The preview lists every occurrence with its conflicts and
their causes (another booking, a blackout, a holiday... the rule engine's ids); booking the series
creates each free occurrence as its own booking (own state, cancelled alone), skipping the others."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from services.common.db import new_id

from . import bookings, instruments
from .common import now_or, refuse, require_caller, utc


def _occurrences(data: dict) -> list[tuple[dt.datetime, dt.datetime]]:
    start, end = utc(data["starts_at"]), utc(data["ends_at"])
    week = dt.timedelta(days=7)     # Asia/Shanghai keeps no daylight saving: the same local time each week
    return [(start + k * week, end + k * week) for k in range(data["weeks"])]


def _judged(session: Session, principal: dict, data: dict, now: dt.datetime):
    inst = instruments.get_row(session, data["instrument_id"])
    bookings._price_group_check(session, principal, inst, data["price_group"])
    out = []
    for n, (start, end) in enumerate(_occurrences(data)):
        found = bookings.judge(session, principal, inst, start, end, data["mode"], now)
        out.append({"index": n, "starts_at": start, "ends_at": end, "bookable": not found,
                    "rules": [v.view() for v in found]})
    return inst, out


def preview(session: Session, principal: dict, data: dict, now: dt.datetime | None = None) -> dict:
    principal = require_caller(principal)
    _, occurrences = _judged(session, principal, data, now_or(now))
    return {"occurrences": occurrences, "bookable": sum(o["bookable"] for o in occurrences)}


def book(session: Session, principal: dict, data: dict, now: dt.datetime | None = None) -> dict:
    """Book every bookable occurrence (the conflicts are skipped, as the preview showed)."""
    principal = require_caller(principal)
    now = now_or(now)
    inst, occurrences = _judged(session, principal, data, now)
    free = [o for o in occurrences if o["bookable"]]
    if not free:
        refuse([_as_violation(r)
                for o in occurrences for r in o["rules"]][:20])
    series_id = new_id()
    for o in free:
        b = bookings.create(session, principal, inst, o["starts_at"], o["ends_at"], data, now, series_id=series_id)
        o["booking_id"] = b.id
    return {"series_id": series_id, "occurrences": occurrences, "bookable": len(free)}


def _as_violation(view: dict):
    from .rules import Violation
    return Violation(view["rule"], view["message_zh"], view["message_en"])
