"""Private, revocable iCalendar feeds (RFC 5545, the `icalendar` library): a user's bookings, or an
instrument's (its institution's staff). The token in the URL is the secret; revoking it ends the feed.
Nothing appears before approval; a cancelled booking stays in the feed as STATUS:CANCELLED; SEQUENCE
is the booking's change counter, so calendar clients replace the old version."""
from __future__ import annotations

import secrets

from icalendar import Calendar, Event
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.common.errors import Forbidden, NotFound

from . import instruments
from . import rules as engine
from .common import is_institution_staff, is_operator, now_or, require_caller
from .models import Booking, CalendarFeed, Instrument

SHOWN = ("confirmed", "checked_in", "completed", "settled", "cancelled", "no_show")
ICS_STATUS = {"cancelled": "CANCELLED"}


def create(session: Session, principal: dict, data: dict) -> dict:
    principal = require_caller(principal)
    instrument_id = data.get("instrument_id")
    if data["kind"] == "instrument":
        if not instrument_id:
            from services.common.errors import ValidationFailed
            raise ValidationFailed("Name the instrument / 请指定仪器", errors={"instrument_id": ["required / 必填"]})
        inst = instruments.get_row(session, instrument_id)
        if not (is_operator(principal) or is_institution_staff(principal, inst.institution_id)):
            raise Forbidden("Only the institution's staff subscribe to an instrument / 仅所属机构人员可订阅仪器日历",
                            code="not_instrument_owner")
    feed = CalendarFeed(token=secrets.token_urlsafe(32), kind=data["kind"], user_id=str(principal["user_id"]),
                        instrument_id=instrument_id if data["kind"] == "instrument" else None, created_at=now_or(None))
    session.add(feed)
    session.flush()
    return _view(feed)


def _view(feed: CalendarFeed) -> dict:
    return {"token": feed.token, "kind": feed.kind, "instrument_id": feed.instrument_id,
            "url": f"/api/v1/calendar-feeds/{feed.token}", "revoked": feed.revoked_at is not None,
            "created_at": feed.created_at}


def revoke(session: Session, principal: dict, token: str) -> dict:
    principal = require_caller(principal)
    feed = session.get(CalendarFeed, token)
    if feed is None or (feed.user_id != str(principal["user_id"]) and not is_operator(principal)):
        raise NotFound("No such feed / 日历订阅不存在", code="feed_not_found")
    feed.revoked_at = feed.revoked_at or now_or(None)
    return _view(feed)


def render(session: Session, token: str) -> str:
    feed = session.get(CalendarFeed, token)
    if feed is None or feed.revoked_at is not None:
        raise NotFound("No such feed / 日历订阅不存在或已撤销", code="feed_not_found")
    # A request cancelled before anyone approved it was never in the feed: it stays out (decided_at
    # is set only when a booking is confirmed; a rejected one is not SHOWN at all).
    query = select(Booking).where(Booking.status.in_(SHOWN),
                                  or_(Booking.status != "cancelled", Booking.decided_at.is_not(None)))
    if feed.kind == "instrument":
        query = query.where(Booking.instrument_id == feed.instrument_id)
    else:
        query = query.where(Booking.user_id == feed.user_id)
    cal = Calendar()
    cal.add("prodid", "-//QI One-Stop//booking//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "仪器预约 / Instrument bookings")
    for b in session.scalars(query.order_by(Booking.starts_at).limit(1000)):
        inst = session.get(Instrument, b.instrument_id)
        ev = Event()
        ev.add("uid", f"booking-{b.id}@qi-one-stop")
        ev.add("dtstamp", b.updated_at.replace(tzinfo=engine.dt.timezone.utc))
        ev.add("dtstart", b.starts_at.replace(tzinfo=engine.dt.timezone.utc))
        ev.add("dtend", b.ends_at.replace(tzinfo=engine.dt.timezone.utc))
        ev.add("summary", f"{inst.name if inst else b.instrument_id}（{b.mode}）")
        ev.add("location", inst.location if inst else "")
        ev.add("sequence", b.sequence)
        ev.add("status", ICS_STATUS.get(b.status, "CONFIRMED"))
        cal.add_component(ev)
    return cal.to_ical().decode("utf-8")
