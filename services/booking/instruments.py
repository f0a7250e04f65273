"""Instruments: published by an approved institution, with operating rules, prices and blackouts;
public list and search; availability through the rule engine."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.common import workdays
from services.common.errors import Conflict, ValidationFailed
from services.common.money import money_str, to_money

from . import institutions
from . import rules as engine
from .common import event, is_operator, not_found, now_or, require_caller, require_institution_staff, utc
from .contract.vocabulary import HOLDING, OCCUPYING
from .models import Blackout, Booking, Instrument, InstrumentPrice, Suspension

RULE_FIELDS = ("notice_working_days", "horizon_working_days", "slot_minutes", "min_minutes", "max_minutes",
               "buffer_minutes", "weekly_limit_minutes", "approval_required", "qualification_required",
               "operator_assisted", "calibration_due", "minimum_charge", "cancel_deadline_hours", "no_show_minutes",
               "qualification_code", "qualification_expiry", "qualification_months", "qualification_idle_days")

QUALIFICATION_DEFAULTS = {"qualification_code": None, "qualification_expiry": "fixed_months",
                          "qualification_months": 12, "qualification_idle_days": 180}


def get_row(session: Session, instrument_id: str, for_update: bool = False) -> Instrument:
    query = select(Instrument).where(Instrument.id == str(instrument_id))
    if for_update:
        query = query.with_for_update()
    inst = session.scalars(query).first()
    if inst is None:
        raise not_found("instrument")
    return inst


def prices(session: Session, inst: Instrument) -> dict:
    return {p.price_group: p.hourly_rate for p in
            session.scalars(select(InstrumentPrice).where(InstrumentPrice.instrument_id == inst.id))}


def view(session: Session, inst: Instrument, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    rules = {f: getattr(inst, f) for f in RULE_FIELDS}
    rules["opening_hours"] = json.loads(inst.opening_hours)
    blackouts = session.scalars(select(Blackout).where(Blackout.instrument_id == inst.id, Blackout.ends_at > now)
                                .order_by(Blackout.starts_at)).all()
    return {
        "id": inst.id, "institution_id": inst.institution_id,
        "institution_name": institutions.name_of(session, inst.institution_id),
        "name": inst.name, "category": inst.category, "model": inst.model, "maker": inst.maker,
        "specifications": json.loads(inst.specifications), "capability_ids": json.loads(inst.capability_ids),
        "standards": json.loads(inst.standards), "station_window_id": inst.station_window_id, "park": inst.park,
        "location": inst.location, "photo_url": inst.photo_url, "status": inst.status,
        "withdrawn_reason": inst.withdrawn_reason, "revision": inst.revision, "rules": rules,
        "prices": [{"price_group": g, "hourly_rate": r} for g, r in sorted(prices(session, inst).items())],
        "blackouts": blackouts,
    }


def _event_data(inst: Instrument, reason: str | None = None) -> dict:
    return {"instrument_id": inst.id, "institution_id": inst.institution_id, "revision": inst.revision,
            "name": inst.name, "category": inst.category, "park": inst.park,
            "station_window_id": inst.station_window_id, "status": inst.status, "reason": reason}


def _check_capabilities(session: Session, institution_id: str, capability_ids: list) -> None:
    """Linked capabilities must be the institution's own, as its registry events published them."""
    from .models import KnownInstitution
    if not capability_ids:
        return
    with session.no_autoflush:     # the instrument being built is not complete yet
        row = session.get(KnownInstitution, institution_id)
    known = {c.get("capability_id") for c in json.loads(row.capabilities or "[]")} if row else set()
    unknown = sorted(set(capability_ids) - known)
    if unknown:
        raise ValidationFailed("Link only the institution's own capabilities / 只能关联本机构已发布的能力",
                               errors={"capability_ids": [f"unknown / 未知: {', '.join(unknown)}"]})


def _apply(session: Session, inst: Instrument, data: dict) -> None:
    _check_capabilities(session, inst.institution_id, data["capability_ids"])
    for name in ("name", "category", "model", "maker", "station_window_id", "park", "location", "photo_url"):
        setattr(inst, name, data[name])
    inst.specifications = json.dumps(data["specifications"], ensure_ascii=False)
    inst.capability_ids = json.dumps(data["capability_ids"])
    inst.standards = json.dumps(data["standards"], ensure_ascii=False)
    r = {**QUALIFICATION_DEFAULTS, **data["rules"]}
    for name in RULE_FIELDS:
        setattr(inst, name, r[name])
    inst.minimum_charge = to_money(r["minimum_charge"])
    inst.opening_hours = json.dumps(r["opening_hours"], sort_keys=True)
    session.flush()
    for old in session.scalars(select(InstrumentPrice).where(InstrumentPrice.instrument_id == inst.id)).all():
        session.delete(old)
    session.flush()
    for p in data["prices"]:
        session.add(InstrumentPrice(instrument_id=inst.id, price_group=p["price_group"],
                                    hourly_rate=to_money(p["hourly_rate"])))
    session.flush()
    from .qualifications import grant_from_attendances
    grant_from_attendances(session, inst)


