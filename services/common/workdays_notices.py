"""Holiday notice files: the State Council's yearly notice as data (format in services.common.workdays).

Re-exported by services.common.workdays.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class NoticeInvalid(ValueError):
    """A notice file that must not be used."""


@dataclass(frozen=True)
class YearData:
    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    origin: str          # "notice" or "library"
    source: str
    version: int | None = None
    published: str | None = None


def _parse_date(value, field: str) -> dt.date:
    if not isinstance(value, str):
        raise NoticeInvalid(f"{field}: expected an ISO date string, got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise NoticeInvalid(f"{field}: not an ISO date (YYYY-MM-DD): {value!r}") from None


def parse_notice(data) -> YearData:
    """Validate a notice document; raises NoticeInvalid naming the first problem."""
    if not isinstance(data, dict):
        raise NoticeInvalid("the notice must be a JSON object")
    missing = [k for k in ("year", "source", "version", "published", "holidays", "workdays") if k not in data]
    if missing:
        raise NoticeInvalid(f"missing field(s): {', '.join(missing)}")
    year = data["year"]
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise NoticeInvalid(f"year: expected an integer between 2000 and 2100, got {year!r}")
    source = data["source"]
    if not isinstance(source, str) or not source.strip():
        raise NoticeInvalid("source: the notice reference (e.g. 国办发明电〔2026〕N号) is required")
    version = data["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise NoticeInvalid(f"version: expected a positive integer, got {version!r}")
    published = _parse_date(data["published"], "published")
    days: dict[str, list[dt.date]] = {}
    for field in ("holidays", "workdays"):
        values = data[field]
        if not isinstance(values, list):
            raise NoticeInvalid(f"{field}: expected a list of dates")
        parsed = [_parse_date(v, f"{field}[{i}]") for i, v in enumerate(values)]
        outside = [d for d in parsed if d.year != year]
        if outside:
            raise NoticeInvalid(f"{field}: {outside[0].isoformat()} is not in {year}")
        if len(set(parsed)) != len(parsed):
            raise NoticeInvalid(f"{field}: duplicate dates")
        days[field] = parsed
    if not days["holidays"]:
        # Every year has at least New Year's Day; an empty list is a truncated file.
        raise NoticeInvalid("holidays: empty list")
    both = set(days["holidays"]) & set(days["workdays"])
    if both:
        raise NoticeInvalid(f"{min(both).isoformat()} is listed both as holiday and as workday")
    weekdays = [d for d in days["workdays"] if d.weekday() < 5]
    if weekdays:
        # A weekday is a working day anyway; listing one means the file is mixed up.
        raise NoticeInvalid(f"workdays: {weekdays[0].isoformat()} is a weekday, only weekend days belong here")
    return YearData(year=year, holidays=frozenset(days["holidays"]), workdays=frozenset(days["workdays"]),
                    origin="notice", source=source.strip(), version=version, published=published.isoformat())


def notice_document(data: YearData) -> dict:
    return {"year": data.year, "source": data.source, "version": data.version, "published": data.published,
            "holidays": sorted(d.isoformat() for d in data.holidays),
            "workdays": sorted(d.isoformat() for d in data.workdays)}
