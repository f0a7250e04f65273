"""The rule engine (services/booking/rules.py), pure: a fake calendar, no database."""
from __future__ import annotations

import datetime as dt

import pytest

from services.booking import rules as engine
from services.booking.tests.helpers import WEEKDAYS

HOLIDAYS = {dt.date(2026, 10, 1), dt.date(2026, 10, 2)}
MAKEUP = {dt.date(2026, 9, 27)}   # a Sunday worked (调休)
NOW = dt.datetime(2026, 9, 21, 2, 0)   # Monday 10:00 Shanghai


def working(day):
    if day in MAKEUP:
        return True
    return day.isoweekday() < 6 and day not in HOLIDAYS


def add(day, n):
    while n:
        day += dt.timedelta(days=1)
        if working(day):
            n -= 1
    return day


def ctx(**kw):
    return engine.Context(now=NOW, is_working_day=working, add_working_days=add, **kw)


RULES = engine.InstrumentRules(slot_minutes=30, min_minutes=60, max_minutes=240, notice_working_days=1,
                               horizon_working_days=10, opening_hours={**WEEKDAYS, "7": [["08:30", "17:30"]]},
                               qualification_required=True, operator_assisted=True, weekly_limit_minutes=180)


def at(m, d, hh, mm=0):
    """Shanghai local wall time as naive UTC."""
    return dt.datetime(2026, m, d, hh, mm) - dt.timedelta(hours=8)


def ids(found):
    return sorted(v.rule for v in found)


def test_a_good_request_breaks_nothing_and_its_slots_are_free():
    start, end = at(9, 22, 9), at(9, 22, 10)
    assert engine.request_violations(RULES, start, end, ctx(week_minutes={}, qualified=True)) == []
    slots = engine.availability(RULES, dt.date(2026, 9, 22), dt.date(2026, 9, 22), ctx(week_minutes={}, qualified=True))
    covered = [s for s in slots if start <= s["start"] < end]
    assert [s["state"] for s in covered] == ["free", "free"]


def test_weekend_holiday_and_makeup_day():
    found = engine.slot_violations(RULES, at(9, 26, 9), at(9, 26, 10), ctx())      # Saturday
    assert "calendar.weekend" in ids(found)
    found = engine.slot_violations(RULES, at(10, 1, 9), at(10, 1, 10), ctx())      # National Day
    assert "calendar.holiday" in ids(found)
    found = engine.slot_violations(RULES, at(9, 27, 9), at(9, 27, 10), ctx())      # 调休 Sunday: open
    assert "calendar.weekend" not in ids(found) and "calendar.holiday" not in ids(found)


def test_every_violated_rule_is_listed_at_once():
    # Today (notice), 12:00-13:30 (lunch closed), 45 minutes on a 30-minute grid, self use unqualified.
    found = engine.request_violations(RULES, at(9, 21, 12, 15), at(9, 21, 13), ctx(week_minutes={}, qualified=False))
    assert ids(found) == sorted(["notice.too_short", "hours.outside", "grid.misaligned", "duration.too_short",
                                 "qualification.missing"])
    assert all(" / " in v.message for v in found)


def test_horizon_blackout_calibration_and_suspension():
    found = engine.slot_violations(RULES, at(10, 20, 9), at(10, 20, 10), ctx())
    assert "horizon.too_far" in ids(found)
    blackout = engine.Interval(at(9, 23, 8), at(9, 23, 18), "maintenance", "年度保养")
    found = engine.slot_violations(RULES, at(9, 23, 9), at(9, 23, 10), ctx(blackouts=[blackout]))
    assert ids(found) == ["blackout"] and "年度保养" in found[0].zh
    overdue = engine.InstrumentRules(**{**RULES.__dict__, "calibration_due": dt.date(2026, 9, 22)})
    assert "calibration.overdue" in ids(engine.slot_violations(overdue, at(9, 23, 9), at(9, 23, 10), ctx()))
    found = engine.slot_violations(RULES, at(9, 22, 9), at(9, 22, 10), ctx(suspended_until=NOW + dt.timedelta(days=3)))
    assert ids(found) == ["user.suspended"]


