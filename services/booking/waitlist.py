"""Waitlist: a user waits for a taken time; when it frees, the first in line (FIFO) whose time is now
free gets an offer held for 2 hours (other users see the time as held), then the next.
Accepting turns the offer into a booking through the same rules as any request.

An offer tells the user (an in-app notification, and `waitlist.offered` with ids and times only);
an offer that lapses tells its user so (`waitlist.offer_lapsed`, naming the entry offered next)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import Conflict, NotFound

from . import bookings, instruments, notices
from . import rules as engine
from .common import event, iso, now_or, policy, refuse, require_caller, utc
from .models import Instrument, WaitlistEntry

OFFER_HOURS_KEY = "waitlist_offer_hours"


def _offer_hours() -> int:
    return int(policy().get(OFFER_HOURS_KEY, 2))


def join(session: Session, principal: dict, data: dict, now: dt.datetime | None = None) -> WaitlistEntry:
    principal = require_caller(principal)
    now = now_or(now)
    inst = instruments.get_row(session, data["instrument_id"])
    bookings._price_group_check(session, principal, inst, data["price_group"])
    start, end = utc(data["starts_at"]), utc(data["ends_at"])
    found = bookings.judge(session, principal, inst, start, end, data["mode"], now)
    others = [v for v in found if v.rule not in engine.OCCUPANCY_RULES]
    if others:
        refuse(others)
    if not found:
        raise Conflict("The time is free: book it directly / 该时段空闲，请直接预约", code="slot_is_free")
    entry = WaitlistEntry(instrument_id=inst.id, user_id=str(principal["user_id"]), starts_at=start, ends_at=end,
                          mode=data["mode"], price_group=data["price_group"], status="waiting", created_at=now)
    session.add(entry)
    session.flush()
    return entry


def mine(session: Session, principal: dict) -> list:
    principal = require_caller(principal)
    return session.scalars(select(WaitlistEntry).where(WaitlistEntry.user_id == str(principal["user_id"]))
                           .order_by(WaitlistEntry.created_at.desc()).limit(100)).all()


def _entry(session: Session, principal: dict, entry_id: str) -> WaitlistEntry:
    entry = session.scalars(select(WaitlistEntry).where(WaitlistEntry.id == entry_id).with_for_update()).first()
    if entry is None or entry.user_id != str(principal["user_id"]):
        raise NotFound("No such waitlist entry / 候补记录不存在", code="waitlist_not_found")
    return entry


def accept(session: Session, principal: dict, entry_id: str, now: dt.datetime | None = None) -> dict:
    principal = require_caller(principal)
    now = now_or(now)
    entry = _entry(session, principal, entry_id)
    if entry.status != "offered" or entry.offer_expires_at <= now:
        raise Conflict("No open offer on this entry / 该候补没有有效的预约机会", code="no_offer")
    inst = instruments.get_row(session, entry.instrument_id)
    found = bookings.judge(session, principal, inst, entry.starts_at, entry.ends_at, entry.mode, now)
    if found:
        refuse(found)
    b = bookings.create(session, principal, inst, entry.starts_at, entry.ends_at,
                        {"mode": entry.mode, "price_group": entry.price_group, "purpose": "候补转预约 / from waitlist"},
                        now)
    entry.status, entry.booking_id = "accepted", b.id
    return bookings.view(session, b, principal)


def leave(session: Session, principal: dict, entry_id: str, now: dt.datetime | None = None) -> WaitlistEntry:
    principal = require_caller(principal)
    now = now_or(now)
    entry = _entry(session, principal, entry_id)
    if entry.status not in ("waiting", "offered"):
        raise Conflict("The entry is closed / 候补已结束", code="waitlist_closed")
    was_offered = entry.status == "offered"
    entry.status = "cancelled"
    session.flush()
    if was_offered:
        offer_next(session, entry.instrument_id, entry.starts_at, entry.ends_at, now)
    return entry


def offer_next(session: Session, instrument_id: str, start: dt.datetime, end: dt.datetime,
               now: dt.datetime) -> WaitlistEntry | None:
    """Offer the freed time to the first waiting user whose wanted time is now bookable for them."""
    inst = session.get(Instrument, instrument_id)
    if inst is None:
        return None
    session.flush()
    for entry in session.scalars(select(WaitlistEntry).where(
            WaitlistEntry.instrument_id == instrument_id, WaitlistEntry.status == "waiting",
            WaitlistEntry.starts_at < end, WaitlistEntry.ends_at > start).order_by(WaitlistEntry.created_at)):
        if entry.starts_at <= now:
            entry.status = "lapsed"
            continue
        if bookings.judge(session, {"user_id": entry.user_id, "role": "enterprise"}, inst, entry.starts_at,
                          entry.ends_at, entry.mode, now):
            continue
        entry.status, entry.offered_at = "offered", now
        entry.offer_expires_at = min(now + dt.timedelta(hours=_offer_hours()), entry.starts_at)
        session.flush()
        _tell_offered(session, inst, entry, now)
        return entry
    return None


def _when(entry: WaitlistEntry) -> str:
    return (f"{engine.local(entry.starts_at).strftime('%Y-%m-%d %H:%M')}–"
            f"{engine.local(entry.ends_at).strftime('%H:%M')}")


def _event_data(entry: WaitlistEntry) -> dict:
    return {"entry_id": entry.id, "instrument_id": entry.instrument_id, "starts_at": iso(entry.starts_at),
            "ends_at": iso(entry.ends_at), "offer_expires_at": iso(entry.offer_expires_at)}


def _tell_offered(session: Session, inst: Instrument, entry: WaitlistEntry, now: dt.datetime) -> None:
    until = engine.local(entry.offer_expires_at).strftime("%H:%M")
    notices.notify(session, entry.user_id, "waitlist.offered", entry.id,
                   "候补时段已空出，请在时限内确认 / A waited-for time is free: accept it in time",
                   f"{inst.name} · {_when(entry)} · 请于 {until} 前接受 / accept by {until}", now)
    event(session, "waitlist.offered", entry.id, _event_data(entry))


def _tell_lapsed(session: Session, entry: WaitlistEntry, following: WaitlistEntry | None, now: dt.datetime) -> None:
    inst = session.get(Instrument, entry.instrument_id)
    notices.notify(session, entry.user_id, "waitlist.lapsed", entry.id,
                   "候补机会已过期，已顺延给下一位 / Your waitlist offer expired and passed to the next in line",
                   f"{inst.name if inst else ''} · {_when(entry)}", now)
    event(session, "waitlist.offer_lapsed", entry.id,
          {**_event_data(entry), "next_entry_id": following.id if following else None})


def lapse_offers(session: Session, now: dt.datetime | None = None) -> int:
    now = now_or(now)
    count = 0
    for entry in session.scalars(select(WaitlistEntry).where(WaitlistEntry.status == "offered",
                                                             WaitlistEntry.offer_expires_at <= now)
                                 .with_for_update()).all():
        entry.status = "lapsed"
        session.flush()
        following = offer_next(session, entry.instrument_id, entry.starts_at, entry.ends_at, now)
        _tell_lapsed(session, entry, following, now)
        count += 1
    return count


def held_by_offers(session: Session, instrument_id: str, user_id: str | None, now: dt.datetime,
                   buffer_minutes: int = 0) -> list:
    """Open offers of other users: the engine shows their time (plus the buffer) as held."""
    rows = session.scalars(select(WaitlistEntry).where(WaitlistEntry.instrument_id == instrument_id,
                                                       WaitlistEntry.status == "offered",
                                                       WaitlistEntry.offer_expires_at > now))
    pad = dt.timedelta(minutes=buffer_minutes)
    return [engine.Interval(r.starts_at, r.ends_at + pad, "held", ref=r.id) for r in rows if r.user_id != user_id]

