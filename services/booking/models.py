"""Booking tables: the local copy of approved institutions (from registry events), instruments
with their rules, prices and blackouts, bookings with their slot claims, no-shows and
suspensions, qualifications, usage records, notifications, and appointments at institution windows.

The race guarantee lives in the schema: `slot_claim` has one row per instrument and
15-minute unit (primary key), so two bookings of the same time cannot both commit, on
SQLite and PostgreSQL alike; `appointment_day_claim` does the same for "one active
appointment per enterprise, window and day", and a slot's `taken` is raised by a
conditional UPDATE (`taken < capacity`). The migrations booking_0001 and booking_0002 (qualification
codes and expiry rules, training attendances, usage records, notifications, the window and link
copies) create exactly these.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import new_id, one_of, utcnow  # noqa: F401

from .contract.vocabulary import (APPOINTMENT_STATUSES, BLACKOUT_KINDS, BOOKING_MODES, BOOKING_STATUSES,
                                  INSTRUMENT_STATUSES, PRICE_GROUPS)

MONEY = Numeric(13, 2)


class Base(DeclarativeBase):
    """Metadata of the booking service's own tables."""


class KnownInstitution(Base):
    """What booking knows of a registry institution: only from its public events."""
    __tablename__ = "known_institution"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str | None] = mapped_column(String(30), nullable=True)
    park: Mapped[str | None] = mapped_column(String(100), nullable=True)
    region: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)     # active, deregistered, ...
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    capabilities: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON: ids, standards
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Instrument(Base):
    __tablename__ = "instrument"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    category: Mapped[str] = mapped_column(String(30), nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    maker: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    specifications: Mapped[str] = mapped_column(Text, nullable=False, default="{}")   # JSON object
    capability_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list
    standards: Mapped[str] = mapped_column(Text, nullable=False, default="[]")        # JSON list
    station_window_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # park station, or null
    park: Mapped[str | None] = mapped_column(String(100), nullable=True)
    location: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    photo_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # operating rules
    notice_working_days: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    horizon_working_days: Mapped[int] = mapped_column(Integer, nullable=False, default=20)
    slot_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    min_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    max_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=480)
    buffer_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    weekly_limit_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    approval_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    qualification_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    operator_assisted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The qualification it requires, by code: attending a training naming this code grants it
    # (registry training.attended). Expiry: fixed months after the grant, or N days without use.
    qualification_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    qualification_expiry: Mapped[str] = mapped_column(String(20), nullable=False, default="fixed_months")
    qualification_months: Mapped[int] = mapped_column(Integer, nullable=False, default=12)
    qualification_idle_days: Mapped[int] = mapped_column(Integer, nullable=False, default=180)
    opening_hours: Mapped[str] = mapped_column(Text, nullable=False, default="{}")   # JSON weekday -> periods
    calibration_due: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    minimum_charge: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    cancel_deadline_hours: Mapped[int] = mapped_column(Integer, nullable=False, default=24)
    no_show_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=15)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="published")
    withdrawn_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (CheckConstraint(one_of("status", INSTRUMENT_STATUSES), name="ck_instrument_status"),)


class InstrumentPrice(Base):
    __tablename__ = "instrument_price"
    instrument_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    price_group: Mapped[str] = mapped_column(String(20), primary_key=True)
    hourly_rate: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    __table_args__ = (CheckConstraint(one_of("price_group", PRICE_GROUPS), name="ck_price_group"),)


class Blackout(Base):
    __tablename__ = "blackout"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instrument_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (CheckConstraint(one_of("kind", BLACKOUT_KINDS), name="ck_blackout_kind"),)


class Booking(Base):
    __tablename__ = "booking"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instrument_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    price_group: Mapped[str] = mapped_column(String(20), nullable=False)
    mode: Mapped[str] = mapped_column(String(10), nullable=False, default="self")
    purpose: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    approval_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    checkin_code: Mapped[str] = mapped_column(String(12), nullable=False)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    actual_start: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    actual_end: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    fee: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    fee_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    payment_source: Mapped[str | None] = mapped_column(String(30), nullable=True)
    voucher_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    handler_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    series_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)   # iCalendar SEQUENCE
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (CheckConstraint(one_of("status", BOOKING_STATUSES), name="ck_booking_status"),
                      CheckConstraint(one_of("mode", BOOKING_MODES), name="ck_booking_mode"),
                      Index("ix_booking_instrument_time", "instrument_id", "starts_at"))


