import datetime as dt
import json

import chinese_calendar
import pytest
from prometheus_client import REGISTRY

from services.common import workdays
from services.common.errors import CalendarYearMissing
from services.common.workdays import NoticeInvalid, WorkingDayCalendar

D = dt.date

# Made-up test data shaped like a real notice, not the official 2027 arrangement.
NOTICE_2027 = {
    "year": 2027,
    "source": "国办发明电〔2026〕99号（测试）",
    "version": 1,
    "published": "2026-11-12",
    "holidays": ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09",
                 "2027-02-10", "2027-02-11"],
    "workdays": ["2027-02-13"],
}


def missing_count(year):
    return REGISTRY.get_sample_value("qi_calendar_year_missing_total", {"year": str(year)}) or 0.0


@pytest.fixture
def cal(tmp_path):
    return WorkingDayCalendar(tmp_path / "calendar")


def write(path, doc):
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_national_day_2026(cal):
    for day in range(1, 8):
        assert not cal.is_working_day(D(2026, 10, day)), day
    assert cal.is_working_day(D(2026, 9, 20))   # Sunday, 调休
    assert cal.is_working_day(D(2026, 10, 10))  # Saturday, 调休
    assert not cal.is_working_day(D(2026, 9, 19))
    assert cal.is_working_day(D(2026, 10, 8))


def test_add_working_days(cal):
    assert cal.add_working_days(D(2026, 9, 18), 1) == D(2026, 9, 20)
    assert cal.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert cal.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert cal.add_working_days(D(2026, 9, 30), 0) == D(2026, 9, 30)
    assert cal.add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 8)
    with pytest.raises(ValueError):
        cal.add_working_days(D(2026, 9, 30), -1)


def test_datetimes_are_read_in_shanghai_time(cal):
    # 2026-09-30 17:00 UTC is already 2026-10-01 01:00 in Shanghai.
    assert cal.add_working_days(dt.datetime(2026, 9, 30, 17, 0), 0) == D(2026, 10, 8)
    assert cal.add_working_days(dt.datetime(2026, 9, 30, 15, 0), 0) == D(2026, 9, 30)
    aware = dt.datetime(2026, 10, 1, 1, 0, tzinfo=workdays.SHANGHAI)
    assert workdays.local_date(aware) == D(2026, 10, 1)
    assert workdays.local_date(aware.astimezone(dt.timezone.utc)) == D(2026, 10, 1)


def test_working_days_between(cal):
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert cal.working_days_between(D(2026, 10, 10), D(2026, 9, 30)) == -3
    assert cal.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0
    assert cal.working_days_between(D(2026, 10, 8), D(2026, 10, 8)) == 0


def test_due_instant_is_end_of_local_day_in_naive_utc(cal):
    due = cal.due_instant(dt.datetime(2026, 9, 30, 2, 0), 3)
    assert due == dt.datetime(2026, 10, 10, 15, 59, 59, 999999)
    assert due.tzinfo is None


def test_uncovered_year_raises_and_counts(cal):
    assert 2027 not in cal.covered_years
    before = missing_count(2027)
    with pytest.raises(CalendarYearMissing) as info:
        cal.is_working_day(D(2027, 3, 1))
    assert "2027" in info.value.detail
    assert "年" in info.value.detail and "Working-day calendar" in info.value.detail
    assert info.value.status == 503
    assert missing_count(2027) == before + 1
    # Crossing into the uncovered year is refused too, not guessed.
    with pytest.raises(CalendarYearMissing):
        cal.add_working_days(D(2026, 12, 30), 3)
    assert missing_count(2027) == before + 2


def test_loaded_notice_covers_2027(tmp_path, cal):
    src = write(tmp_path / "notice.json", NOTICE_2027)
    data = cal.install_notice(src)
    assert data.year == 2027 and data.origin == "notice"
    assert (cal.calendar_dir / "cn-2027.json").exists()
    assert not cal.is_working_day(D(2027, 2, 8))
    assert cal.is_working_day(D(2027, 2, 13))      # Saturday declared a workday
    assert not cal.is_working_day(D(2027, 2, 14))  # plain Sunday
    assert cal.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert cal.add_working_days(D(2027, 2, 4), 1) == D(2027, 2, 12)


