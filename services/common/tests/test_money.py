"""Money (services/common/money.py): Decimal with two places, one JSON string form."""
from decimal import Decimal

import pytest
from marshmallow import Schema, ValidationError

from services.common.money import Money, money_str, to_money


class Priced(Schema):
    price = Money(allow_none=True)
    small = Money(integer_digits=2)


@pytest.mark.parametrize("sent,loaded,dumped", [
    ("1200", Decimal("1200.00"), "1200.00"), ("1200.5", Decimal("1200.50"), "1200.50"),
    ("0", Decimal("0.00"), "0.00"), ("0.10", Decimal("0.10"), "0.10"), ("9999999999.99", Decimal("9999999999.99"),
                                                                         "9999999999.99"),
    (Decimal("300.00"), Decimal("300.00"), "300.00"),  # what the gateway hands the service over RPC
])
def test_the_documented_form_loads_as_decimal_and_dumps_with_two_places(sent, loaded, dumped):
    value = Priced().load({"price": sent})["price"]
    assert value == loaded and isinstance(value, Decimal)
    assert Priced().dump({"price": value}) == {"price": dumped}


@pytest.mark.parametrize("sent", [1200, 12.5, True, "-1", "1.234", "1e3", "01", " 1", "", "NaN", "Infinity",
                                  "10000000000", Decimal("1.234"), Decimal("-1"), [], {}])
def test_anything_else_is_refused(sent):
    with pytest.raises(ValidationError) as refused:
        Priced().load({"price": sent})
    assert "price" in refused.value.messages


def test_bounds_follow_integer_digits():
    assert Priced().load({"small": "99.99"})["small"] == Decimal("99.99")
    with pytest.raises(ValidationError):
        Priced().load({"small": "100"})


def test_sums_are_exact_where_float_drifts():
    assert 0.1 + 0.2 != 0.3 and sum([0.1] * 10) != 1.0
    assert to_money("0.1") + to_money("0.2") == to_money("0.30")
    assert sum(to_money("0.10") for _ in range(10)) == Decimal("1.00")


def test_older_json_numbers_read_through_their_shortest_form():
    assert to_money(650.1) == Decimal("650.10") and money_str(0.1 + 0.2) == "0.30"
    assert money_str(800) == "800.00" and money_str(None) is None and to_money(None) is None
    for bad in (True, "abc", float("nan"), float("inf")):
        with pytest.raises(ValueError):
            to_money(bad)


def test_openapi_sees_a_string_with_its_pattern():
    field = Priced._declared_fields["price"]
    assert field.metadata["type"] == "string" and field.metadata["example"] == "1200.00"
    assert field.pattern.fullmatch("1200.00") and not field.pattern.fullmatch("1200.001")
