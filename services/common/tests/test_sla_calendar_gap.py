"""Clocks in a calendar gap (issue 8 point 8) and the defects of issue 8 point 13c/13d.

"Now" is pinned by passing `at=`/`now=` as in test_sla.py; the 2027 notice is the
synthetic test notice of test_workdays (marked 测试), installed in a temporary
calendar directory only.
"""
import datetime as dt
import json

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from services.common import sla, workdays
from services.common.db import CommonBase, Database, make_engine
from services.common.sla import (SlaOpenClocksCollector, clock_view, list_clocks, pause_clock, restart_clock,
                                 start_clock, stop_clock, sweep_overdue)
from services.common.tests.test_workdays import NOTICE_2027

SH = workdays.SHANGHAI
REVIEW = "registry.application_review"


def sh(*args):
    return dt.datetime(*args, tzinfo=SH)


def count(name, rule):
    return REGISTRY.get_sample_value(name, {"rule": rule}) or 0.0


@pytest.fixture
def caldir(tmp_path, monkeypatch):
    path = tmp_path / "calendar"
    path.mkdir()
    monkeypatch.setenv("QI_CALENDAR_DIR", str(path))
    workdays.reset_calendar()
    yield path
    workdays.reset_calendar()


@pytest.fixture
def db(tmp_path, caldir):
    engine = make_engine(f"sqlite:///{tmp_path / 'sla.db'}")
    CommonBase.metadata.create_all(engine)
    yield Database(engine)
    engine.dispose()


def load_2027(caldir, tmp_path):
    """The operator's command, as documented: validates and writes the calendar dir."""
    notice = tmp_path / "notice-2027.json"
    notice.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    assert workdays.main(["--dir", str(caldir), "load", str(notice)]) == 0


def test_gap_clock_is_listed_as_calendar_gap_with_a_bilingual_note(db):
    with db.transaction() as s:
        gap = start_clock(s, REVIEW, "application", "gap", at=sh(2026, 12, 29, 10, 0))
        covered = start_clock(s, REVIEW, "application", "covered", at=sh(2026, 12, 1, 10, 0))
    now = sh(2026, 12, 29, 12, 0)
    with db.read() as s:
        assert [c.subject_id for c in list_clocks(s, state=list(sla.OPEN_STATES), calendar_gap=True)] == ["gap"]
        assert [c.subject_id for c in list_clocks(s, calendar_gap=False)] == ["covered"]
        view = clock_view(s.get(sla.SlaClock, gap.id), now)
        assert view["due_at"] is None and view["calendar_gap"] is True
        assert view["due_state"] == "calendar_gap"
        assert view["due_note"] == {"zh": "2027年节假日安排公布并导入后给出截止时间",
                                    "en": "The due date follows once the 2027 holiday notice is loaded"}
        assert view["overdue"] is False and view["due_soon"] is None
        covered_view = clock_view(s.get(sla.SlaClock, covered.id), sh(2026, 12, 3, 9, 0))
        assert covered_view["due_note"] is None and covered_view["due_state"] == "due_soon"
    registry = CollectorRegistry()
    registry.register(SlaOpenClocksCollector(db))
    assert registry.get_sample_value("qi_sla_open_clocks_by_due_state",
                                     {"rule": REVIEW, "due_state": "calendar_gap"}) == 1


