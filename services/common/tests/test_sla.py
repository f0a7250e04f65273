import datetime as dt
import json

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from services.common import sla, workdays
from services.common.db import CommonBase, Database, make_engine
from services.common.errors import CalendarYearMissing, Conflict, NotFound
from services.common.sla import (SlaOpenClocksCollector, clock_view, find_clock, list_clocks, pause_clock,
                                 restart_clock, resume_clock, start_clock, stop_clock, sweep_overdue)

SH = workdays.SHANGHAI
REVIEW = "registry.application_review"
RESPONSE = "matching.demand_response"


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


def test_rules_are_data():
    rules = sla.load_rules()
    assert rules[REVIEW].limit_working_days == 3 and rules[REVIEW].restart_on_resubmit is True
    assert rules[RESPONSE].limit_working_days == 1
    assert rules["matching.demand_recommendation"].limit_working_days == 3
    with pytest.raises(NotFound):
        sla.get_rule("no.such_rule")


def test_invalid_rules_file_is_refused(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"name": "x", "limit_working_days": -1,
                                           "description_zh": "", "description_en": ""}]}))
    with pytest.raises(sla.RulesInvalid, match="limit_working_days"):
        sla.load_rules(path)


def test_due_over_national_day_and_met(db):
    met_before = count("qi_sla_met_total", REVIEW)
    breached_before = count("qi_sla_breached_total", REVIEW)
    with db.transaction() as s:
        clock = start_clock(s, REVIEW, "application", "app-1", at=sh(2026, 9, 30, 10, 0))
        view = clock_view(clock)
    assert view["state"] == "running"
    assert view["started_at"] == "2026-09-30T02:00:00Z"
    assert view["due_local"] == "2026-10-10T23:59:59.999999+08:00"
    assert view["due_at"] == "2026-10-10T15:59:59.999999Z"
    assert view["calendar_gap"] is False
    with db.transaction() as s:
        clock = stop_clock(s, (REVIEW, "application", "app-1"), at=sh(2026, 10, 9, 16, 0))
        assert clock.state == "met"
    assert count("qi_sla_met_total", REVIEW) == met_before + 1
    assert count("qi_sla_breached_total", REVIEW) == breached_before
    with db.read() as s:
        assert find_clock(s, REVIEW, "application", "app-1") is None


def test_stopped_late_is_breached_and_counted_once(db):
    before = count("qi_sla_breached_total", REVIEW)
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "app-2", at=sh(2026, 9, 30, 10, 0))
    with db.transaction() as s:
        clock = stop_clock(s, (REVIEW, "application", "app-2"), at=sh(2026, 10, 12, 9, 0))
        assert clock.state == "breached"
        assert clock_view(clock)["stopped_at"] == "2026-10-12T01:00:00Z"
    assert count("qi_sla_breached_total", REVIEW) == before + 1
    with db.transaction() as s, pytest.raises(Conflict):
        clock = s.get(sla.SlaClock, clock.id)
        stop_clock(s, clock, at=sh(2026, 10, 13, 9, 0))
    assert count("qi_sla_breached_total", REVIEW) == before + 1


def test_rolled_back_stop_counts_nothing(db):
    before = count("qi_sla_met_total", REVIEW)
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "app-rb", at=sh(2026, 9, 30, 10, 0))
    with pytest.raises(RuntimeError), db.transaction() as s:
        stop_clock(s, (REVIEW, "application", "app-rb"), at=sh(2026, 10, 8, 9, 0))
        raise RuntimeError("business step failed after the stop")
    assert count("qi_sla_met_total", REVIEW) == before
    with db.read() as s:
        assert find_clock(s, REVIEW, "application", "app-rb").state == "running"


def test_start_is_idempotent_and_stop_missing(db):
    with db.transaction() as s:
        first = start_clock(s, REVIEW, "application", "app-3", at=sh(2026, 9, 30, 10, 0))
        again = start_clock(s, REVIEW, "application", "app-3", at=sh(2026, 10, 8, 10, 0))
        assert again.id == first.id
        assert stop_clock(s, (REVIEW, "application", "nope"), missing_ok=True) is None
        with pytest.raises(NotFound):
            stop_clock(s, (REVIEW, "application", "nope"))
        with pytest.raises(NotFound):
            start_clock(s, "no.such_rule", "application", "app-3")


def test_restart_on_resubmission_moves_due(db):
    with db.transaction() as s:
        clock = start_clock(s, REVIEW, "application", "app-4", at=sh(2026, 9, 30, 10, 0))
        clock = restart_clock(s, (REVIEW, "application", "app-4"), at=sh(2026, 10, 9, 10, 0))
        view = clock_view(clock)
    assert view["restarts"] == 1
    assert view["started_at"] == "2026-10-09T02:00:00Z"
    # 10-10 (Saturday 调休), 10-12, 10-13.
    assert view["due_local"] == "2026-10-13T23:59:59.999999+08:00"
    assert [h["action"] for h in view["history"]] == ["start", "restart"]
    with db.transaction() as s:
        assert stop_clock(s, (REVIEW, "application", "app-4"), at=sh(2026, 10, 12, 9, 0)).state == "met"


def test_restart_refused_when_rule_does_not_allow(db):
    with db.transaction() as s:
        start_clock(s, RESPONSE, "demand", "d-1", at=sh(2026, 9, 30, 10, 0))
        with pytest.raises(Conflict):
            restart_clock(s, (RESPONSE, "demand", "d-1"), at=sh(2026, 10, 8, 10, 0))


