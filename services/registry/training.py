"""Training events and sign-ups (clause 5: "training in every category"; 培训报名).

Operators publish an event in one catalogue category (onsite with a venue, or
online). Enterprises and persons sign up: one place per user per event, so
signing up again returns the place already held. While seats are free a
sign-up is confirmed; after that it joins the waiting list. When a confirmed
participant cancels, the longest-waiting sign-up (FIFO by `queue_no`) is
promoted and told so by an in-app notification.

Capacity under concurrency: every sign-up or cancellation starts by bumping the
event's `queue_counter` with an UPDATE, before anything is read. That UPDATE
takes the event row's lock on PostgreSQL and the write lock on SQLite, so the
seat count read next cannot be stale and two last-seat sign-ups cannot both be
confirmed. The counter's new value is the sign-up's place in the queue.

Attendance: once a training has started, operators record which confirmed
participants attended; each newly marked one publishes `training.attended`
(account id, training, category, the qualification code the event names, the
local date), from which booking grants instrument qualifications.

Participants are named by the public nickname identity announced in `user.registered`
(the local copy in accounts.py); an account registered before the registry consumed
that event has none (null), and is shown by its id.

The online link is for participants: public views leave it out, a confirmed
sign-up (and operators) see it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event
from services.common.platform import CUSTOMER_ROLES
from services.common.workdays import SHANGHAI

from . import access
from .journal import SOURCE, notify
from .accounts import nickname_of
from .models import CatalogItem, Category, KnownAccount, TrainingEvent, TrainingSignup, new_id

PARTICIPANTS = CUSTOMER_ROLES   # those who take part in trainings


def _utc(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _local(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(SHANGHAI).isoformat()


def _local_date(moment: dt.datetime) -> dt.date:
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(SHANGHAI).date()


def _counts(session: Session, training_id: str) -> dict[str, int]:
    rows = session.execute(select(TrainingSignup.status, func.count()).where(TrainingSignup.event_id == training_id)
                           .group_by(TrainingSignup.status)).all()
    return {status: count for status, count in rows}


def _attended(session: Session, training_id: str) -> int:
    return session.scalar(select(func.count()).select_from(TrainingSignup).where(
        TrainingSignup.event_id == training_id, TrainingSignup.attended_at.is_not(None)))


def event_view(session: Session, event: TrainingEvent, principal: dict | None = None,
               show_link: bool = False) -> dict:
    counts = _counts(session, event.id)
    category = session.get(Category, event.category_code)
    confirmed = counts.get("confirmed", 0)
    view = {"training_id": event.id, "category_code": event.category_code,
            "category_name_zh": category.name_zh if category else None, "item_code": event.item_code,
            "title": event.title, "description": event.description, "starts_at": iso_utc(event.starts_at),
            "starts_local": _local(event.starts_at),
            "ends_at": iso_utc(event.ends_at) if event.ends_at else None, "ends_local": _local(event.ends_at),
            "mode": event.mode, "venue": event.venue, "capacity": event.capacity, "confirmed": confirmed,
            "waitlisted": counts.get("waitlisted", 0), "seats_left": max(0, event.capacity - confirmed),
            "status": event.status, "qualification_code": event.qualification_code,
            "attended": _attended(session, event.id)}
    if event.mode == "online" and (show_link or (principal or {}).get("role") in access.OPERATORS):
        view["online_url"] = event.online_url
    return view


def _load(session: Session, training_id: str) -> TrainingEvent:
    event = session.get(TrainingEvent, str(training_id))
    if event is None:
        raise NotFound("No such training / 培训不存在", code="training_not_found")
    return event


def _lock(session: Session, training_id: str) -> int:
    """Serialise sign-up changes of one event; returns the next queue number. Must be the first statement."""
    number = session.execute(update(TrainingEvent).where(TrainingEvent.id == str(training_id))
                             .values(queue_counter=TrainingEvent.queue_counter + 1)
                             .returning(TrainingEvent.queue_counter)).scalar_one_or_none()
    if number is None:
        raise NotFound("No such training / 培训不存在", code="training_not_found")
    return number


def _require_open(event: TrainingEvent, at: dt.datetime) -> None:
    if event.status != "published":
        raise Conflict("The training was cancelled / 培训已取消", code="training_cancelled")
    if event.starts_at <= at:
        raise Conflict("The training has started; sign-ups are closed / 培训已开始，报名已截止",
                       code="training_closed")


# -- operators -------------------------------------------------------------------------

def create_event(session: Session, principal: dict, data: dict, at: dt.datetime | None = None) -> dict:
    principal = access.require_role(principal, access.OPERATORS)
    at = at or utcnow()
    errors: dict = {}
    if session.get(Category, data["category_code"]) is None:
        errors["category_code"] = ["未知类别 / unknown category"]
    if data.get("item_code"):
        item = session.get(CatalogItem, data["item_code"])
        if item is None or item.category_code != data["category_code"]:
            errors["item_code"] = ["不是该类别的服务事项 / not an item of this category"]
    starts_at = _utc(data["starts_at"])
    if starts_at <= at:
        errors["starts_at"] = ["须为将来的时间 / must be in the future"]
    if errors:
        raise ValidationFailed("The training cannot be published / 培训无法发布", errors=errors)
    event = TrainingEvent(id=new_id(), category_code=data["category_code"], item_code=data.get("item_code"),
                          title=data["title"], description=data.get("description"), starts_at=starts_at,
                          ends_at=_utc(data["ends_at"]) if data.get("ends_at") else None, mode=data["mode"],
                          venue=data.get("venue"), online_url=data.get("online_url"), capacity=data["capacity"],
                          qualification_code=data.get("qualification_code"),
                          status="published", queue_counter=0, created_by=str(principal["user_id"]),
                          created_at=at, updated_at=at)
    session.add(event)
    session.flush()
    audit(session, principal, "training.published", "training", event.id)
    return event_view(session, event, principal)


def list_signups(session: Session, principal: dict, training_id: str) -> dict:
    principal = access.require_role(principal, access.OPERATORS)
    event = _load(session, training_id)
    # The nicknames come in the same query (an outer join on the local account copy), not one read per row.
    found = session.execute(select(TrainingSignup, KnownAccount.nickname)
                            .outerjoin(KnownAccount, KnownAccount.id == TrainingSignup.user_id)
                            .where(TrainingSignup.event_id == event.id).order_by(TrainingSignup.queue_no)).all()
    names = {signup.id: nickname or None for signup, nickname in found}
    rows = [signup for signup, _nickname in found]
    order = {"confirmed": 0, "waitlisted": 1, "cancelled": 2}
    rows.sort(key=lambda r: (order[r.status], r.queue_no))
    positions = _positions(rows)
    return {"training": event_view(session, event, principal),
            "items": [signup_view(event, r, positions.get(r.id), names[r.id]) for r in rows]}


# -- public ------------------------------------------------------------------------------

def list_upcoming(session: Session, principal: dict | None = None, category: str | None = None, limit: int = 50,
                  offset: int = 0, now: dt.datetime | None = None) -> dict:
    """Public; a signed-in participant also gets `mine` on each event (their sign-up or null), so a
    page can offer sign-up or cancel without a call per event."""
    query = select(TrainingEvent).where(TrainingEvent.status == "published", TrainingEvent.starts_at > (now or utcnow()))
    if category:
        query = query.where(TrainingEvent.category_code == category)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(TrainingEvent.starts_at, TrainingEvent.id).limit(limit).offset(offset)).all()
    items = [event_view(session, e) for e in rows]
    if principal and principal.get("role") in PARTICIPANTS and rows:
        user_id = str(principal["user_id"])
        signups = {s.event_id: s for s in session.scalars(select(TrainingSignup).where(
            TrainingSignup.user_id == user_id, TrainingSignup.event_id.in_([e.id for e in rows])))}
        nickname = nickname_of(session, user_id) if signups else None
        for event, item in zip(rows, items):
            signup = signups.get(event.id)
            item["mine"] = (signup_view(event, signup, _waitlist_position(session, signup), nickname)
                            if signup is not None else None)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def get_event(session: Session, principal: dict | None, training_id: str) -> dict:
    return event_view(session, _load(session, training_id), principal)


# -- participants ------------------------------------------------------------------------------

def _positions(rows) -> dict[str, int]:
    waiting = sorted((r for r in rows if r.status == "waitlisted"), key=lambda r: r.queue_no)
    return {r.id: n for n, r in enumerate(waiting, start=1)}


def _waitlist_position(session: Session, signup: TrainingSignup) -> int | None:
    if signup.status != "waitlisted":
        return None
    ahead = session.scalar(select(func.count()).select_from(TrainingSignup).where(
        TrainingSignup.event_id == signup.event_id, TrainingSignup.status == "waitlisted",
        TrainingSignup.queue_no < signup.queue_no))
    return ahead + 1


def signup_view(event: TrainingEvent, signup: TrainingSignup, position: int | None = None,
                nickname: str | None = None) -> dict:
    view = {"signup_id": signup.id, "training_id": signup.event_id, "user_id": signup.user_id,
            "nickname": nickname, "user_role": signup.user_role, "status": signup.status, "waitlist_position": position,
            "signed_up_at": iso_utc(signup.signed_up_at),
            "confirmed_at": iso_utc(signup.confirmed_at) if signup.confirmed_at else None,
            "cancelled_at": iso_utc(signup.cancelled_at) if signup.cancelled_at else None,
            "attended_at": iso_utc(signup.attended_at) if signup.attended_at else None}
    if event.mode == "online" and signup.status == "confirmed":
        view["online_url"] = event.online_url
    return view


def _mine(session: Session, training_id: str, user_id: str) -> TrainingSignup | None:
    return session.scalars(select(TrainingSignup).where(TrainingSignup.event_id == training_id,
                                                        TrainingSignup.user_id == user_id)).first()


def sign_up(session: Session, principal: dict, training_id: str, at: dt.datetime | None = None) -> dict:
    """Confirmed while seats are free, else waitlisted; a second sign-up returns the first."""
    principal = access.require_role(principal, PARTICIPANTS)
    number = _lock(session, training_id)
    event = _load(session, training_id)
    at = at or utcnow()
    user_id = str(principal["user_id"])
    signup = _mine(session, event.id, user_id)
    if signup is not None and signup.status != "cancelled":
        return {**signup_view(event, signup, _waitlist_position(session, signup), nickname_of(session, user_id)),
                "already_signed_up": True}
    _require_open(event, at)
    # Promotion is immediate on every cancellation, so free seats imply an empty waiting list.
    confirmed = _counts(session, event.id).get("confirmed", 0)
    status = "confirmed" if confirmed < event.capacity else "waitlisted"
    if signup is None:
        signup = TrainingSignup(id=new_id(), event_id=event.id, user_id=user_id, user_role=principal["role"])
        session.add(signup)
    # A user who cancelled and signs up again joins at the back: the place was given up.
    signup.status, signup.queue_no, signup.signed_up_at, signup.cancelled_at = status, number, at, None
    signup.confirmed_at = at if status == "confirmed" else None
    session.flush()
    return {**signup_view(event, signup, _waitlist_position(session, signup), nickname_of(session, user_id)),
            "already_signed_up": False}


def cancel(session: Session, principal: dict, training_id: str, at: dt.datetime | None = None) -> dict:
    """Give up one's place; a freed seat goes to the longest-waiting sign-up. Cancelling twice is a no-op."""
    principal = access.require_principal(principal)
    _lock(session, training_id)
    event = _load(session, training_id)
    at = at or utcnow()
    signup = _mine(session, event.id, str(principal["user_id"]))
    if signup is None:
        raise NotFound("You have not signed up for this training / 未报名该培训", code="signup_not_found")
    if signup.status == "cancelled":
        return signup_view(event, signup, nickname=nickname_of(session, signup.user_id))
    if event.starts_at <= at:
        raise Conflict("The training has started / 培训已开始", code="training_closed")
    was_confirmed = signup.status == "confirmed"
    signup.status, signup.cancelled_at = "cancelled", at
    session.flush()
    if was_confirmed:
        _promote(session, event, at)
    return signup_view(event, signup, nickname=nickname_of(session, signup.user_id))


