"""PRC working-day calendar: the time base of every SLA (DB3212/T 1033-2021 limits).

A working day is a weekday that is not a public holiday, or a weekend day that the
State Council declared a working day (调休). The data comes from two places:

* the `holidays` library, but only for the years listed in
  `<calendar dir>/coverage.json` (falling back to the copy shipped with the code).
  The library also answers for later years, computed from rules and without any
  调休 days; trusting it there would quietly shift deadlines, so those years are
  treated as missing;
* notice files `<calendar dir>/cn-<year>.json` installed by operators once the
  yearly notice (国务院办公厅关于<year>年部分节假日安排的通知) is published. A notice file
  replaces the library for its year.

Any question about an uncovered year raises `CalendarYearMissing` and increments
`qi_calendar_year_missing_total{year}`: a wrong deadline is worse than an error.

Notice file format (all dates ISO, all inside `year`; a weekend workday that the
notice places in the neighbouring year goes into that year's file):

    {"year": 2027, "source": "国办发明电〔2026〕N号", "version": 1,
     "published": "2026-11-12",
     "holidays": ["2027-01-01", ...],   # days off, weekend days in a break may be listed
     "workdays": ["2027-02-20", ...]}   # weekend days that are working days (调休)

    python -m services.common.workdays load cn-2027.json   # validate and install
    python -m services.common.workdays check 2027          # is 2027 usable, from what
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
from prometheus_client import Counter

from . import config
from .errors import CalendarYearMissing
# Notice files (their format and check) live in their own module;
# re-exported here, where callers have always found them.
from .workdays_notices import NoticeInvalid, YearData, _parse_date, notice_document, parse_notice  # noqa: F401

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PACKAGED_COVERAGE = Path(__file__).resolve().parent / "data" / "calendar" / "coverage.json"
END_OF_DAY = dt.time(23, 59, 59, 999999)

CALENDAR_YEAR_MISSING = Counter(
    "qi_calendar_year_missing_total", "Working-day questions about a year without trusted calendar data", ["year"])


def local_date(value) -> dt.date:
    """The Asia/Shanghai calendar day of a date or datetime (naive datetimes are UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


class WorkingDayCalendar:
    # A notice installed while services run must take effect without a restart,
    # but stat-ing a file for every day of every loop would be wasteful.
    RECHECK_SECONDS = 60.0

    def __init__(self, calendar_dir: str | os.PathLike | None = None, covered_years=None):
        self.calendar_dir = Path(calendar_dir) if calendar_dir is not None else config.calendar_dir()
        self._covered = frozenset(covered_years) if covered_years is not None else self._read_coverage()
        self._years: dict[int, tuple[YearData, float | None, float]] = {}
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self._fingerprint_stats: list = []

    # -- data -------------------------------------------------------------------
    def _read_coverage(self) -> frozenset[int]:
        path = self.calendar_dir / "coverage.json"
        if not path.exists():
            path = PACKAGED_COVERAGE
        doc = json.loads(path.read_text(encoding="utf-8"))
        expected = doc.get("holidays_version")
        if expected and expected != holidays.__version__:
            log.warning("calendar coverage %s was verified against holidays %s but %s is installed: "
                        "re-run the cross-check before trusting it", path, expected, holidays.__version__)
        return frozenset(int(y) for y in doc.get("years", []))

    @property
    def covered_years(self) -> frozenset[int]:
        return self._covered

    def notice_path(self, year: int) -> Path:
        return self.calendar_dir / f"cn-{year}.json"

    def _missing(self, year: int, reason: str = "") -> CalendarYearMissing:
        CALENDAR_YEAR_MISSING.labels(str(year)).inc()
        detail = (f"{year} 年节假日安排未载入，无法计算工作日{('（' + reason + '）') if reason else ''}；"
                  f"请载入国务院办公厅通知：python -m services.common.workdays load cn-{year}.json / "
                  f"Working-day calendar for {year} is not loaded{(' (' + reason + ')') if reason else ''}; "
                  f"load the State Council notice with `python -m services.common.workdays load cn-{year}.json`")
        exc = CalendarYearMissing(detail)
        exc.year = year  # local use only (sla.py); not part of the RPC payload
        return exc

    def _load_year(self, year: int, mtime: float | None) -> YearData:
        if mtime is not None:
            path = self.notice_path(year)
            try:
                return parse_notice(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                # A broken override must not fall back to library data it was meant to replace.
                log.error("calendar notice %s is unusable: %s", path, exc)
                raise self._missing(year, f"notice file {path.name} invalid: {exc}") from None
        if year not in self._covered:
            raise self._missing(year)
        lib = holidays.China(years=year)
        return YearData(year=year, holidays=frozenset(d for d in lib if d.year == year),
                        workdays=frozenset(d for d in lib.weekend_workdays if d.year == year),
                        origin="library", source=f"holidays {holidays.__version__}")

    def _notice_mtime(self, year: int) -> float | None:
        try:
            return self.notice_path(year).stat().st_mtime
        except FileNotFoundError:
            return None

    def year_data(self, year: int) -> YearData:
        now = time.monotonic()
        cached = self._years.get(year)
        if cached is not None and now - cached[2] < self.RECHECK_SECONDS:
            return cached[0]
        mtime = self._notice_mtime(year)
        if cached is not None and cached[1] == mtime:
            with self._lock:
                self._years[year] = (cached[0], mtime, now)
            return cached[0]
        data = self._load_year(year, mtime)
        with self._lock:
            self._years[year] = (data, mtime, now)
        return data

    def is_covered(self, year: int) -> bool:
        return year in self._covered or self._notice_mtime(year) is not None

    def fingerprint(self) -> str:
        """A short hash of everything the answers depend on (library years, library
        version, every installed notice's content). Services store it with each SLA
        clock and recompute clocks whose fingerprint differs (services/common/sla.py),
        so loading a notice reaches every service's own database without any service
        reading another's tables. A change also drops the cached years at once, so the
        recompute never runs on data older than the fingerprint it records."""
        paths = sorted(self.calendar_dir.glob("cn-*.json"))
        stats = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue  # replaced while we listed it; the next check sees the new file
            stats.append((path.name, st.st_mtime_ns, st.st_size))
        # Files are only read again when a stat changed: a recompute asks for every clock.
        if self._fingerprint is not None and stats == self._fingerprint_stats:
            return self._fingerprint
        digest = hashlib.sha256()
        digest.update(f"{holidays.__version__}|{sorted(self._covered)}".encode())
        for name, _, _ in stats:
            try:
                digest.update(name.encode() + b"\0" + (self.calendar_dir / name).read_bytes() + b"\0")
            except OSError:
                continue
        value = digest.hexdigest()[:16]
        self._fingerprint_stats = stats
        if value != self._fingerprint:
            with self._lock:
                self._years.clear()
                self._fingerprint = value
        return value

    def covered_through(self, today: dt.date | None = None) -> dt.date | None:
        """The last day of the unbroken run of covered years starting with today's year."""
        year = (today or local_date(dt.datetime.now(dt.timezone.utc))).year
        if not self.is_covered(year):
            return None
        while self.is_covered(year + 1):
            year += 1
        return dt.date(year, 12, 31)

    def covered_days_ahead(self, today: dt.date | None = None) -> int:
        """Days after today that the calendar answers for (0 if today's year is missing)."""
        today = today or local_date(dt.datetime.now(dt.timezone.utc))
        last = self.covered_through(today)
        return 0 if last is None else (last - today).days

    # -- questions -------------------------------------------------------------------
    def is_working_day(self, value) -> bool:
        day = local_date(value)
        data = self.year_data(day.year)
        if day in data.workdays:
            return True
        return day.weekday() < 5 and day not in data.holidays

    def next_working_day(self, value) -> dt.date:
        """The day itself if it is a working day, else the first working day after it."""
        day = local_date(value)
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day

    def add_working_days(self, start, n: int) -> dt.date:
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        day = local_date(start)
        if n == 0:
            return self.next_working_day(day)
        while n:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, a, b) -> int:
        first, last = local_date(a), local_date(b)
        sign = 1
        if last < first:
            first, last, sign = last, first, -1
        count = 0
        day = first
        while day < last:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return sign * count

    def due_instant(self, start, n: int) -> dt.datetime:
        """End of the local due day, as naive UTC (how the platform stores instants)."""
        return _end_of_day(self.add_working_days(start, n))

    def earliest_due_instant(self, start, n: int) -> dt.datetime:
        """A lower bound of `due_instant` that needs no data for missing years.

        Every day of a missing year is taken as a working day, so the true due day
        cannot be earlier (a year only removes working days from the days it has).
        An action before this bound is on time whatever the notice will say; this
        never guesses a due date, it only proves some verdicts without one.
        """
        day = local_date(start)
        remaining = n
        while remaining:
            day += dt.timedelta(days=1)
            if not self.is_covered(day.year) or self.is_working_day(day):
                remaining -= 1
        return _end_of_day(day)

    # -- operators -------------------------------------------------------------------
    def install_notice(self, path: str | os.PathLike) -> YearData:
        """Validate a notice file and copy it (normalised) into the calendar directory."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise NoticeInvalid(f"not valid JSON: {exc}") from None
        data = parse_notice(raw)
        target = self.notice_path(data.year)
        if target.exists():
            try:
                installed = parse_notice(json.loads(target.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                installed = None
            if installed is not None and installed.version > data.version:
                raise NoticeInvalid(f"{target} already holds version {installed.version} of {data.year}; "
                                    f"refusing to replace it with older version {data.version}")
        self.calendar_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(notice_document(data), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        # Readers in other processes must never see a half-written file.
        os.replace(tmp, target)
        with self._lock:
            self._years.pop(data.year, None)
        return data


def _end_of_day(day: dt.date) -> dt.datetime:
    due = dt.datetime.combine(day, END_OF_DAY, tzinfo=SHANGHAI)
    return due.astimezone(dt.timezone.utc).replace(tzinfo=None)


_default: WorkingDayCalendar | None = None
_default_lock = threading.Lock()


def get_calendar() -> WorkingDayCalendar:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = WorkingDayCalendar()
    return _default


def reset_calendar() -> None:
    """Forget the default calendar (tests, or after changing QI_CALENDAR_DIR)."""
    global _default
    with _default_lock:
        _default = None


def is_working_day(value) -> bool:
    return get_calendar().is_working_day(value)


def add_working_days(start, n: int) -> dt.date:
    return get_calendar().add_working_days(start, n)


def working_days_between(a, b) -> int:
    return get_calendar().working_days_between(a, b)


def due_instant(start, n: int) -> dt.datetime:
    return get_calendar().due_instant(start, n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.workdays",
                                     description="PRC working-day calendar: install and check holiday notices")
    parser.add_argument("--dir", help="calendar directory (default: QI_CALENDAR_DIR)")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="validate a notice file and install it as cn-<year>.json")
    load.add_argument("file")
    check = sub.add_parser("check", help="tell whether a year is usable and where its data comes from")
    check.add_argument("year", type=int)
    args = parser.parse_args(argv)
    calendar = WorkingDayCalendar(args.dir)

    if args.command == "load":
        try:
            data = calendar.install_notice(args.file)
        except (NoticeInvalid, OSError) as exc:
            print(f"refused: {args.file}: {exc}", file=sys.stderr)
            return 2
        print(f"installed {calendar.notice_path(data.year)}: {data.year} from {data.source} "
              f"(version {data.version}, published {data.published}), "
              f"{len(data.holidays)} holidays, {len(data.workdays)} weekend workdays")
        return 0

    try:
        data = calendar.year_data(args.year)
    except CalendarYearMissing as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    working = sum(1 for i in range(366)
                  if (day := dt.date(args.year, 1, 1) + dt.timedelta(days=i)).year == args.year
                  and calendar.is_working_day(day))
    origin = (f"notice {data.source} version {data.version} published {data.published}"
              if data.origin == "notice" else f"library {data.source} (listed in coverage.json)")
    print(f"{args.year}: covered by {origin}; {working} working days; "
          f"weekend workdays: {', '.join(sorted(d.isoformat() for d in data.workdays)) or 'none'}")
    return 0


def __getattr__(name):
    # The coverage gauge lives with the other scrape-time gauges (services.common.collectors).
    if name == "CalendarCoverageCollector":
        from .collectors import CalendarCoverageCollector
        return CalendarCoverageCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