def test_loading_the_year_recomputes_every_clock_met_ones_too(db, caldir, tmp_path):
    met_before = count("qi_sla_met_total", REVIEW)
    breached_before = count("qi_sla_breached_total", REVIEW)
    with db.transaction() as s:
        october = start_clock(s, REVIEW, "application", "october", at=sh(2026, 9, 30, 10, 0))
        stop_clock(s, october, at=sh(2026, 10, 9, 9, 0))
        running = start_clock(s, REVIEW, "application", "running", at=sh(2026, 12, 30, 10, 0))
        met = start_clock(s, REVIEW, "application", "met", at=sh(2026, 12, 29, 10, 0))
        late = start_clock(s, REVIEW, "application", "late", at=sh(2026, 12, 29, 11, 0))
        unsure = start_clock(s, REVIEW, "application", "unsure", at=sh(2026, 12, 30, 11, 0))
    with db.transaction() as s:
        # Met during the gap: before the earliest day it could be due (2026-12-31 for a
        # 3-working-day clock started 12-29, 2026 being fully known up to then).
        assert stop_clock(s, (REVIEW, "application", "met"), at=sh(2026, 12, 30, 16, 0)).state == "met"
        # Too late to tell without the 2027 notice: kept, judged later.
        assert stop_clock(s, (REVIEW, "application", "unsure"), at=sh(2027, 1, 5, 9, 0)).state == "stopped"
        assert stop_clock(s, (REVIEW, "application", "late"), at=sh(2027, 1, 8, 9, 0)).state == "stopped"
    with db.transaction() as s:
        sweep_overdue(s, now=sh(2027, 1, 4, 9, 0))
        assert s.get(sla.SlaClock, met.id).due_at is None
        assert clock_view(s.get(sla.SlaClock, met.id))["due_note"]["en"].startswith("The due date follows")
    old_fingerprint = s.get(sla.SlaClock, october.id).calendar_version
    october_due = s.get(sla.SlaClock, october.id).due_at

    load_2027(caldir, tmp_path)
    with db.transaction() as s:
        sweep_overdue(s, now=sh(2027, 1, 11, 9, 0))
    with db.read() as s:
        clocks = {c.subject_id: c for c in s.scalars(sla.select(sla.SlaClock))}
        assert all(c.calendar_version != old_fingerprint and not c.calendar_gap for c in clocks.values())
        assert clocks["october"].due_at == october_due and clocks["october"].state == "met"
        # 2026-12-30, 12-31, 2027-01-04 (01-01 a holiday in the notice, then the weekend).
        assert clock_view(clocks["met"])["due_local"] == "2027-01-04T23:59:59.999999+08:00"
        assert clocks["met"].state == "met" and clock_view(clocks["met"])["due_note"] is None
        assert clock_view(clocks["running"])["due_local"] == "2027-01-05T23:59:59.999999+08:00"
        assert clocks["running"].overdue is True   # due 01-05, swept 01-11
        assert clocks["unsure"].state == "met"     # due 01-05, stopped 01-05 09:00
        assert clocks["late"].state == "breached"  # due 01-04, stopped 01-08
        assert [h["action"] for h in sla._history(clocks["late"])][-1] == "judged_breached"
    # The judged stops count once, when judged; the running one's breach once, when swept.
    assert count("qi_sla_met_total", REVIEW) == met_before + 3
    assert count("qi_sla_breached_total", REVIEW) == breached_before + 2
    with db.transaction() as s:
        sweep_overdue(s, now=sh(2027, 1, 12, 9, 0))
    assert count("qi_sla_breached_total", REVIEW) == breached_before + 2


def test_fingerprint_follows_the_calendar_dir(caldir, tmp_path):
    calendar = workdays.get_calendar()
    before = calendar.fingerprint()
    assert calendar.fingerprint() == before
    assert not calendar.is_covered(2027)
    load_2027(caldir, tmp_path)
    assert calendar.fingerprint() != before
    # The new year is answered at once, not after the 60 s re-check.
    assert calendar.is_working_day(dt.date(2027, 2, 13))


def test_covered_days_ahead_metric(caldir, tmp_path):
    calendar = workdays.get_calendar()
    assert calendar.covered_days_ahead(dt.date(2026, 12, 1)) == 30
    assert calendar.covered_days_ahead(dt.date(2027, 1, 2)) == 0
    registry = CollectorRegistry()
    registry.register(workdays.CalendarCoverageCollector(calendar))
    today = workdays.local_date(dt.datetime.now(dt.timezone.utc))
    expected = (dt.date(2026, 12, 31) - today).days if today.year == 2026 else calendar.covered_days_ahead(today)
    assert registry.get_sample_value("qi_calendar_covered_days_ahead") == max(expected, 0)
    load_2027(caldir, tmp_path)
    assert calendar.covered_days_ahead(dt.date(2026, 12, 1)) == 395