def test_pause_resume_extends_due(db):
    with db.transaction() as s:
        clock = start_clock(s, REVIEW, "application", "app-5", at=sh(2026, 10, 12, 10, 0))
        assert clock_view(clock)["due_local"].startswith("2026-10-15T23:59:59")
        pause_clock(s, clock, at=sh(2026, 10, 13, 10, 0))
        assert clock.state == "paused"
        resume_clock(s, clock, at=sh(2026, 10, 15, 10, 0))
        view = clock_view(clock)
    assert view["state"] == "running"
    # Two working days (10-14, 10-15) spent paused: 3 + 2 after 10-12, skipping the weekend.
    assert view["due_local"] == "2026-10-19T23:59:59.999999+08:00"
    with db.transaction() as s:
        # Stopping a paused clock credits the pause before judging.
        clock = s.get(sla.SlaClock, clock.id)
        pause_clock(s, clock, at=sh(2026, 10, 19, 10, 0))
        stop_clock(s, clock, at=sh(2026, 10, 20, 10, 0))
        assert clock.state == "met"
        assert clock_view(clock)["due_local"].startswith("2026-10-20T23:59:59")


def test_sweep_marks_overdue_once_and_counts_breach_once(db):
    before = count("qi_sla_breached_total", REVIEW)
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "late", at=sh(2026, 9, 30, 10, 0))
        start_clock(s, REVIEW, "application", "fresh", at=sh(2026, 10, 9, 10, 0))
    with db.transaction() as s:
        assert sweep_overdue(s, now=sh(2026, 10, 10, 23, 0)) == []
    with db.transaction() as s:
        newly = sweep_overdue(s, now=sh(2026, 10, 11, 0, 30))
        assert [c.subject_id for c in newly] == ["late"]
        assert newly[0].overdue is True and newly[0].state == "running"
    assert count("qi_sla_breached_total", REVIEW) == before + 1
    with db.transaction() as s:
        assert sweep_overdue(s, now=sh(2026, 10, 12, 9, 0)) == []
        assert [c.subject_id for c in list_clocks(s, overdue=True, now=sh(2026, 10, 12, 9, 0))] == ["late"]
        assert [c.subject_id for c in list_clocks(s, state="running", due_before=sh(2026, 10, 12, 0, 0))] == ["late"]
        assert {c.subject_id for c in list_clocks(s, rule=REVIEW, state=["running", "paused"])} == {"late", "fresh"}
    with db.transaction() as s:
        clock = stop_clock(s, (REVIEW, "application", "late"), at=sh(2026, 10, 12, 10, 0))
        assert clock.state == "breached"
    assert count("qi_sla_breached_total", REVIEW) == before + 1


def test_calendar_gap_keeps_clock_running_and_fills_later(db, caldir, tmp_path):
    from services.common.tests.test_workdays import NOTICE_2027
    with db.transaction() as s:
        near = start_clock(s, REVIEW, "application", "gap-1", at=sh(2026, 12, 30, 10, 0))
        far = start_clock(s, REVIEW, "application", "gap-2", at=sh(2026, 12, 30, 11, 0))
        assert near.due_at is None and near.calendar_gap is True and near.state == "running"
        assert clock_view(near)["due_local"] is None
    with db.transaction() as s:
        assert sweep_overdue(s, now=sh(2027, 1, 10, 0, 0)) == []
    with db.transaction() as s:
        # Stopped before the missing year: on time whatever 2027 looks like.
        assert stop_clock(s, (REVIEW, "application", "gap-1"), at=sh(2026, 12, 31, 9, 0)).state == "met"
    with db.transaction() as s:
        # Too late to be sure without 2027: the stop is kept, the verdict waits.
        pending = stop_clock(s, (REVIEW, "application", "gap-2"), at=sh(2027, 1, 5, 9, 0))
        assert pending.state == "stopped" and clock_view(pending)["due_state"] == "calendar_gap"
    notice = tmp_path / "cn-2027-notice.json"
    notice.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    workdays.get_calendar().install_notice(notice)
    with db.transaction() as s:
        sweep_overdue(s, now=sh(2027, 1, 4, 9, 0))
        clock = s.get(sla.SlaClock, far.id)
        assert clock.calendar_gap is False
        # 2026-12-31, 2027-01-04, 2027-01-05.
        assert clock_view(clock)["due_local"] == "2027-01-05T23:59:59.999999+08:00"


def test_open_clocks_collector_reads_the_database(db):
    registry = CollectorRegistry()
    registry.register(SlaOpenClocksCollector(db))
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "o-1", at=sh(2026, 9, 30, 10, 0))
        paused = start_clock(s, REVIEW, "application", "o-2", at=sh(2026, 9, 30, 10, 0))
        pause_clock(s, paused, at=sh(2026, 10, 8, 10, 0))
        start_clock(s, RESPONSE, "demand", "o-3", at=sh(2026, 9, 30, 10, 0))
        stop_clock(s, (RESPONSE, "demand", "o-3"), at=sh(2026, 9, 30, 11, 0))
    assert registry.get_sample_value("qi_sla_open_clocks", {"rule": REVIEW}) == 2
    assert registry.get_sample_value("qi_sla_open_clocks", {"rule": RESPONSE}) == 0
    # A second instance on the same database sees the same numbers.
    other = CollectorRegistry()
    other.register(SlaOpenClocksCollector(Database(db.engine)))
    assert other.get_sample_value("qi_sla_open_clocks", {"rule": REVIEW}) == 2
