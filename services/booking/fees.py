"""Fees: from actual use, the price group's hourly rate and the minimum charge (Decimal yuan).

Pure functions. Used minutes are billed by the instrument's slot increment, rounded up
(a 70-minute session on a 30-minute grid is billed as 90 minutes); the fee is never
below the minimum charge; cancellations by the institution or for an instrument fault
are never charged; a user's late cancellation is charged for the booked time unless
the slot was booked again.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from services.common.money import CENT, to_money


def billed_minutes(used_minutes: int, increment: int) -> int:
    if used_minutes <= 0:
        return 0
    return int(math.ceil(used_minutes / increment)) * increment


def usage_fee(used_minutes: int, hourly_rate, minimum_charge, increment: int) -> Decimal:
    rate = to_money(hourly_rate)
    amount = (rate * Decimal(billed_minutes(used_minutes, increment)) / Decimal(60)).quantize(CENT, ROUND_HALF_UP)
    return max(amount, to_money(minimum_charge or 0))


def cancellation_fee(cancelled_by: str, late: bool, rebooked: bool, booked_minutes: int, hourly_rate,
                     minimum_charge, increment: int) -> tuple[Decimal, str]:
    """(fee, reason): free before the deadline; institution/fault cancellations never charged."""
    if cancelled_by in ("institution", "fault"):
        return to_money(0), "not_charged_institution_or_fault"
    if not late:
        return to_money(0), "free_before_deadline"
    if rebooked:
        return to_money(0), "slot_rebooked"
    return usage_fee(booked_minutes, hourly_rate, minimum_charge, increment), "late_cancellation"