def test_occupancy_with_buffer_and_only_occupancy_is_a_conflict():
    buffered = engine.InstrumentRules(**{**RULES.__dict__, "buffer_minutes": 30})
    other = engine.Interval(at(9, 22, 10), at(9, 22, 11, 30), "booked")   # claimed 10:00-11:00 + 30 min buffer
    found = engine.request_violations(buffered, at(9, 22, 9), at(9, 22, 10), ctx(occupancy=[other], week_minutes={},
                                                                                 qualified=True))
    assert ids(found) == ["slot.booked"] and engine.only_occupancy(found)     # 9:00-10:00 + buffer touches 10:00
    held = engine.Interval(at(9, 22, 14), at(9, 22, 15), "held")
    found = engine.slot_violations(buffered, at(9, 22, 14), at(9, 22, 14, 30), ctx(occupancy=[held]))
    assert ids(found) == ["slot.held"]


def test_weekly_limit_counts_the_users_week():
    week = engine.week_of(at(9, 22, 9))
    found = engine.request_violations(RULES, at(9, 22, 9), at(9, 22, 11), ctx(week_minutes={week: 90}, qualified=True))
    assert ids(found) == ["limit.weekly"]
    slots = engine.availability(RULES, dt.date(2026, 9, 22), dt.date(2026, 9, 22),
                                ctx(week_minutes={week: 180}, qualified=True))
    assert {s["state"] for s in slots if s["start"] > NOW} == {"closed"}


def test_assisted_mode_when_not_qualified():
    c = ctx(week_minutes={}, qualified=False)
    assert engine.request_violations(RULES, at(9, 22, 9), at(9, 22, 10), c, mode="assisted") == []
    no_assist = engine.InstrumentRules(**{**RULES.__dict__, "operator_assisted": False})
    assert ids(engine.request_violations(no_assist, at(9, 22, 9), at(9, 22, 10), c, mode="assisted")) == \
        ["assisted.not_offered", ]
    assert ids(engine.request_violations(no_assist, at(9, 22, 9), at(9, 22, 10), c)) == \
        ["qualification.missing_no_assist"]


def test_calendar_gap_closes_instead_of_guessing():
    from services.common.errors import CalendarYearMissing

    def missing(day):
        raise CalendarYearMissing("no 2027")
    c = engine.Context(now=NOW, is_working_day=missing, add_working_days=lambda d, n: (_ for _ in ()).throw(
        CalendarYearMissing("no 2027")))
    assert "calendar.gap" in ids(engine.slot_violations(RULES, at(9, 22, 9), at(9, 22, 10), c))


@pytest.mark.parametrize("day", [22, 23, 24, 25, 26, 27, 28])
def test_the_page_and_the_server_agree(day):
    """A request made of slots shown free (and meeting the duration rules) is accepted; one touching a slot
    not shown free is refused: one engine, both ways."""
    occupancy = [engine.Interval(at(9, 23, 10), at(9, 23, 11), "booked"),
                 engine.Interval(at(9, 24, 14), at(9, 24, 15), "held")]
    blackouts = [engine.Interval(at(9, 25, 8), at(9, 25, 12), "calibration", "校准")]
    c = ctx(occupancy=occupancy, blackouts=blackouts, week_minutes={}, qualified=True)
    slots = engine.availability(RULES, dt.date(2026, 9, day), dt.date(2026, 9, day), c)
    for i in range(len(slots) - 1):
        a, b = slots[i], slots[i + 1]
        if b["start"] != a["end"]:
            continue
        accepted = engine.request_violations(RULES, a["start"], b["end"], c) == []
        assert accepted == (a["state"] == b["state"] == "free"), (a, b)


def test_a_horizon_into_an_uncovered_year_still_lets_covered_days_be_booked():
    from services.common.errors import CalendarYearMissing

    def add_2026_only(day, n):
        out = add(day, n)
        if out.year > 2026:
            raise CalendarYearMissing("no 2027")
        return out
    c = engine.Context(now=NOW, is_working_day=working, add_working_days=add_2026_only)
    far = engine.InstrumentRules(**{**RULES.__dict__, "horizon_working_days": 200})
    assert engine.slot_violations(far, at(9, 22, 9), at(9, 22, 10), c) == []
