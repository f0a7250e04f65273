"""Gauges read at scrape time (database or calendar dir), registered once per process.

They are right however many instances run and after any restart; every instance
on one database reports the same value, so dashboards and alerts (deploy/alerts)
aggregate them with max/min, never sum.
"""
from __future__ import annotations

import threading

from prometheus_client import REGISTRY

from .parking import ParkedEventsCollector
from .sla import SlaOpenClocksCollector
from .workdays import CalendarCoverageCollector

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