def _owner(session: Session, principal: dict, data: dict) -> str:
    if is_operator(principal):
        if not data.get("institution_id"):
            raise ValidationFailed("Name the institution / 请指定所属机构",
                                   errors={"institution_id": ["required for operators / 运营人员须指定"]})
        institution_id = data["institution_id"]
    else:
        institution_id = principal.get("institution_id")
        if data.get("institution_id") not in (None, institution_id):
            require_institution_staff(principal, data["institution_id"])
    if not institution_id or not institutions.is_active(session, institution_id):
        raise Conflict("The institution is not an approved, active institution on the platform / "
                       "所属机构未入驻或已注销", code="institution_not_active")
    return institution_id


def publish(session: Session, principal: dict, data: dict) -> dict:
    principal = require_caller(principal)
    institution_id = _owner(session, principal, data)
    inst = Instrument(institution_id=institution_id, status="published", revision=1)
    session.add(inst)
    _apply(session, inst, data)
    event(session, "instrument.published", inst.id, _event_data(inst))
    return view(session, inst)


def change(session: Session, principal: dict, instrument_id: str, data: dict) -> dict:
    inst = get_row(session, instrument_id, for_update=True)
    require_institution_staff(principal, inst.institution_id)
    if inst.status != "published":
        raise Conflict("A withdrawn instrument cannot be changed / 已下架的仪器不能修改", code="instrument_withdrawn")
    if data.get("institution_id") not in (None, inst.institution_id):
        raise ValidationFailed("An instrument stays with its institution / 不能变更所属机构",
                               errors={"institution_id": ["cannot change / 不可变更"]})
    _apply(session, inst, data)
    inst.revision += 1
    inst.updated_at = now_or(None)
    event(session, "instrument.changed", inst.id, _event_data(inst))
    return view(session, inst)


def withdraw_row(session: Session, inst: Instrument, why: str, reason_text: str) -> None:
    """Withdraw at once; open bookings are cancelled by the institution (never charged)."""
    from . import bookings
    inst.status = "withdrawn"
    inst.withdrawn_reason = why
    inst.revision += 1
    inst.updated_at = now_or(None)
    session.flush()
    event(session, "instrument.withdrawn", inst.id, _event_data(inst, reason_text))
    bookings.cancel_all_open(session, inst, reason_text)


def withdraw(session: Session, principal: dict, instrument_id: str, data: dict) -> dict:
    inst = get_row(session, instrument_id, for_update=True)
    require_institution_staff(principal, inst.institution_id)
    if inst.status == "withdrawn":
        raise Conflict("Already withdrawn / 仪器已下架", code="instrument_withdrawn")
    withdraw_row(session, inst, "operator" if is_operator(principal) else "institution", data["reason"])
    return view(session, inst)


def add_blackout(session: Session, principal: dict, instrument_id: str, data: dict) -> dict:
    inst = get_row(session, instrument_id, for_update=True)
    require_institution_staff(principal, inst.institution_id)
    blackout = Blackout(instrument_id=inst.id, kind=data["kind"], starts_at=utc(data["starts_at"]),
                        ends_at=utc(data["ends_at"]), reason=data["reason"])
    session.add(blackout)
    inst.revision += 1
    session.flush()
    event(session, "instrument.changed", inst.id, _event_data(inst, f"blackout: {data['reason']}"))
    return view(session, inst)


