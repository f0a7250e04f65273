"""Recomputing SLA clocks after the working-day calendar changed (a notice loaded).

Each clock stores the calendar fingerprint its due time was computed with; a
service's sweep (`sla.sweep_overdue`) calls `recompute_changed` on its own database,
so loading a notice reaches every service without any reading another's tables.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .errors import DomainError
from .sla import (BREACHED, MET, OPEN_STATES, RECOMPUTE_BATCH, SLA_BREACHED, SLA_MET, STOPPED, SlaClock, _compute_due,
                  _count_after_commit, _iso, _log, _utc, announce)
from .workdays import get_calendar

log = logging.getLogger(__name__)


def recompute_due(session: Session, clock: SlaClock, now: dt.datetime | None = None) -> SlaClock:
    """Recompute due_at with today's calendar (a notice was loaded or changed), for
    every state: an open clock gets its due time (an overdue flag set against the old
    calendar is dropped if the new due time lies ahead); a pending stop gets its
    verdict (counted now); a met or breached clock is judged again, and a changed
    verdict is written to its history (the counters counted the first verdict)."""
    now = _utc(now)
    before = (clock.due_at, clock.state)
    if clock.limit_working_days is None and clock.state not in OPEN_STATES and not clock.calendar_gap:
        # Closed before limits were stored with the clock (migration common_0005): its
        # due time was computed with full calendar data; re-deriving it from today's
        # rules file could change a verdict for a reason that is not the calendar.
        clock.calendar_version = get_calendar().fingerprint()
        return clock
    try:
        gap = _compute_due(clock)
    except DomainError as exc:
        # e.g. its rule was removed from the rules file: keep what it has, do not retry every sweep.
        log.warning("SLA clock %s (%s): not recomputed: %s", clock.id, clock.rule, exc)
        clock.calendar_version = get_calendar().fingerprint()
        return clock
    if gap is not None:
        return clock
    if clock.state in OPEN_STATES:
        if clock.overdue and clock.due_at >= now:
            clock.overdue = False
            _log(clock, now, "overdue_cleared")
    elif clock.state in (STOPPED, MET, BREACHED) and clock.stopped_at is not None:
        verdict = MET if clock.stopped_at <= clock.due_at and not clock.overdue else BREACHED
        if clock.state == STOPPED:
            _count_after_commit(session, SLA_MET if verdict == MET else SLA_BREACHED, clock.rule)
            clock.state = verdict
            _log(clock, now, f"judged_{verdict}")
            announce(session, clock, now)
        elif verdict != clock.state:
            clock.state = verdict
            _log(clock, now, f"rejudged_{verdict}")
            announce(session, clock, now, rejudged=True)
    if before[0] != clock.due_at:
        log.info("SLA clock %s (%s): due %s -> %s after a calendar change", clock.id, clock.rule,
                 _iso(before[0]), _iso(clock.due_at))
    return clock


def recompute_changed(session: Session, now: dt.datetime | None = None, limit: int = RECOMPUTE_BATCH * 10) -> int:
    """Recompute every clock whose calendar fingerprint is not today's; returns how many.

    Bounded per call so one sweep transaction stays short; the next sweep continues.
    On PostgreSQL, instances sharing the database skip each other's locked rows.
    """
    version = get_calendar().fingerprint()
    done = 0
    while done < limit:
        batch = list(session.scalars(
            select(SlaClock).where(or_(SlaClock.calendar_version.is_(None), SlaClock.calendar_version != version))
            .order_by(SlaClock.started_at).limit(RECOMPUTE_BATCH).with_for_update(skip_locked=True)))
        if not batch:
            break
        for clock in batch:
            recompute_due(session, clock, now)
        session.flush()
        done += len(batch)
    if done:
        log.info("SLA: %d clocks recomputed for calendar %s", done, version)
    return done

