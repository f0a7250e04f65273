"""Field builders, patterns and validators shared by matching's schemas.

Dates travel as ISO strings: a string survives any JSON serializer unchanged.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError

from services.common import fields, validate
from services.common.money import Money

from .standard_numbers import standard_key

# Upper bounds on every number a client sends. Without them a value such as 1e307
# passes validation and overflows later (a Numeric(13, 2) column, an integer
# column on PostgreSQL), which surfaces as a 500 instead of a 422.
YUAN_DIGITS = 10           # below ten billion yuan: far above any testing/certification fee
MAX_CYCLE_DAYS = 3650      # ten years of working days, for filters over capabilities
MAX_DEMAND_CYCLE_DAYS = 365
# Money is a decimal string of yuan (services/common/money.py), stored as Numeric(13, 2).
yuan = lambda **kw: Money(integer_digits=YUAN_DIGITS, **kw)  # noqa: E731
text = lambda n, **kw: fields.String(validate=validate.Length(max=n), **kw)  # noqa: E731
# Descriptions, notes, messages and reasons may hold several lines.
notes = lambda n, **kw: fields.MultilineString(validate=validate.Length(max=n), **kw)  # noqa: E731

# What the document states for a standard number (ASCII spelling; text.standard_key
# accepts every string this matches).
STANDARD_PATTERN = r"^[A-Za-z]{1,4} ?/? ?[TZtz]? ?[0-9]{1,10}(\.[0-9]{1,6}){0,4}( ?- ?[0-9]{2,4})?$"
# Maintaining a standard names one edition: the year is required.
STANDARD_EDITION_PATTERN = r"^[A-Za-z]{1,4} ?/? ?[TZtz]? ?[0-9]{1,10}(\.[0-9]{1,6}){0,4} ?- ?[0-9]{4}$"
ISO_DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
ISO_DATETIME_PATTERN = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                        r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")

EXPLAIN = ("How the score was made, one entry per factor: {factor, value (0..1), weight, contribution "
           "(weight x value, summing to the score), note}")


def iso_date(value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError("日期格式须为 YYYY-MM-DD / YYYY-MM-DD") from None


def iso_datetime(value: str) -> None:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise ValidationError("须为 ISO 8601 日期时间 / ISO 8601 date-time") from None


def _standard(value: str) -> None:
    if not standard_key(value):
        raise ValidationError("不是标准号 / not a standard number, e.g. GB/T 2828.1-2012")


STANDARD = [validate.Length(min=2, max=80),
            validate.Regexp(STANDARD_PATTERN, error="不是标准号，例如 GB/T 2828.1-2012 / not a standard number, "
                                                    "e.g. GB/T 2828.1-2012"), _standard]


class Instant(fields.String):
    """A stored (naive UTC) datetime dumped as ISO 8601 with "Z"; documented as a string, like before."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.datetime):
            value = value.isoformat() + "Z"
        return super()._serialize(value, attr, obj, **kwargs)


class IsoDay(fields.String):
    """A date dumped as YYYY-MM-DD."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.date):
            value = value.isoformat()
        return super()._serialize(value, attr, obj, **kwargs)
