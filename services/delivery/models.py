"""Delivery tables: the local copy of institutions (from registry events), the report registry
with its verifications, samples with their chain of custody, and the metrology ledger.

The institution copy is a read model: only `institutions.apply_registry_event` writes it
(delivery never reads the registry's database). migrations/delivery_0001 creates exactly
these tables; change both together.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import new_id, utcnow
from services.common.pii import EncryptedText


class Base(DeclarativeBase):
    """Metadata of the delivery service's own tables."""


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


# -- institutions (read model of registry events) ---------------------------------------------
class KnownInstitution(Base):
    __tablename__ = "known_institution"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)   # active | deregistered
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(30), nullable=False, default="other")
    qualifications: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON
    capabilities: Mapped[str] = mapped_column(Text, nullable=False, default="[]")     # JSON
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class KnownAccount(Base):
    """Accounts announced by identity's `user.registered` (ids, roles, nicknames only: no personal data)."""

    __tablename__ = "known_account"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    nickname: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


# -- report registry ------------------------------------------------------------------------------
class Report(Base):
    __tablename__ = "report"
    __table_args__ = (Index("ix_report_institution", "institution_id", "registered_at"),
                      Index("ix_report_enterprise", "enterprise_id", "registered_at"),
                      Index("ix_report_sha", "pdf_sha256"))

    id: Mapped[str] = _id()
    number: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False)
    institution_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    enterprise_id: Mapped[str] = mapped_column(String(64), nullable=False)
    product: Mapped[str] = mapped_column(String(200), nullable=False)
    item: Mapped[str | None] = mapped_column(String(200), nullable=True)
    standards: Mapped[str] = mapped_column(Text, nullable=False, default="[]")     # JSON list
    test_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    conclusion: Mapped[str] = mapped_column(Text, nullable=False)
    marks: Mapped[str] = mapped_column(Text, nullable=False, default="[]")         # JSON list
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="test")
    instrument_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    pdf_stored: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(String(20), nullable=False)                 # in_scope | flagged
    scope_flags: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list of {code, zh, en}
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="valid")
    supersedes: Mapped[str | None] = mapped_column(String(40), nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    verification_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    acceptance_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    retests_avoided: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    registered_by: Mapped[str] = mapped_column(String(64), nullable=False)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    @property
    def flag_list(self) -> list[dict]:
        return json.loads(self.scope_flags or "[]")

    @property
    def standard_list(self) -> list[str]:
        return json.loads(self.standards or "[]")

    @property
    def mark_list(self) -> list[str]:
        return json.loads(self.marks or "[]")


class Verification(Base):
    """One successful verification; a contact left (encrypted, masked) is told of a withdrawal."""

    __tablename__ = "report_verification"
    __table_args__ = (Index("ix_verification_report", "report_id", "at"),)

    id: Mapped[str] = _id()
    report_id: Mapped[str] = mapped_column(String(36), nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    result: Mapped[str] = mapped_column(String(20), nullable=False)
    contact: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    contact_masked: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class VerificationFailure(Base):
    """A refused verification (wrong code or unknown number), keyed by an HMAC of the client network."""

    __tablename__ = "verification_failure"
    __table_args__ = (Index("ix_verification_failure", "network_key", "at"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network_key: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Acceptance(Base):
    """A party (an agency, a buyer) accepted the report for a purpose: a re-test avoided or not."""

    __tablename__ = "report_acceptance"
    __table_args__ = (Index("ix_acceptance_report", "report_id", "at"),)

    id: Mapped[str] = _id()
    report_id: Mapped[str] = mapped_column(String(36), nullable=False)
    party: Mapped[str] = mapped_column(String(200), nullable=False)
    purpose: Mapped[str] = mapped_column(String(500), nullable=False)
    retest_avoided: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Notification(Base):
    """A notification recorded for sending (a verifier's contact, or an enterprise account)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_account", "account_id", "created_at"),)

    id: Mapped[str] = _id()
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    contact_masked: Mapped[str | None] = mapped_column(String(100), nullable=True)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    text_zh: Mapped[str] = mapped_column(Text, nullable=False)
    text_en: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


# -- samples and chain of custody ---------------------------------------------------------------
class Manifest(Base):
    """A transport manifest (转运单): samples of one station to one institution."""

    __tablename__ = "manifest"

    id: Mapped[str] = _id()
    number: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    station_id: Mapped[str] = mapped_column(String(64), nullable=False)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    carrier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    seal_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Sample(Base):
    __tablename__ = "sample"
    __table_args__ = (Index("ix_sample_enterprise", "enterprise_id", "created_at"),
                      Index("ix_sample_station", "station_id", "created_at"),
                      Index("ix_sample_institution", "institution_id", "created_at"))

    id: Mapped[str] = _id()
    label_number: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    enterprise_id: Mapped[str] = mapped_column(String(64), nullable=False)
    station_id: Mapped[str] = mapped_column(String(64), nullable=False)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False)
    demand_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    manifest_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    report_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    delivered_to: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    delivered_to_masked: Mapped[str | None] = mapped_column(String(100), nullable=True)
    delivered_how: Mapped[str | None] = mapped_column(String(20), nullable=True)
    retention_rule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    open_exceptions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class SampleItem(Base):
    __tablename__ = "sample_item"
    __table_args__ = (Index("ix_sample_item_sample", "sample_id", "position"),)

    id: Mapped[str] = _id()
    sample_id: Mapped[str] = mapped_column(String(36), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit: Mapped[str] = mapped_column(String(20), nullable=False, default="件")
    condition: Mapped[str] = mapped_column(String(20), nullable=False)
    photos: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list of file refs


class CustodyStep(Base):
    """One completed handover or step, recorded by the receiving side."""

    __tablename__ = "custody_step"
    __table_args__ = (Index("ix_custody_sample", "sample_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sample_id: Mapped[str] = mapped_column(String(36), nullable=False)
    step: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    place: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    seal_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    condition: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_role: Mapped[str] = mapped_column(String(20), nullable=False)


class SampleException(Base):
    __tablename__ = "sample_exception"
    __table_args__ = (Index("ix_sample_exception_sample", "sample_id", "at"),)

    id: Mapped[str] = _id()
    sample_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    step: Mapped[str] = mapped_column(String(20), nullable=False)
    raised_by: Mapped[str] = mapped_column(String(64), nullable=False)
    raised_role: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


# -- metrology ledger ----------------------------------------------------------------------------
class Instrument(Base):
    __tablename__ = "instrument"
    __table_args__ = (UniqueConstraint("enterprise_id", "serial", name="uq_instrument_serial"),
                      Index("ix_instrument_due", "status", "next_due"))

    id: Mapped[str] = _id()
    enterprise_id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    serial: Mapped[str] = mapped_column(String(100), nullable=False)
    measuring_range: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    accuracy_class: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    custodian: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    custodian_masked: Mapped[str | None] = mapped_column(String(100), nullable=True)
    abc_class: Mapped[str] = mapped_column(String(1), nullable=False)
    compulsory: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    control: Mapped[str] = mapped_column(String(20), nullable=False)
    interval_months: Mapped[int] = mapped_column(Integer, nullable=False)
    cert_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cert_institution: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cert_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    next_due: Mapped[dt.date | None] = mapped_column(Date, nullable=True)   # derived: cert_date + interval
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    reminders_sent: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # thresholds, this cycle
    demand_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