def test_notice_file_picked_up_by_a_fresh_calendar_via_env(tmp_path, monkeypatch):
    caldir = tmp_path / "cal"
    caldir.mkdir()
    write(caldir / "cn-2027.json", NOTICE_2027)
    monkeypatch.setenv("QI_CALENDAR_DIR", str(caldir))
    workdays.reset_calendar()
    try:
        assert workdays.add_working_days(D(2027, 2, 4), 1) == D(2027, 2, 12)
        assert workdays.is_working_day(D(2026, 9, 20))
    finally:
        workdays.reset_calendar()


def test_notice_overrides_library(tmp_path, cal):
    doc = {"year": 2026, "source": "测试", "version": 2, "published": "2025-11-04",
           "holidays": ["2026-01-01", "2026-10-08"], "workdays": []}
    cal.install_notice(write(tmp_path / "n.json", doc))
    assert not cal.is_working_day(D(2026, 10, 8))
    assert not cal.is_working_day(D(2026, 9, 20))  # library's 调休 no longer applies
    assert cal.is_working_day(D(2026, 10, 2))
    older = dict(doc, version=1)
    with pytest.raises(NoticeInvalid, match="older version"):
        cal.install_notice(write(tmp_path / "old.json", older))


@pytest.mark.parametrize("change, message", [
    ({"year": "2027"}, "year"),
    ({"source": ""}, "source"),
    ({"version": 0}, "version"),
    ({"published": "12/11/2026"}, "published"),
    ({"holidays": ["2027-13-01"]}, "holidays"),
    ({"holidays": ["2026-12-31"]}, "not in 2027"),
    ({"holidays": []}, "empty"),
    ({"workdays": ["2027-02-12"]}, "weekday"),
    ({"workdays": ["2027-02-06"]}, "both"),
    ({"holidays": ["2027-01-01", "2027-01-01"]}, "duplicate"),
])
def test_malformed_notice_refused(tmp_path, cal, change, message):
    with pytest.raises(NoticeInvalid, match=message):
        cal.install_notice(write(tmp_path / "bad.json", dict(NOTICE_2027, **change)))
    assert not (cal.calendar_dir / "cn-2027.json").exists()


def test_broken_installed_notice_is_not_silently_ignored(cal):
    cal.calendar_dir.mkdir(parents=True)
    (cal.calendar_dir / "cn-2026.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CalendarYearMissing, match="invalid"):
        cal.is_working_day(D(2026, 10, 8))


def test_cli_load_and_check(tmp_path, capsys):
    caldir = tmp_path / "cal"
    bad = write(tmp_path / "bad.json", dict(NOTICE_2027, workdays=["2027-02-12"]))
    assert workdays.main(["--dir", str(caldir), "load", str(bad)]) == 2
    assert "refused" in capsys.readouterr().err
    assert workdays.main(["--dir", str(caldir), "check", "2027"]) == 1
    good = write(tmp_path / "good.json", NOTICE_2027)
    assert workdays.main(["--dir", str(caldir), "load", str(good)]) == 0
    assert "installed" in capsys.readouterr().out
    assert workdays.main(["--dir", str(caldir), "check", "2027"]) == 0
    assert "国办发明电" in capsys.readouterr().out
    assert workdays.main(["--dir", str(caldir), "check", "2026"]) == 0
    out = capsys.readouterr().out
    assert "2026-09-20" in out and "2026-10-10" in out


def test_agrees_with_chinese_calendar_2020_to_2026(cal):
    disagreements = []
    day = D(2020, 1, 1)
    while day <= D(2026, 12, 31):
        if cal.is_working_day(day) != chinese_calendar.is_workday(day):
            disagreements.append(day.isoformat())
        day += dt.timedelta(days=1)
    assert disagreements == []
