"""Resident ID numbers of adults born before their region code existed (issue 8 point 5).

Every number here is built with its check character computed by an independent
implementation of ISO 7064 MOD 11-2 (below) and cross-checked against stdnum's.
"""
from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import ric

from services.common import pii, resident_id
from services.common.errors import ValidationFailed

TODAY = dt.date(2026, 12, 1)


def mod11_2(first17: str) -> str:
    # ISO 7064 MOD 11-2 written out the textbook way, independent of resident_id.check_character.
    remainder = 0
    for digit in first17:
        remainder = (remainder + int(digit)) * 2 % 11
    value = (12 - remainder) % 11
    return "X" if value == 10 else str(value)


def number(body17: str) -> str:
    check = mod11_2(body17)
    assert check == ric.calc_check_digit(body17 + "0") == resident_id.check_character(body17)
    return body17 + check


BORN_1970_HAILING = number("32120219700315123")        # 海陵区, code since 1996
BORN_1958_TAIXING = number("32128319580101004")        # 泰兴市, code since 1996
BORN_1990_JIANGYAN = number("32120419900229" + "001")  # not a leap year: refused below
BORN_1992_JIANGYAN = number("32120419920229001")       # 姜堰区 (2012-), leap day
ABOLISHED_CHONGWEN = number("11010319800101002")       # 崇文区, abolished 2010: old cards stay valid


def test_stdnum_itself_refuses_these_adults():
    # The defect: stdnum's birth-year-versus-region check. If this starts passing,
    # stdnum changed its rule and this module's reason to exist should be re-read.
    assert not ric.is_valid(BORN_1970_HAILING)
    assert not ric.is_valid(BORN_1958_TAIXING)


@pytest.mark.parametrize("value", [BORN_1970_HAILING, BORN_1958_TAIXING, BORN_1992_JIANGYAN, ABOLISHED_CHONGWEN])
def test_adults_born_before_their_region_code_are_accepted(value):
    assert resident_id.validate(value, today=TODAY) == value
    assert pii.check_id_number(value, today=TODAY) == value
    assert pii.check_id_number(value.lower(), today=TODAY) == value


def test_born_1970_with_321202_registers_through_the_schema():
    from services.identity.contract.schemas import RegisterPerson, load

    data = load(RegisterPerson, {"username": "wang.lao", "password": "Correct-Horse-9", "phone": "13700002222",
                                 "nickname": "老王", "real_name": "王老", "id_number": BORN_1970_HAILING})
    assert data["id_number"] == BORN_1970_HAILING


def _reason(value, today=TODAY):
    with pytest.raises(resident_id.InvalidResidentId) as caught:
        resident_id.validate(value, today=today)
    return caught.value.reason


def test_wrong_check_digit_is_refused():
    wrong = BORN_1970_HAILING[:17] + ("0" if BORN_1970_HAILING[17] != "0" else "1")
    assert _reason(wrong) == "checksum"
    with pytest.raises(ValidationFailed) as caught:
        pii.check_id_number(wrong, today=TODAY)
    assert caught.value.status == 422 and "check digit" in caught.value.errors["id_number"][0]
    assert "校验码" in caught.value.errors["id_number"][0]


def test_30_february_is_refused():
    assert _reason(number("32120219800230001")) == "birth_date"
    assert _reason(BORN_1990_JIANGYAN) == "birth_date"  # 1990 was not a leap year


def test_unknown_region_is_refused():
    assert _reason(number("99999919800101001")) == "region"
    assert _reason(number("32129919800101001")) == "region"   # province exists, county does not


def test_future_birth_date_is_refused():
    assert _reason(number("32120220270101001")) == "birth_date_future"
    assert _reason(number("32120220261202001")) == "birth_date_future"
    assert resident_id.validate(number("32120220261201001"), today=TODAY)  # born today: fine


def test_absurdly_old_birth_date_is_refused():
    assert _reason(number("32120218800101001")) == "birth_date_too_old"
    assert resident_id.validate(number("32120218961201001"), today=TODAY)  # 130 today


@pytest.mark.parametrize("value,reason", [("3212021970031512", "length"), ("3212021970031512345", "length"),
                                          ("32120219700315A23X", "format"), ("32120219700315123Y", "format")])
def test_structure(value, reason):
    assert _reason(value) == reason