def list_instruments(session: Session, query: dict) -> dict:
    stmt = select(Instrument)
    if not query.get("include_withdrawn"):
        stmt = stmt.where(Instrument.status == "published")
    for name in ("category", "park", "institution_id"):
        if query.get(name):
            stmt = stmt.where(getattr(Instrument, name) == query[name])
    if query.get("standard"):
        stmt = stmt.where(Instrument.standards.contains(query["standard"]))
    if query.get("q"):
        like = f"%{query['q']}%"
        stmt = stmt.where(or_(Instrument.name.like(like), Instrument.model.like(like), Instrument.maker.like(like),
                              Instrument.specifications.like(like), Instrument.location.like(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Instrument.name, Instrument.id)
                           .limit(query["limit"]).offset(query["offset"])).all()
    return {"items": [view(session, r) for r in rows], "total": total}


def get_instrument(session: Session, instrument_id: str) -> dict:
    return view(session, get_row(session, instrument_id))


# -- the engine's inputs ------------------------------------------------------------------------
def rules_of(inst: Instrument) -> engine.InstrumentRules:
    return engine.InstrumentRules(
        slot_minutes=inst.slot_minutes, min_minutes=inst.min_minutes, max_minutes=inst.max_minutes,
        buffer_minutes=inst.buffer_minutes, notice_working_days=inst.notice_working_days,
        horizon_working_days=inst.horizon_working_days, weekly_limit_minutes=inst.weekly_limit_minutes,
        opening_hours=json.loads(inst.opening_hours), calibration_due=inst.calibration_due,
        qualification_required=inst.qualification_required, operator_assisted=inst.operator_assisted,
        published=inst.status == "published", qualification_expiry=inst.qualification_expiry,
        qualification_months=inst.qualification_months, qualification_idle_days=inst.qualification_idle_days)


def context_for(session: Session, inst: Instrument, principal: dict | None, first: dt.datetime,
                last: dt.datetime, now: dt.datetime | None = None) -> engine.Context:
    now = now_or(now)
    pad = dt.timedelta(days=1, minutes=inst.buffer_minutes)
    occupancy = [engine.Interval(b.starts_at, b.ends_at + dt.timedelta(minutes=inst.buffer_minutes),
                                 "held" if b.status in HOLDING else "booked", ref=b.id)
                 for b in session.scalars(select(Booking).where(
                     Booking.instrument_id == inst.id, Booking.status.in_(HOLDING + OCCUPYING),
                     Booking.starts_at < last + pad, Booking.ends_at > first - pad))]
    blackouts = [engine.Interval(b.starts_at, b.ends_at, b.kind, b.reason, b.id)
                 for b in session.scalars(select(Blackout).where(Blackout.instrument_id == inst.id,
                                                                 Blackout.starts_at < last + pad,
                                                                 Blackout.ends_at > first - pad))]
    from .waitlist import held_by_offers
    user_id = (principal or {}).get("user_id")
    occupancy += held_by_offers(session, inst.id, str(user_id) if user_id else None, now, inst.buffer_minutes)
    ctx = engine.Context(now=now, is_working_day=workdays.is_working_day, add_working_days=workdays.add_working_days,
                         occupancy=occupancy, blackouts=blackouts)
    if user_id:
        user_id = str(user_id)
        weeks: dict = {}
        for b in session.scalars(select(Booking).where(Booking.instrument_id == inst.id, Booking.user_id == user_id,
                                                       Booking.status.in_(HOLDING + OCCUPYING))):
            key = engine.week_of(b.starts_at)
            weeks[key] = weeks.get(key, 0) + int((b.ends_at - b.starts_at).total_seconds() // 60)
        ctx.week_minutes = weeks
        ctx.suspended_until = suspended_until(session, user_id, now)
        from .qualifications import grants_of
        ctx.grants = grants_of(session, user_id, inst.id)
    return ctx


def suspended_until(session: Session, user_id: str, now: dt.datetime) -> dt.datetime | None:
    return session.scalar(select(func.max(Suspension.until)).where(Suspension.user_id == user_id,
                                                                   Suspension.until > now,
                                                                   Suspension.lifted_at.is_(None)))


def availability(session: Session, principal: dict | None, instrument_id: str, query: dict,
                 now: dt.datetime | None = None) -> dict:
    inst = get_row(session, instrument_id)
    first, last = query["from_"], query["to"]
    span_first = engine.to_utc(dt.datetime(first.year, first.month, first.day, tzinfo=engine.SHANGHAI))
    span_last = engine.to_utc(dt.datetime(last.year, last.month, last.day, tzinfo=engine.SHANGHAI)
                              + dt.timedelta(days=1))
    ctx = context_for(session, inst, principal, span_first, span_last, now)
    rules = rules_of(inst)
    # Signed in, the slots are judged for the chosen mode exactly as a request in that mode would be.
    mode = query.get("mode") or "self"
    slots = engine.availability(rules, first, last, ctx, mode=mode if ctx.grants is not None else None)
    for s in slots:
        s["start_local"] = engine.local(s["start"]).isoformat()
    return {"instrument_id": inst.id, "from_": first, "to": last, "slot_minutes": inst.slot_minutes, "mode": mode,
            "qualification": {**engine.qualification_status(rules, ctx), "code": inst.qualification_code},
            "slots": slots}


def usage(session: Session, principal: dict, instrument_id: str, query: dict) -> dict:
    """Instrument hours (机时) of a month: booked against used, for the statistics slice."""
    from .common import is_reader
    inst = get_row(session, instrument_id)
    if not (is_reader(principal) or (principal or {}).get("institution_id") == inst.institution_id):
        require_institution_staff(principal, inst.institution_id)
    from .usage import month_span, walk_in_minutes
    first, last = month_span(query["month"])
    rows = session.scalars(select(Booking).where(Booking.instrument_id == inst.id, Booking.starts_at >= first,
                                                 Booking.starts_at < last,
                                                 Booking.status.in_(OCCUPYING + ("no_show",)))).all()
    booked = sum(int((b.ends_at - b.starts_at).total_seconds() // 60) for b in rows)
    used_booked = sum(int((b.actual_end - b.actual_start).total_seconds() // 60) for b in rows if b.actual_end)
    walk_in, walk_ins = walk_in_minutes(session, inst.id, first, last)
    return {"instrument_id": inst.id, "month": query["month"], "bookings": len(rows), "booked_minutes": booked,
            "used_minutes": used_booked + walk_in, "used_booked_minutes": used_booked, "walk_in_minutes": walk_in,
            "unbooked_records": walk_ins, "no_shows": sum(b.status == "no_show" for b in rows),
            "revenue": sum((b.fee or 0) for b in rows if b.status in ("completed", "settled")) or money_str(0)}