class SlotClaim(Base):
    """One row per instrument and 15-minute unit an active booking occupies (its end plus buffer)."""
    __tablename__ = "slot_claim"
    instrument_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unit_start: Mapped[dt.datetime] = mapped_column(DateTime, primary_key=True)
    booking_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)


class NoShow(Base):
    __tablename__ = "no_show"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    subject_type: Mapped[str] = mapped_column(String(20), nullable=False)   # booking, appointment
    subject_id: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class Suspension(Base):
    __tablename__ = "suspension"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    until: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    no_shows: Mapped[int] = mapped_column(Integer, nullable=False)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The user's appeal and the operators' decision (services.booking.suspensions).
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decision: Mapped[str | None] = mapped_column(String(10), nullable=True)   # lifted, upheld
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class UserQualification(Base):
    """A qualification to use an instrument: granted by staff, or by attending a training.

    `expires_at` is the fixed expiry of the grant; under an instrument's "idle_days" rule the
    engine judges from `last_used_at` (a completed booking renews it) instead."""
    __tablename__ = "user_qualification"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    instrument_id: Mapped[str] = mapped_column(String(36), nullable=False)
    granted_by: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="staff")   # staff, training
    training_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class KnownAttendance(Base):
    """A training attendance naming a qualification code (registry training.attended): kept so an
    instrument that starts requiring the code later grants it to those who attended."""
    __tablename__ = "known_attendance"
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    qualification_code: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    attended_on: Mapped[dt.date] = mapped_column(Date, nullable=False)


class UsageRecord(Base):
    """Actual use of an instrument (start, stop) as the institution recorded it.

    Linked to the booking it served, or a walk-in: `booking_id` null means used without a
    booking, flagged for the institution to reconcile."""
    __tablename__ = "usage_record"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instrument_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    booking_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    started_by: Mapped[str] = mapped_column(String(64), nullable=False)
    stopped_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (Index("ix_usage_record_instrument_time", "instrument_id", "started_at"),)


class BookingNotification(Base):
    """An in-app notice to a user (waitlist offers and their expiry), listed through the API."""
    __tablename__ = "booking_notification"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(36), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AppointmentSlot(Base):
    __tablename__ = "appointment_slot"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    window_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    taken: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    service_items: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list of item codes
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (CheckConstraint("taken >= 0 AND taken <= capacity", name="ck_slot_taken"),
                      Index("ix_appointment_slot_window_time", "window_id", "starts_at", unique=True))


class Appointment(Base):
    __tablename__ = "appointment"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slot_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    window_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    service_item: Mapped[str] = mapped_column(String(64), nullable=False)
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    demand_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    handler_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (CheckConstraint(one_of("status", APPOINTMENT_STATUSES), name="ck_appointment_status"),)


class AppointmentDayClaim(Base):
    """One active appointment per enterprise, window and local day (the primary key says so)."""
    __tablename__ = "appointment_day_claim"
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    appointment_id: Mapped[str] = mapped_column(String(36), nullable=False)


class WaitlistEntry(Base):
    """A user waiting for a taken time; when it frees, the first in line gets an offer held 2 hours."""
    __tablename__ = "waitlist_entry"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instrument_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    mode: Mapped[str] = mapped_column(String(10), nullable=False, default="self")
    price_group: Mapped[str] = mapped_column(String(20), nullable=False, default="enterprise")
    status: Mapped[str] = mapped_column(String(20), nullable=False)   # waiting, offered, accepted, lapsed, cancelled
    offered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    offer_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    booking_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class CalendarFeed(Base):
    """A private, revocable iCalendar feed: a user's bookings or an instrument's (the token is the secret)."""
    __tablename__ = "calendar_feed"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)   # user, instrument
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    instrument_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class KnownWindow(Base):
    """The service items a window serves, from the registry's window.services_changed (a local copy)."""
    __tablename__ = "known_window"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    services: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list of item codes
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class KnownLink(Base):
    """A demand (matching) or an enterprise-window case (registry) an appointment may serve: whose it
    is and whether it is still open, from their events (a local copy)."""
    __tablename__ = "known_link"
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)     # demand, case
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
