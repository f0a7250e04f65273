"""Reading SLA clocks: lists, overdue and due-soon, the due state staff see, and the view.

Re-exported by services.common.sla (import them from there).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from .errors import CalendarYearMissing, NotFound
from .sla_clock import (CALENDAR_GAP, CANCELLED, DUE_SOON, ON_TRACK, OPEN_STATES, OVERDUE, PAUSED, RUNNING, STOPPED,
                        SlaClock, _history, _iso, _utc)
from .sla_rules import get_rule
from .workdays import SHANGHAI, get_calendar, local_date


def _overdue_sql(now: dt.datetime):
    return or_(SlaClock.overdue.is_(True),
               and_(SlaClock.state == RUNNING, SlaClock.due_at.is_not(None), SlaClock.due_at < now))


def is_overdue(clock: SlaClock, now: dt.datetime | None = None) -> bool:
    """Past due now, whether or not a sweep has marked it yet (a sweep only counts it)."""
    if clock.overdue:
        return True
    return clock.state == RUNNING and clock.due_at is not None and clock.due_at < _utc(now)


def list_clocks(session: Session, state=None, due_before: dt.datetime | None = None, rule: str | None = None,
                overdue: bool | None = None, limit: int | None = None, calendar_gap: bool | None = None,
                now: dt.datetime | None = None) -> list[SlaClock]:
    """Clocks filtered by state (one or several), due time, rule, overdue (by due_at against
    `now`, or the sweep's flag) and calendar gap; soonest due first."""
    query = select(SlaClock)
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        query = query.where(SlaClock.state.in_(states))
    if due_before is not None:
        query = query.where(SlaClock.due_at.is_not(None), SlaClock.due_at < _utc(due_before))
    if rule is not None:
        query = query.where(SlaClock.rule == rule)
    if overdue is not None:
        condition = _overdue_sql(_utc(now))
        query = query.where(condition if overdue else not_(condition))
    if calendar_gap is not None:
        query = query.where(SlaClock.calendar_gap.is_(calendar_gap))
    query = query.order_by(SlaClock.due_at.is_(None), SlaClock.due_at, SlaClock.started_at)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def is_due_soon(clock: SlaClock, now: dt.datetime | None = None) -> bool | None:
    """Running, not yet overdue, and within the rule's warning window; None if unknown."""
    if clock.state != RUNNING or clock.due_at is None:
        return None if clock.state == RUNNING else False
    now = _utc(now)
    if is_overdue(clock, now):
        return False
    try:
        remaining = get_calendar().working_days_between(now, clock.due_at)
        return remaining <= get_rule(clock.rule).due_soon_working_days
    except (CalendarYearMissing, NotFound):
        return None


def due_state(clock: SlaClock, now: dt.datetime | None = None) -> str:
    """What staff need to know about the deadline: on_track, due_soon, overdue,
    calendar_gap or paused for an open clock; the state itself for a closed one
    (`stopped`, a stop awaiting the calendar, is calendar_gap)."""
    if clock.state == STOPPED or (clock.state in OPEN_STATES and clock.calendar_gap):
        return CALENDAR_GAP
    if clock.state not in OPEN_STATES:
        return clock.state
    if is_overdue(clock, now):
        return OVERDUE
    if clock.state == PAUSED:
        return PAUSED
    return DUE_SOON if is_due_soon(clock, now) else ON_TRACK


def _missing_year(clock: SlaClock) -> int:
    calendar = get_calendar()
    year = local_date(clock.started_at).year
    while calendar.is_covered(year) and year < 2100:
        year += 1
    return year


def due_note(clock: SlaClock) -> dict | None:
    """Why there is no due date ({zh, en}), or None when there is one."""
    if clock.due_at is not None or clock.state == CANCELLED:
        return None
    year = _missing_year(clock)
    return {"zh": f"{year}年节假日安排公布并导入后给出截止时间",
            "en": f"The due date follows once the {year} holiday notice is loaded"}


def clock_view(clock: SlaClock, now: dt.datetime | None = None) -> dict:
    due_local = None
    if clock.due_at is not None:
        due_local = clock.due_at.replace(tzinfo=dt.timezone.utc).astimezone(SHANGHAI).isoformat()
    try:
        rule = get_rule(clock.rule)
        descriptions = {"description_zh": rule.description_zh, "description_en": rule.description_en,
                        "limit_working_days": (rule.limit_working_days if clock.limit_working_days is None
                                               else clock.limit_working_days)}
    except NotFound:
        descriptions = {"description_zh": None, "description_en": None, "limit_working_days": None}
    return {
        "id": clock.id,
        "rule": clock.rule,
        **descriptions,
        "subject_type": clock.subject_type,
        "subject_id": clock.subject_id,
        "state": clock.state,
        "started_at": _iso(clock.started_at),
        "due_at": _iso(clock.due_at),
        "due_local": due_local,
        "calendar_gap": bool(clock.calendar_gap),
        "due_state": due_state(clock, now),
        "due_note": due_note(clock),
        "paused_at": _iso(clock.paused_at),
        "stopped_at": _iso(clock.stopped_at),
        "overdue": is_overdue(clock, now),
        "due_soon": is_due_soon(clock, now),
        "restarts": clock.restarts,
        "history": _history(clock),
    }