def _promote(session: Session, event: TrainingEvent, at: dt.datetime) -> list[TrainingSignup]:
    free = event.capacity - _counts(session, event.id).get("confirmed", 0)
    if free <= 0:
        return []
    promoted = list(session.scalars(select(TrainingSignup).where(
        TrainingSignup.event_id == event.id, TrainingSignup.status == "waitlisted")
        .order_by(TrainingSignup.queue_no).limit(free)))
    for signup in promoted:
        signup.status, signup.confirmed_at = "confirmed", at
        notify(session, signup.user_id, "training.confirmed", event.id,
               "培训候补转为正式报名 / Your waiting-list place is confirmed",
               f"{event.title} · {_local(event.starts_at)}", at)
    session.flush()
    return promoted


def my_signup(session: Session, principal: dict, training_id: str) -> dict:
    principal = access.require_principal(principal)
    event = _load(session, training_id)
    signup = _mine(session, event.id, str(principal["user_id"]))
    if signup is None:
        raise NotFound("You have not signed up for this training / 未报名该培训", code="signup_not_found")
    return signup_view(event, signup, _waitlist_position(session, signup), nickname_of(session, signup.user_id))


def record_attendance(session: Session, principal: dict, training_id: str, data: dict,
                      at: dt.datetime | None = None) -> dict:
    """Mark confirmed participants attended; every one newly marked publishes training.attended.

    All or nothing: one id that is not a confirmed sign-up refuses the whole list."""
    principal = access.require_role(principal, access.OPERATORS)
    _lock(session, training_id)        # no sign-up or cancellation changes the list meanwhile
    event = _load(session, training_id)
    at = at or utcnow()
    if event.status != "published":
        raise Conflict("The training was cancelled / 培训已取消", code="training_cancelled")
    if event.starts_at > at:
        raise Conflict("The training has not started; attendance comes after / 培训尚未开始，暂不能登记出勤",
                       code="training_not_started")
    wanted = list(dict.fromkeys(str(u) for u in data["user_ids"]))
    rows = {r.user_id: r for r in session.scalars(select(TrainingSignup).where(
        TrainingSignup.event_id == event.id, TrainingSignup.user_id.in_(wanted)))}
    strangers = [u for u in wanted if u not in rows or rows[u].status != "confirmed"]
    if strangers:
        raise ValidationFailed("Only confirmed participants can be marked attended / 只能为已确认报名的学员登记出勤",
                               errors={"user_ids": [f"not a confirmed participant / 非已确认学员: {u}"
                                                    for u in strangers]}, code="not_confirmed_participant")
    attended_on = data.get("attended_on") or _local_date(event.starts_at)
    recorded, already = [], []
    for user_id in wanted:
        signup = rows[user_id]
        if signup.attended_at is not None:
            already.append(user_id)
            continue
        signup.attended_at, signup.attended_by = at, str(principal["user_id"])
        recorded.append(user_id)
        record_event(session, SOURCE, "training.attended", event.id, {
            "training_id": event.id, "user_id": user_id, "category_code": event.category_code,
            "qualification_code": event.qualification_code, "attended_on": attended_on.isoformat()})
    session.flush()
    if recorded:
        audit(session, principal, "training.attendance", "training", event.id)
    return {"training": event_view(session, event, principal), "recorded": recorded, "already": already}
