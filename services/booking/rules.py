"""The one rule engine: what the availability page shows and what a booking request is judged by.

Pure: no database, no clock of its own. Times are naive UTC datetimes; opening
hours and days are judged in Asia/Shanghai. The calendar (PRC holidays and 调休
working days) comes in as two functions so tests can pass their own.

    slot_violations(...)     the time-based rules of one interval (both callers)
    request_violations(...)  those over the whole request, plus grid, duration, weekly limit,
                             qualification and mode (the booking request only adds these)
    availability(...)        every slot of a date range: free, held, booked or closed, with rule ids

A request is accepted if and only if it violates nothing; every slot it covers is
then shown free to the same user (tests/unit/test_rules.py checks both ways).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIT_MINUTES = 15           # the slot-claim unit: every slot length, increment and buffer is a multiple
MAX_RANGE_DAYS = 31

# rule id -> (中文, English)
MESSAGES = {
    "time.past": ("时段已过", "The slot has already started"),
    "instrument.withdrawn": ("仪器已下架", "The instrument is withdrawn"),
    "calendar.weekend": ("周末不开放", "Closed at weekends"),
    "calendar.holiday": ("法定节假日不开放", "Closed on public holidays"),
    "calendar.gap": ("该年度节假日安排尚未发布，暂不可预约", "The holiday notice for that year is not loaded yet"),
    "hours.outside": ("不在开放时间内", "Outside opening hours"),
    "notice.too_short": ("须至少提前 {n} 个工作日预约", "Book at least {n} working day(s) ahead"),
    "horizon.too_far": ("最多可提前 {n} 个工作日预约", "Bookable at most {n} working day(s) ahead"),
    "blackout": ("停机：{reason}", "Unavailable: {reason}"),
    "calibration.overdue": ("仪器校准已过期（应于 {due} 前校准）", "Calibration overdue (was due {due})"),
    "slot.booked": ("时段已被预约", "The slot is booked"),
    "slot.held": ("时段已被待审批的申请占用", "The slot is held by a request awaiting approval"),
    "user.suspended": ("因多次爽约，预约资格暂停至 {until}", "Booking suspended after no-shows until {until}"),
    "limit.weekly": ("超出每人每周 {n} 分钟的预约上限", "Over the weekly limit of {n} minutes per user"),
    "grid.misaligned": ("起止时间须按 {n} 分钟时段对齐", "Start and end must fall on the {n}-minute grid"),
    "duration.too_short": ("单次预约至少 {n} 分钟", "A booking lasts at least {n} minutes"),
    "duration.too_long": ("单次预约至多 {n} 分钟", "A booking lasts at most {n} minutes"),
    "qualification.missing": ("需具备上机资质；可改为预约机组人员操作（operator-assisted）",
                              "A qualification is needed; book operator-assisted use instead"),
    "qualification.missing_no_assist": ("需具备上机资质，该仪器不提供代操作",
                                        "A qualification is needed and the instrument offers no assisted use"),
    "qualification.expired": ("上机资质已于 {date} 过期（{why}）；可改为预约机组人员操作",
                              "The qualification expired on {date} ({why}); book operator-assisted use instead"),
    "qualification.expired_no_assist": ("上机资质已于 {date} 过期（{why}），该仪器不提供代操作",
                                        "The qualification expired on {date} ({why}); the instrument offers no "
                                        "assisted use"),
    "assisted.not_offered": ("该仪器不提供机组人员代操作", "The instrument offers no operator-assisted use"),
}
# Why a qualification lapsed, per the instrument's expiry rule (both languages in one phrase each)
EXPIRY_WHY = {"fixed_months": ("授予满 {n} 个月", "{n} months after the grant"),
              "idle_days": ("连续 {n} 天未使用", "{n} days without use")}
OCCUPANCY_RULES = ("slot.booked", "slot.held")


@dataclass(frozen=True)
class Violation:
    rule: str
    zh: str
    en: str

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"

    def view(self) -> dict:
        return {"rule": self.rule, "message": self.message, "message_zh": self.zh, "message_en": self.en}


def violation(rule: str, **values) -> Violation:
    zh, en = MESSAGES[rule]
    return Violation(rule, zh.format(**values), en.format(**values))


@dataclass(frozen=True)
class InstrumentRules:
    slot_minutes: int = 60
    min_minutes: int = 60
    max_minutes: int = 480
    buffer_minutes: int = 0
    notice_working_days: int = 1
    horizon_working_days: int = 20
    weekly_limit_minutes: int | None = None
    opening_hours: dict = field(default_factory=dict)   # isoweekday (1..7, as str or int) -> [["08:30","17:30"]]
    calibration_due: dt.date | None = None
    qualification_required: bool = False
    operator_assisted: bool = False
    published: bool = True
    qualification_expiry: str = "fixed_months"   # or "idle_days": N days without use (a completed booking renews)
    qualification_months: int = 12
    qualification_idle_days: int = 180

    def periods(self, weekday: int) -> list[tuple[int, int]]:
        """Opening periods of a weekday as minutes after local midnight."""
        raw = self.opening_hours.get(str(weekday), self.opening_hours.get(weekday, []))
        return [(_minutes(a), _minutes(b)) for a, b in raw]


@dataclass(frozen=True)
class Interval:
    start: dt.datetime
    end: dt.datetime
    kind: str = ""           # occupancy: "held" or "booked"; blackout: its kind
    reason: str = ""
    ref: str | None = None   # booking or blackout id


@dataclass(frozen=True)
class Grant:
    """A user's qualification on the instrument: when granted, its fixed expiry, when last used."""
    granted_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None = None


