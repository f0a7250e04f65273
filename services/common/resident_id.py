"""Resident ID numbers (GB 11643-1999): structure, check digit, birth date, region code.

Why not `stdnum.cn.ric.validate`: it refuses a number whose region code was
created after the birth year (e.g. Taizhou's 3212xx codes date from 1996), on
the idea that the code is assigned at birth. It is not: the code is the
registering authority's code when the card number is issued or re-issued, so
everyone born in Hailing before 1996 carries 321202 and stdnum refuses them.

What is checked here:

* structure: 18 characters, 17 digits and a check character (digit or X);
* the GB 11643 / ISO 7064 MOD 11-2 check character;
* a real birth date (YYYYMMDD, e.g. no 30 February), not in the future and not
  more than MAX_AGE_YEARS ago;
* the region code exists in the administrative division data *at any time*
  (abolished codes too: a card issued before an abolition stays valid). The data
  is stdnum's own `cn/loc` table (from the Ministry of Civil Affairs lists), read
  through `stdnum.numdb`, without its birth-date-versus-creation-year check.
"""
from __future__ import annotations

import datetime as dt
import functools

from stdnum import numdb

LENGTH = 18
MAX_AGE_YEARS = 130
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


class InvalidResidentId(ValueError):
    """`reason` is one of: length, format, checksum, birth_date, birth_date_future, birth_date_too_old, region."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@functools.lru_cache(maxsize=1)
def _regions():
    return numdb.get("cn/loc")


@functools.lru_cache(maxsize=4096)
def region_exists(code: str) -> bool:
    """True when the six-digit code is (or was, at any time) an administrative division code."""
    if len(code) != 6 or not code.isdigit():
        return False
    parts = _regions().info(code)
    # info() answers the matched prefix pieces: ("32", {province}), ("1202", {county}).
    # An unknown county suffix comes back with empty properties.
    return len(parts) == 2 and bool(parts[0][1].get("province")) and bool(parts[1][1].get("county"))


def birth_date(number: str) -> dt.date:
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidResidentId("birth_date") from None


def validate(number: str, today: dt.date | None = None) -> str:
    """The number (upper-case X) if valid, else InvalidResidentId with the reason."""
    number = "".join(str(number).split()).upper()
    if len(number) != LENGTH:
        raise InvalidResidentId("length")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidResidentId("format")
    if number[17] != check_character(number[:17]):
        raise InvalidResidentId("checksum")
    born = birth_date(number)
    today = today or dt.date.today()
    if born > today:
        raise InvalidResidentId("birth_date_future")
    try:
        oldest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    if born < oldest:
        raise InvalidResidentId("birth_date_too_old")
    if not region_exists(number[:6]):
        raise InvalidResidentId("region")
    return number
