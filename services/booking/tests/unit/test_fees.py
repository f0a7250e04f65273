"""Fees: actual use by the slot increment, price group rate, minimum charge; cancellation charges."""
from decimal import Decimal

from services.booking import fees


def test_usage_is_billed_by_increment_and_never_below_the_minimum():
    assert fees.billed_minutes(70, 30) == 90
    assert fees.usage_fee(70, "200.00", "100.00", 30) == Decimal("300.00")
    assert fees.usage_fee(10, "200.00", "100.00", 30) == Decimal("100.00")
    assert fees.usage_fee(45, "133.33", "0", 15) == Decimal("100.00")   # 133.33 * 0.75 = 99.9975 -> 100.00
    assert isinstance(fees.usage_fee(60, "1", "0", 60), Decimal)


def test_cancellations():
    assert fees.cancellation_fee("user", False, False, 120, "200", "100", 30) == (Decimal("0.00"), "free_before_deadline")
    assert fees.cancellation_fee("user", True, False, 120, "200", "100", 30) == (Decimal("400.00"), "late_cancellation")
    assert fees.cancellation_fee("user", True, True, 120, "200", "100", 30)[0] == Decimal("0.00")
    for by in ("institution", "fault"):
        assert fees.cancellation_fee(by, True, False, 120, "200", "100", 30)[0] == Decimal("0.00")