@dataclass
class Context:
    now: dt.datetime
    is_working_day: Callable[[dt.date], bool]
    add_working_days: Callable[[dt.date, int], dt.date]
    occupancy: list[Interval] = field(default_factory=list)   # other bookings' claimed intervals (end incl. buffer)
    blackouts: list[Interval] = field(default_factory=list)
    week_minutes: dict | None = None     # the user's booked minutes by (iso year, iso week); None: anonymous
    suspended_until: dt.datetime | None = None
    qualified: bool | None = None        # None: anonymous (not judged); superseded by `grants` when given
    grants: list[Grant] | None = None    # the user's qualifications on this instrument (None: anonymous)


class CalendarMissing(Exception):
    """Raised by a context's calendar functions for a year without a notice."""


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def local(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc).astimezone(SHANGHAI)


def to_utc(local_dt: dt.datetime) -> dt.datetime:
    return local_dt.astimezone(dt.timezone.utc).replace(tzinfo=None)


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


def _calendar(ctx: Context, day: dt.date) -> list[Violation]:
    from services.common.errors import CalendarYearMissing
    try:
        if ctx.is_working_day(day):
            return []
    except (CalendarYearMissing, CalendarMissing):
        return [violation("calendar.gap")]
    return [violation("calendar.weekend" if day.isoweekday() >= 6 else "calendar.holiday")]


def _window(rules: InstrumentRules, ctx: Context) -> tuple[dt.date | None, dt.date | None, bool]:
    """(earliest, latest) bookable local dates and whether the calendar could answer the notice.

    A horizon reaching a year without a holiday notice is no limit inside the covered years (every
    covered day lies before it); the days of the uncovered year are closed by `calendar.gap` anyway.
    """
    from services.common.errors import CalendarYearMissing
    today = local(ctx.now).date()
    try:
        earliest = ctx.add_working_days(today, rules.notice_working_days) if rules.notice_working_days else today
    except (CalendarYearMissing, CalendarMissing):
        return None, None, False
    try:
        latest = ctx.add_working_days(today, rules.horizon_working_days)
    except (CalendarYearMissing, CalendarMissing):
        latest = None
    return earliest, latest, True


