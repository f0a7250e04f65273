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
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid

from prometheus_client import Counter
from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, and_, event, not_, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import CommonBase, utcnow
from .errors import CalendarYearMissing, Conflict, NotFound
# Rules live in sla_rules.py; re-exported here where callers have always found them.
from .sla_rules import RulesInvalid, SlaRule, _parse_rule, _rules_cache, get_rule, load_rules  # noqa: F401
from .workdays import SHANGHAI, get_calendar, local_date

log = logging.getLogger(__name__)

RUNNING, PAUSED, MET, BREACHED, CANCELLED = "running", "paused", "met", "breached", "cancelled"
# Stopped while the calendar lacks the due year, too late to be sure it was on time:
# the verdict (met or breached) follows when the year is loaded.
STOPPED = "stopped"
OPEN_STATES = (RUNNING, PAUSED)
STATES = (RUNNING, PAUSED, MET, BREACHED, CANCELLED, STOPPED)
# Due states for lists and metrics (clock_view["due_state"]).
ON_TRACK, DUE_SOON, OVERDUE, CALENDAR_GAP = "on_track", "due_soon", "overdue", "calendar_gap"
DUE_STATES = (ON_TRACK, DUE_SOON, OVERDUE, CALENDAR_GAP, PAUSED)
RECOMPUTE_BATCH = 500


def sweep_seconds() -> float:
    """How often services sweep their clocks (and notice a loaded calendar): QI_SLA_SWEEP_SECONDS, 60."""
    return float(os.environ.get("QI_SLA_SWEEP_SECONDS", "60"))


SLA_MET = Counter("qi_sla_met_total", "SLA clocks stopped within their limit (per process)", ["rule"])
SLA_BREACHED = Counter("qi_sla_breached_total", "SLA clocks that passed their limit (per process)", ["rule"])


# -- model --------------------------------------------------------------------------

class SlaClock(CommonBase):
    __tablename__ = "sla_clock"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule: Mapped[str] = mapped_column(String(100), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(50), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    calendar_gap: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    restarts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    history: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    # The limit the clock runs against (the rules file may change later) and the
    # calendar fingerprint due_at was computed with (NULL: recompute at next sweep).
    limit_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    calendar_version: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_sla_clock_state_due", "state", "due_at"),
        Index("ix_sla_clock_subject", "subject_type", "subject_id"),
    )


# -- metrics after commit -------------------------------------------------------------

_PENDING_KEY = "qi_sla_pending_metrics"


def _count_after_commit(session: Session, counter: Counter, rule: str) -> None:
    session.info.setdefault(_PENDING_KEY, []).append((counter, rule))


@event.listens_for(Session, "after_commit")
def _flush_metrics(session: Session) -> None:
    for counter, rule in session.info.pop(_PENDING_KEY, ()):
        counter.labels(rule).inc()


@event.listens_for(Session, "after_transaction_end")
def _drop_metrics(session: Session, transaction) -> None:
    # Reached after a commit too, but then the list was already emptied.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


# -- helpers ------------------------------------------------------------------------------

def _utc(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return utcnow()
    if value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _history(clock: SlaClock) -> list[dict]:
    return json.loads(clock.history or "[]")


def _log(clock: SlaClock, at: dt.datetime, action: str) -> None:
    entries = _history(clock)
    entries.append({"at": _iso(at), "action": action})
    clock.history = json.dumps(entries)


def _paused_working_days(clock: SlaClock) -> int:
    """Working days spent paused since the current run (start or last restart) began."""
    entries = _history(clock)
    begin = max((i for i, e in enumerate(entries) if e["action"] in ("start", "restart")), default=0)
    total = 0
    paused_from = None
    for entry in entries[begin:]:
        at = dt.datetime.fromisoformat(entry["at"].rstrip("Z"))
        if entry["action"] == "pause":
            paused_from = at
        elif entry["action"] == "resume" and paused_from is not None:
            total += get_calendar().working_days_between(paused_from, at)
            paused_from = None
    return total


def _limit(clock: SlaClock) -> int:
    if clock.limit_working_days is None:
        clock.limit_working_days = get_rule(clock.rule).limit_working_days
    return clock.limit_working_days


def _compute_due(clock: SlaClock) -> CalendarYearMissing | None:
    """Set due_at from start, limit and paused days; on a calendar gap return the error."""
    calendar = get_calendar()
    clock.calendar_version = calendar.fingerprint()
    try:
        clock.due_at = calendar.due_instant(clock.started_at, _limit(clock) + _paused_working_days(clock))
        clock.calendar_gap = False
        return None
    except CalendarYearMissing as exc:
        log.warning("SLA clock %s (%s %s/%s): %s", clock.id, clock.rule, clock.subject_type,
                    clock.subject_id, exc.detail)
        clock.due_at = None
        clock.calendar_gap = True
        return exc


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


def start_clock(session: Session, rule_name: str, subject_type: str, subject_id,
                at: dt.datetime | None = None) -> SlaClock:
    get_rule(rule_name)
    existing = find_clock(session, rule_name, subject_type, subject_id)
    if existing is not None:
        # A retried command must not start a second clock for the same subject.
        return existing
    at = _utc(at)
    clock = SlaClock(id=str(uuid.uuid4()), rule=rule_name, subject_type=subject_type, subject_id=str(subject_id),
                     state=RUNNING, started_at=at, overdue=False, restarts=0, calendar_gap=False, history="[]",
                     limit_working_days=get_rule(rule_name).limit_working_days)
    _log(clock, at, "start")
    _compute_due(clock)
    session.add(clock)
    session.flush()
    return clock


def pause_clock(session: Session, clock_or_subject, at: dt.datetime | None = None) -> SlaClock:
    clock = _resolve(session, clock_or_subject)
    _require_open(clock, "pause")
    if clock.state == PAUSED:
        return clock
    at = _utc(at)
    clock.state = PAUSED
    clock.paused_at = at
    _log(clock, at, "pause")
    return clock


def resume_clock(session: Session, clock_or_subject, at: dt.datetime | None = None) -> SlaClock:
    clock = _resolve(session, clock_or_subject)
    _require_open(clock, "resume")
    if clock.state == RUNNING:
        return clock
    at = _utc(at)
    clock.state = RUNNING
    clock.paused_at = None
    _log(clock, at, "resume")
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
               missing_ok: bool = False) -> SlaClock | None:
    """The awaited action happened: the clock ends met (by due_at) or breached.

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
    return clock


def cancel_clock(session: Session, clock_or_subject, at: dt.datetime | None = None) -> SlaClock:
    """The subject went away (withdrawn, deleted): neither met nor breached."""
    clock = _resolve(session, clock_or_subject)
    _require_open(clock, "cancel")
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


def __getattr__(name):
    # Moved to keep modules small; still importable from here (backward compatible).
    if name in ("recompute_due", "recompute_changed"):
        from . import sla_recompute
        return getattr(sla_recompute, name)
    if name == "SlaOpenClocksCollector":
        from .collectors import SlaOpenClocksCollector
        return SlaOpenClocksCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
