"""Gauges read at scrape time (database or calendar dir), registered once per process.

They are right however many instances run and after any restart; every instance
on one database reports the same value, so dashboards and alerts (deploy/alerts)
aggregate them with max/min, never sum.
"""
from __future__ import annotations

import logging
import threading

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import select

from .db import utcnow
from .errors import DomainError
from .parking import ParkedEventsCollector
from .sla import DUE_STATES, OPEN_STATES, STOPPED, SlaClock, due_state, load_rules
from .workdays import WorkingDayCalendar, get_calendar

log = logging.getLogger(__name__)

class SlaOpenClocksCollector:
    """`qi_sla_open_clocks{rule}` and `qi_sla_open_clocks_by_due_state{rule,due_state}`,
    counted in the database when Prometheus scrapes.

    A process-local gauge would be wrong as soon as two instances share a
    database, or after a restart. Every instance on one database reports the
    same numbers, so queries take max by (rule), not sum. Register once per
    process: `REGISTRY.register(SlaOpenClocksCollector(db))`.
    """

    NAME = "qi_sla_open_clocks"
    DOC = "SLA clocks running or paused, per rule (read from the database)"
    BY_STATE = "qi_sla_open_clocks_by_due_state"
    BY_STATE_DOC = ("Open SLA clocks per rule and due state (on_track, due_soon, overdue, calendar_gap, paused), "
                    "plus stops awaiting the calendar as calendar_gap (read from the database)")

    def __init__(self, database):
        self.database = database

    def describe(self):
        # Without describe(), registering would run a query at import/startup time.
        return [GaugeMetricFamily(self.NAME, self.DOC, labels=["rule"]),
                GaugeMetricFamily(self.BY_STATE, self.BY_STATE_DOC, labels=["rule", "due_state"])]

    def collect(self):
        family = GaugeMetricFamily(self.NAME, self.DOC, labels=["rule"])
        by_state = GaugeMetricFamily(self.BY_STATE, self.BY_STATE_DOC, labels=["rule", "due_state"])
        try:
            names = list(load_rules())
        except DomainError:
            names = []
        counts = {name: 0 for name in names}
        states = {(name, state): 0 for name in names for state in DUE_STATES}
        now = utcnow()
        try:
            with self.database.read() as session:
                clocks = list(session.scalars(select(SlaClock).where(SlaClock.state.in_(OPEN_STATES + (STOPPED,)))))
                for clock in clocks:
                    if clock.state in OPEN_STATES:
                        counts[clock.rule] = counts.get(clock.rule, 0) + 1
                    key = (clock.rule, due_state(clock, now))
                    states[key] = states.get(key, 0) + 1
        except Exception as exc:  # a failing scrape must not take the metrics endpoint down
            log.warning("qi_sla_open_clocks: database query failed: %s", exc)
            return
        for rule, count in sorted(counts.items()):
            family.add_metric([rule], count)
        for (rule, state), count in sorted(states.items()):
            by_state.add_metric([rule, state], count)
        yield family
        yield by_state


_lock = threading.Lock()
_registered: list = []


def register_service_collectors(database, registry=REGISTRY) -> bool:
    """SLA clocks, parked events and calendar coverage of this service; False if already done."""
    with _lock:
        if _registered:
            return False
        for collector in (SlaOpenClocksCollector(database), ParkedEventsCollector(database),
                          CalendarCoverageCollector()):
            registry.register(collector)
        _registered.append(True)
        return True


class CalendarCoverageCollector:
    """`qi_calendar_covered_days_ahead`: days after today the calendar covers.

    Read at scrape time from the calendar directory, so it drops by itself as the
    year runs out and rises as soon as a notice is loaded. Every instance reports
    the same value; alert on min(). Register once per process.
    """

    NAME = "qi_calendar_covered_days_ahead"
    DOC = "Days after today (Asia/Shanghai) covered by the working-day calendar"

    def __init__(self, calendar: WorkingDayCalendar | None = None):
        self.calendar = calendar

    def describe(self):
        return [GaugeMetricFamily(self.NAME, self.DOC)]

    def collect(self):
        try:
            value = (self.calendar or get_calendar()).covered_days_ahead()
        except Exception as exc:  # a failing scrape must not take the metrics endpoint down
            log.warning("%s: %s", self.NAME, exc)
            return
        yield GaugeMetricFamily(self.NAME, self.DOC, value=value)
