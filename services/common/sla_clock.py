"""The SLA clock: its row, states and counters, and how its due time is computed.

services.common.sla (the lifecycle: start, pause, resume, restart, stop, cancel, sweep)
and services.common.sla_views (lists, due states, the view) build on it; the package
overview is services/common/sla.py's docstring.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os

from prometheus_client import Counter
from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import sla_events
from .db import CommonBase, utcnow
from .errors import CalendarYearMissing
# The outbox table comes with the clock table: a verdict is recorded on it (sla.clock_closed).
from .outbox import record_event
from .sla_rules import get_rule
from .workdays import get_calendar


log = logging.getLogger("services.common.sla")

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
    # Whom the clock's verdict is attributed to in the quarterly statistics (sla.clock_closed):
    # set by the call sites that know it (common_0006); NULL counts for the platform only.
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    window_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

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


# -- the verdict, announced ---------------------------------------------------------------------

def announce(session: Session, clock: SlaClock, at: dt.datetime, rejudged: bool = False) -> None:
    """Record `sla.clock_closed` for a clock now met or breached, on the owning service's outbox
    (services.common.sla_events), in the transaction that judged it."""
    source = sla_events.source_of(clock.rule)
    if source is None:
        return   # a rule of no service (tests' own rules): nobody subscribes
    record_event(session, source, sla_events.TYPE, clock.id, {
        "clock_id": clock.id, "rule": clock.rule, "subject_type": clock.subject_type,
        "subject_id": clock.subject_id, "outcome": clock.state, "started_at": _iso(clock.started_at),
        "due_at": _iso(clock.due_at), "stopped_at": _iso(clock.stopped_at),
        "limit_working_days": clock.limit_working_days, "institution_id": clock.institution_id,
        "window_id": clock.window_id, "judged_at": _iso(at), "rejudged": rejudged})