def test_earliest_due_never_passes_the_true_due(caldir, tmp_path):
    calendar = workdays.get_calendar()
    earliest = calendar.earliest_due_instant(sh(2026, 12, 30, 10, 0), 3)
    assert earliest == workdays._end_of_day(dt.date(2027, 1, 2))
    load_2027(caldir, tmp_path)
    assert calendar.due_instant(sh(2026, 12, 30, 10, 0), 3) >= earliest


# -- issue 8 point 13c: a restart starts a fresh run ---------------------------------------------

def test_overdue_then_returned_resubmitted_and_reviewed_in_time_is_met(db):
    breached_before = count("qi_sla_breached_total", REVIEW)
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "a-13c", at=sh(2026, 10, 12, 10, 0))    # due 10-15
    with db.transaction() as s:
        assert [c.subject_id for c in sweep_overdue(s, now=sh(2026, 10, 16, 9, 0))] == ["a-13c"]
    assert count("qi_sla_breached_total", REVIEW) == breached_before + 1
    with db.transaction() as s:
        pause_clock(s, (REVIEW, "application", "a-13c"), at=sh(2026, 10, 16, 10, 0))    # returned
        clock = restart_clock(s, (REVIEW, "application", "a-13c"), at=sh(2026, 10, 19, 10, 0))  # resubmitted
        assert clock.overdue is False and clock_view(clock, sh(2026, 10, 19, 11, 0))["due_state"] == "on_track"
    with db.transaction() as s:
        assert sweep_overdue(s, now=sh(2026, 10, 20, 9, 0)) == []
        clock = stop_clock(s, (REVIEW, "application", "a-13c"), at=sh(2026, 10, 21, 10, 0))   # due 10-22
        assert clock.state == "met"
    # The first run's breach was counted once; the second run adds nothing.
    assert count("qi_sla_breached_total", REVIEW) == breached_before + 1


# -- issue 8 point 13d: overdue is due_at against now, not the sweep's flag ------------------------

def test_overdue_list_does_not_wait_for_a_sweep(db):
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "unswept", at=sh(2026, 10, 12, 10, 0))   # due 10-15
        start_clock(s, REVIEW, "application", "in-time", at=sh(2026, 10, 15, 10, 0))   # due 10-20
    now = sh(2026, 10, 16, 9, 0)
    with db.read() as s:
        assert [c.subject_id for c in list_clocks(s, state=list(sla.OPEN_STATES), overdue=True, now=now)] \
            == ["unswept"]
        assert [c.subject_id for c in list_clocks(s, state=list(sla.OPEN_STATES), overdue=False, now=now)] \
            == ["in-time"]
        view = clock_view(sla.find_clock(s, REVIEW, "application", "unswept"), now)
        assert view["overdue"] is True and view["due_state"] == "overdue"
    registry = CollectorRegistry()
    registry.register(SlaOpenClocksCollector(db))
    # Real now is long past both due days.
    assert registry.get_sample_value("qi_sla_open_clocks_by_due_state", {"rule": REVIEW, "due_state": "overdue"}) == 2


def test_recompute_keeps_legacy_closed_clocks_and_survives_a_removed_rule(db, caldir, tmp_path):
    with db.transaction() as s:
        legacy = start_clock(s, REVIEW, "application", "legacy", at=sh(2026, 9, 30, 10, 0))
        stop_clock(s, legacy, at=sh(2026, 10, 9, 9, 0))
        legacy.limit_working_days = None             # as migrated from before common_0005
        legacy.due_at = legacy.due_at - dt.timedelta(days=1)
        orphan = start_clock(s, REVIEW, "application", "orphan", at=sh(2026, 12, 30, 10, 0))
        orphan.rule = "no.longer_defined"
        orphan.limit_working_days = None
    load_2027(caldir, tmp_path)
    with db.transaction() as s:
        sweep_overdue(s, now=sh(2027, 1, 4, 9, 0))
    with db.read() as s:
        version = workdays.get_calendar().fingerprint()
        kept = s.get(sla.SlaClock, legacy.id)
        assert kept.calendar_version == version and kept.state == "met"
        assert kept.due_at == legacy.due_at
        assert s.get(sla.SlaClock, orphan.id).calendar_version == version