def slot_violations(rules: InstrumentRules, start: dt.datetime, end: dt.datetime, ctx: Context) -> list[Violation]:
    """Every time-based rule the interval [start, end) breaks (the same for a slot and a request)."""
    out: list[Violation] = []
    if not rules.published:
        out.append(violation("instrument.withdrawn"))
    if start < ctx.now:
        out.append(violation("time.past"))
    ls, le = local(start), local(end)
    day = ls.date()
    out += _calendar(ctx, day)
    start_min = ls.hour * 60 + ls.minute
    end_min = (le - ls.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 60
    if not any(a <= start_min and end_min <= b for a, b in rules.periods(day.isoweekday())):
        out.append(violation("hours.outside"))
    earliest, latest, known = _window(rules, ctx)
    if known:
        if day < earliest:
            out.append(violation("notice.too_short", n=rules.notice_working_days))
        if latest is not None and day > latest:
            out.append(violation("horizon.too_far", n=rules.horizon_working_days))
    elif not any(v.rule == "calendar.gap" for v in out):
        out.append(violation("calendar.gap"))
    for b in ctx.blackouts:
        if overlaps(start, end, b.start, b.end):
            out.append(violation("blackout", reason=b.reason or b.kind))
            break
    if rules.calibration_due is not None and day > rules.calibration_due:
        out.append(violation("calibration.overdue", due=rules.calibration_due.isoformat()))
    claim_end = end + dt.timedelta(minutes=rules.buffer_minutes)
    kinds = {o.kind for o in ctx.occupancy if overlaps(start, claim_end, o.start, o.end)}
    if "booked" in kinds:
        out.append(violation("slot.booked"))
    elif "held" in kinds:
        out.append(violation("slot.held"))
    if ctx.suspended_until is not None and ctx.suspended_until > ctx.now:
        out.append(violation("user.suspended", until=local(ctx.suspended_until).strftime("%Y-%m-%d %H:%M")))
    return out


def week_of(start: dt.datetime) -> tuple[int, int]:
    year, week, _ = local(start).isocalendar()
    return year, week


def weekly_violation(rules: InstrumentRules, start: dt.datetime, minutes: int, ctx: Context) -> list[Violation]:
    if rules.weekly_limit_minutes is None or ctx.week_minutes is None:
        return []
    used = ctx.week_minutes.get(week_of(start), 0)
    if used + minutes > rules.weekly_limit_minutes:
        return [violation("limit.weekly", n=rules.weekly_limit_minutes)]
    return []


def grant_expiry(rules: InstrumentRules, grant: Grant) -> dt.datetime:
    """When a grant lapses under the instrument's rule: its fixed expiry, or N days after the last use."""
    if rules.qualification_expiry == "idle_days":
        return (grant.last_used_at or grant.granted_at) + dt.timedelta(days=rules.qualification_idle_days)
    return grant.expires_at


def qualification_status(rules: InstrumentRules, ctx: Context, start: dt.datetime | None = None) -> dict:
    """The caller's qualification for a use starting at `start` (now by default).

    A fixed expiry must not pass before the use starts; an idle-days expiry is judged now (a use
    completed in between renews it, so the future cannot be judged yet)."""
    out = {"required": rules.qualification_required, "expiry_rule": rules.qualification_expiry,
           "state": "not_required", "expires_at": None}
    if not rules.qualification_required:
        return out
    if ctx.grants is None:
        out["state"] = "unknown" if ctx.qualified is None else ("valid" if ctx.qualified else "missing")
        return out
    if not ctx.grants:
        out["state"] = "missing"
        return out
    expiry = max(grant_expiry(rules, g) for g in ctx.grants)
    moment = ctx.now if rules.qualification_expiry == "idle_days" or start is None else start
    out["expires_at"] = expiry
    out["state"] = "valid" if moment < expiry else "expired"
    return out


def mode_violations(rules: InstrumentRules, start: dt.datetime, ctx: Context, mode: str) -> list[Violation]:
    """Assisted use where none is offered; self use without a valid qualification."""
    if mode == "assisted":
        return [] if rules.operator_assisted else [violation("assisted.not_offered")]
    status = qualification_status(rules, ctx, start)
    assist = rules.operator_assisted
    if status["state"] == "missing":
        return [violation("qualification.missing" if assist else "qualification.missing_no_assist")]
    if status["state"] == "expired":
        why_zh, why_en = EXPIRY_WHY[rules.qualification_expiry]
        n = rules.qualification_idle_days if rules.qualification_expiry == "idle_days" else rules.qualification_months
        rule = "qualification.expired" if assist else "qualification.expired_no_assist"
        zh, en = MESSAGES[rule]
        day = local(status["expires_at"]).date().isoformat()
        return [Violation(rule, zh.format(date=day, why=why_zh.format(n=n)),
                          en.format(date=day, why=why_en.format(n=n)))]
    return []


def request_violations(rules: InstrumentRules, start: dt.datetime, end: dt.datetime, ctx: Context,
                       mode: str = "self") -> list[Violation]:
    """Everything a booking request of [start, end) breaks; empty means it may be booked."""
    out = slot_violations(rules, start, end, ctx)
    minutes = int((end - start).total_seconds() // 60)
    ls = local(start)
    if (ls.hour * 60 + ls.minute) % rules.slot_minutes or minutes % rules.slot_minutes or start.second or end.second:
        out.append(violation("grid.misaligned", n=rules.slot_minutes))
    if minutes < rules.min_minutes:
        out.append(violation("duration.too_short", n=rules.min_minutes))
    if minutes > rules.max_minutes:
        out.append(violation("duration.too_long", n=rules.max_minutes))
    out += weekly_violation(rules, start, minutes, ctx)
    out += mode_violations(rules, start, ctx, mode)
    return out


def only_occupancy(violations: Iterable[Violation]) -> bool:
    """The request breaks nothing but another booking's hold (a 409, not a 422)."""
    rules = [v.rule for v in violations]
    return bool(rules) and all(r in OCCUPANCY_RULES for r in rules)


def display_span(rules: InstrumentRules) -> tuple[int, int]:
    """The day's grid shown on a page: from the earliest opening to the latest closing of the week."""
    periods = [p for d in range(1, 8) for p in rules.periods(d)]
    if not periods:
        return 8 * 60, 18 * 60
    return min(a for a, _ in periods), max(b for _, b in periods)


def availability(rules: InstrumentRules, first: dt.date, last: dt.date, ctx: Context,
                 mode: str | None = None) -> list[dict]:
    """Every slot of the local dates first..last: state free/held/booked/closed and why (for use in
    `mode` when given: the qualification and assisted-use rules then apply as to a request)."""
    span_start, span_end = display_span(rules)
    slots = []
    day = first
    while day <= last:
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        m = span_start - span_start % rules.slot_minutes
        while m + rules.slot_minutes <= span_end:
            start = to_utc(midnight + dt.timedelta(minutes=m))
            end = start + dt.timedelta(minutes=rules.slot_minutes)
            found = slot_violations(rules, start, end, ctx) + weekly_violation(rules, start, rules.slot_minutes, ctx)
            if mode is not None:
                found += mode_violations(rules, start, ctx, mode)
            rule_ids = [v.rule for v in found]
            if "slot.booked" in rule_ids:
                state = "booked"
            elif "slot.held" in rule_ids:
                state = "held"
            elif found:
                state = "closed"
            else:
                state = "free"
            slots.append({"start": start, "end": end, "state": state, "rules": [v.view() for v in found]})
            m += rules.slot_minutes
        day += dt.timedelta(days=1)
    return slots


def claim_units(instrument_start: dt.datetime, end: dt.datetime, buffer_minutes: int) -> list[dt.datetime]:
    """The UNIT_MINUTES units a booking claims: [start, end + buffer)."""
    units = []
    t = instrument_start
    stop = end + dt.timedelta(minutes=buffer_minutes)
    while t < stop:
        units.append(t)
        t += dt.timedelta(minutes=UNIT_MINUTES)
    return units
