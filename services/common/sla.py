"""SLA clocks: time limits counted in PRC working days (DB3212/T 1033-2021).

The limits are data (`sla_rules.json`, see `config.sla_rules_file()`); a clock is a
row in the owning service's database, changed in the caller's transaction so that
it moves together with the business change that started or stopped it.

A clock is due at the end (23:59:59.999999 Asia/Shanghai) of the n-th working day
after the day it started. Time spent paused (e.g. waiting for the applicant) does
not count: on resume the due day moves by the working days that passed. When the
calendar lacks a year the clock keeps running with `due_at` NULL and
`calendar_gap` set (listed as due state `calendar_gap`, with a bilingual
`due_note`). A stop during the gap that the calendar cannot yet judge is kept as
state `stopped` (verdict pending) instead of refusing the business action.

Each clock records the calendar fingerprint its due time was computed with
(`calendar_version`, see `WorkingDayCalendar.fingerprint`). Every sweep
(`sweep_overdue`, run by each service on its own database) recomputes every clock
whose fingerprint differs — running, paused, met, breached and pending ones — so
loading a notice (`python -m services.common.workdays load`) reaches every
service without an event and without a service reading another's tables.

Metrics: `qi_sla_met_total{rule}` and `qi_sla_breached_total{rule}` are counted
by the process that made the change, once its transaction committed (a rolled
back stop counts nothing); they are per process, and Prometheus sums instances.
A clock counts as breached once: when a sweep first finds it overdue, or when it
is stopped late without a sweep having seen it (a pending stop counts when the
recompute judges it). `qi_sla_open_clocks{rule}` and
`qi_sla_open_clocks_by_due_state{rule,due_state}` are read from the database at
scrape time (`SlaOpenClocksCollector`): every instance sharing a database reports
the same value, so dashboards and alerts aggregate them with max by (rule), never sum.

There is no database constraint against two open clocks for one (rule, subject):
`start_clock` returns the open one instead of starting a second.

Modules, by concern (all importable from here): `sla_clock` (the row, states, counters
and due-time computation), this module (the lifecycle: start, pause, resume, restart,
stop, cancel, sweep), `sla_views` (lists, due states, the view), `sla_rules` (the rules
file), `sla_recompute` (after a calendar change), `collectors` (scrape-time gauges).
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import CalendarYearMissing, Conflict, NotFound
# The clock and its states (sla_clock), the reading side (sla_views) and the rules (sla_rules)
# live in their own modules; re-exported here, where callers have always found them.
from .sla_clock import (BREACHED, CALENDAR_GAP, CANCELLED, DUE_SOON, DUE_STATES, MET, ON_TRACK, announce,  # noqa: F401
                        OPEN_STATES, OVERDUE, PAUSED, RECOMPUTE_BATCH, RUNNING, SLA_BREACHED, SLA_MET, STATES,
                        STOPPED, SlaClock, _compute_due, _count_after_commit, _history, _iso, _limit, _log,
                        _paused_working_days, _utc, log, sweep_seconds)
from .sla_rules import RulesInvalid, SlaRule, _parse_rule, _rules_cache, get_rule, load_rules  # noqa: F401
from .sla_views import (_missing_year, _overdue_sql, clock_view, due_note, due_state, is_due_soon,  # noqa: F401
                        is_overdue, list_clocks)
from .workdays import SHANGHAI, get_calendar, local_date  # noqa: F401


def _resolve(session: Session, clock_or_subject) -> SlaClock:
    if isinstance(clock_or_subject, SlaClock):
        return clock_or_subject
    rule, subject_type, subject_id = clock_or_subject
    clock = find_clock(session, rule, subject_type, subject_id)
    if clock is None:
        raise NotFound(f"no open SLA clock / 没有进行中的时限: {rule} {subject_type}/{subject_id}",
                       code="sla_clock_not_found")
    return clock


def _require_open(clock: SlaClock, action: str) -> None:
    if clock.state not in OPEN_STATES:
        raise Conflict(f"cannot {action} an SLA clock that is {clock.state} / 时限已结束，无法操作",
                       code="sla_clock_closed")



# -- operations ------------------------------------------------------------------------------

def find_clock(session: Session, rule: str, subject_type: str, subject_id) -> SlaClock | None:
    """The open (running or paused) clock of a subject under a rule."""
    return session.scalars(
        select(SlaClock)
        .where(SlaClock.rule == rule, SlaClock.subject_type == subject_type,
               SlaClock.subject_id == str(subject_id), SlaClock.state.in_(OPEN_STATES))
        .order_by(SlaClock.started_at.desc()).limit(1)
    ).first()


def _attribute(clock: SlaClock, institution_id, window_id) -> None:
    # Only what the caller knows: a stop that names no institution keeps the start's.
    if institution_id is not None:
        clock.institution_id = str(institution_id)
    if window_id is not None:
        clock.window_id = str(window_id)


def attributed_to(principal: dict | None) -> dict:
    """The institution / window a staff principal acts for: the attribution of a clock it starts
    or stops (an enterprise or platform operator has neither: the platform's figures only)."""
    principal = principal or {}
    return {"institution_id": principal.get("institution_id"), "window_id": principal.get("window_id")}


def start_clock(session: Session, rule_name: str, subject_type: str, subject_id,
                at: dt.datetime | None = None, institution_id=None, window_id=None,
                limit_working_days: int | None = None) -> SlaClock:
    """Start a clock; `institution_id` / `window_id` attribute its verdict in the statistics.

    `limit_working_days` replaces the rule's limit for this clock (a limit operators set in
    their own data, e.g. a complaint type's reply limit); the clock keeps it, as it keeps
    the rule's, when the rules change later."""
    get_rule(rule_name)
    existing = find_clock(session, rule_name, subject_type, subject_id)
    if existing is not None:
        # A retried command must not start a second clock for the same subject.
        _attribute(existing, institution_id, window_id)
        return existing
    at = _utc(at)
    clock = SlaClock(id=str(uuid.uuid4()), rule=rule_name, subject_type=subject_type, subject_id=str(subject_id),
                     state=RUNNING, started_at=at, overdue=False, restarts=0, calendar_gap=False, history="[]",
                     limit_working_days=limit_working_days or get_rule(rule_name).limit_working_days)
    _attribute(clock, institution_id, window_id)
    _log(clock, at, "start")
    _compute_due(clock)
    session.add(clock)
    session.flush()
    return clock


def _switch(session: Session, clock_or_subject, at: dt.datetime | None, action: str, state: str):
    """Pause or resume: (the clock, the instant it switched or None if it already was in `state`)."""
    clock = _resolve(session, clock_or_subject)
    _require_open(clock, action)
    if clock.state == state:
        return clock, None
    at = _utc(at)
    clock.state = state
    clock.paused_at = at if state == PAUSED else None
    _log(clock, at, action)
    return clock, at


def pause_clock(session: Session, clock_or_subject, at: dt.datetime | None = None) -> SlaClock:
    return _switch(session, clock_or_subject, at, "pause", PAUSED)[0]


def resume_clock(session: Session, clock_or_subject, at: dt.datetime | None = None) -> SlaClock:
    clock, switched = _switch(session, clock_or_subject, at, "resume", RUNNING)
    if switched is not None:
        _compute_due(clock)
    return clock


def restart_clock(session: Session, clock_or_subject, at: dt.datetime | None = None) -> SlaClock:
    """Resubmission: the full limit counts again from `at` (only if the rule says so)."""
    clock = _resolve(session, clock_or_subject)
    _require_open(clock, "restart")
    if not get_rule(clock.rule).restart_on_resubmit:
        raise Conflict(f"rule {clock.rule} does not restart on resubmission / 该时限不因重新提交而重新计时",
                       code="sla_restart_not_allowed")
    at = _utc(at)
    clock.state = RUNNING
    clock.started_at = at
    clock.paused_at = None
    clock.limit_working_days = get_rule(clock.rule).limit_working_days
    # The previous run's breach, if any, was counted already; the new run is judged on its own.
    clock.overdue = False
    clock.restarts += 1
    _log(clock, at, "restart")
    _compute_due(clock)
    return clock


def stop_clock(session: Session, clock_or_subject, at: dt.datetime | None = None,
               missing_ok: bool = False, institution_id=None, window_id=None) -> SlaClock | None:
    """The awaited action happened: the clock ends met (by due_at) or breached.

    The verdict is recorded as `sla.clock_closed` (services.common.sla_events) in the
    caller's transaction; `institution_id` / `window_id` attribute it where the start
    did not know them (e.g. the institution that answered a demand).

    With `missing_ok`, a subject without an open clock returns None instead of 404.
    When the calendar still lacks the due year, a stop before the earliest day the
    clock could possibly be due is met; a later one is kept as `stopped` and judged
    when the year is loaded (never guessed, and the business action goes through).
    """
    try:
        clock = _resolve(session, clock_or_subject)
    except NotFound:
        if missing_ok:
            return None
        raise
    _require_open(clock, "stop")
    _attribute(clock, institution_id, window_id)
    at = _utc(at)
    if clock.state == PAUSED:
        # The paused stretch is not the institution's delay: extend before judging.
        clock.state = RUNNING
        clock.paused_at = None
        _log(clock, at, "resume")
        gap = _compute_due(clock)
    elif clock.calendar_gap:
        gap = _compute_due(clock)
    else:
        # Keep the due time the clock ran against, even if the rules file changed since.
        gap = None
    if gap is None:
        on_time = at <= clock.due_at and not clock.overdue
    else:
        on_time = None if clock.overdue else _surely_on_time(clock, at)
    clock.stopped_at = at
    if on_time is None:
        clock.state = STOPPED
        clock.paused_at = None
        _log(clock, at, "stop")
        return clock
    if on_time:
        clock.state = MET
        _count_after_commit(session, SLA_MET, clock.rule)
    else:
        clock.state = BREACHED
        if not clock.overdue:
            _count_after_commit(session, SLA_BREACHED, clock.rule)
    _log(clock, at, "stop")
    session.flush()
    announce(session, clock, at)
    return clock


def cancel_clock(session: Session, clock_or_subject, at: dt.datetime | None = None,
                 institution_id=None, window_id=None) -> SlaClock:
    """The subject went away (withdrawn, deleted): neither met nor breached (no verdict, so
    nothing for the statistics; `institution_id` / `window_id` keep the row's attribution true)."""
    clock = _resolve(session, clock_or_subject)
    _require_open(clock, "cancel")
    _attribute(clock, institution_id, window_id)
    at = _utc(at)
    clock.state = CANCELLED
    clock.stopped_at = at
    clock.paused_at = None
    _log(clock, at, "cancel")
    return clock



def _surely_on_time(clock: SlaClock, at: dt.datetime) -> bool | None:
    """True if `at` is before the earliest the clock can be due (gap years counted as
    all working days); None when only the missing year can tell."""
    try:
        earliest = get_calendar().earliest_due_instant(clock.started_at, _limit(clock) + _paused_working_days(clock))
    except CalendarYearMissing:
        return None
    return True if at <= earliest else None


def sweep_overdue(session: Session, now: dt.datetime | None = None) -> list[SlaClock]:
    """Recompute clocks after a calendar change, then mark running clocks past due as
    overdue; returns the ones newly marked."""
    from .sla_recompute import recompute_changed
    now = _utc(now)
    recompute_changed(session, now)
    newly = list(session.scalars(
        select(SlaClock).where(SlaClock.state == RUNNING, SlaClock.overdue.is_(False),
                               SlaClock.due_at.is_not(None), SlaClock.due_at < now)
        .order_by(SlaClock.due_at)))
    for clock in newly:
        clock.overdue = True
        _log(clock, now, "overdue")
        _count_after_commit(session, SLA_BREACHED, clock.rule)
    return newly


def __getattr__(name):
    # Moved to keep modules small; still importable from here (backward compatible).
    if name in ("recompute_due", "recompute_changed"):
        from . import sla_recompute
        return getattr(sla_recompute, name)
    if name == "SlaOpenClocksCollector":
        from .collectors import SlaOpenClocksCollector
        return SlaOpenClocksCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
