"""Vocabularies of the booking slice (the models import them from here)."""
from __future__ import annotations

INSTRUMENT_STATUSES = ("published", "withdrawn")
WITHDRAWN_BY = ("institution", "deregistered", "operator")
BLACKOUT_KINDS = ("maintenance", "calibration", "other")
PRICE_GROUPS = ("park_member", "enterprise", "internal")
PRICE_GROUP_ZH = {"park_member": "园区会员企业", "enterprise": "普通企业", "internal": "本机构人员"}

# requested (awaiting approval, holds its slot) -> confirmed -> checked_in -> completed -> settled
BOOKING_STATUSES = ("requested", "confirmed", "checked_in", "completed", "settled",
                    "rejected", "expired", "cancelled", "no_show")
ACTIVE_BOOKING_STATUSES = ("requested", "confirmed", "checked_in")
HOLDING = ("requested",)                     # shown as "held"
OCCUPYING = ("confirmed", "checked_in", "completed", "settled")   # shown as "booked"
BOOKING_MODES = ("self", "assisted")         # self-service, or operator-assisted use
CANCELLED_BY = ("user", "institution", "fault")
REJECT_REASONS = ("instrument_unavailable", "not_qualified", "purpose_unclear", "schedule_conflict", "other",
                  "approval_expired")
PAYMENT_SOURCES = ("transfer", "cash", "card", "innovation_voucher")

QUALIFICATION_EXPIRY = ("fixed_months", "idle_days")
QUALIFICATION_SOURCES = ("staff", "training")

SLOT_STATES = ("free", "held", "booked", "closed")

APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "cancelled", "no_show")
ACTIVE_APPOINTMENT_STATUSES = ("booked", "checked_in")
