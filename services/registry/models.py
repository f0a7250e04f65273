"""Registry tables: catalogue, guides, stored files, institutions and their reviews, windows.

Lists inside a record (materials, steps, attachments, a submitted application)
are JSON text: they are read and written whole with their record and never
queried by their parts, and JSON text behaves the same on SQLite and PostgreSQL.
The migration registry_0001 creates exactly these tables; change both together.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import utcnow
from services.common.pii import EncryptedText

CATEGORY_CODES = ("standardization", "metrology", "testing", "certification", "quality", "brand", "ip", "other")
KINDS = ("lab", "metrology", "certification", "standardization", "ip_agency", "quality", "brand", "other")
QUALIFICATION_TYPES = ("CMA", "CNAS", "LEGAL_METROLOGY", "CERT_BODY", "OTHER")
QUALIFICATION_STATUSES = ("valid", "expired", "revoked")
INSTITUTION_STATUSES = ("active", "deregistered")
REVIEW_STATUSES = ("submitted", "returned", "approved", "rejected")
WINDOW_KINDS = ("park_station", "institution", "enterprise")


def new_id() -> str:
    return str(uuid.uuid4())


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Metadata of the registry service's own tables."""


class Category(Base):
    __tablename__ = "catalog_category"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False)
    clause: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sort: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class CatalogItem(Base):
    __tablename__ = "catalog_item"
    __table_args__ = (Index("ix_catalog_item_category", "category_code", "sort"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(32), ForeignKey("catalog_category.code"), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(300), nullable=False)
    clause: Mapped[str | None] = mapped_column(String(16), nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    sort: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class GuideVersion(Base):
    """One version of a service guide (办事指南); an edit adds a version, never overwrites."""

    __tablename__ = "guide_version"
    __table_args__ = (UniqueConstraint("item_code", "version", name="uq_guide_item_version"),
                      Index("ix_guide_current", "item_code", "current"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    item_code: Mapped[str] = mapped_column(String(64), ForeignKey("catalog_item.code"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    current: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    acceptance_conditions: Mapped[str] = mapped_column(Text, nullable=False)
    materials: Mapped[str] = mapped_column(Text, nullable=False)          # JSON list
    process_steps: Mapped[str] = mapped_column(Text, nullable=False)      # JSON list
    time_limit_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_limit_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    fees: Mapped[str] = mapped_column(Text, nullable=False)
    channels: Mapped[str] = mapped_column(Text, nullable=False)           # JSON list
    change_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class StoredFile(Base):
    """Metadata of a content-addressed file (the bytes live under data_dir/registry-files)."""

    __tablename__ = "stored_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    media_type: Mapped[str] = mapped_column(String(50), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Application(Base):
    """An onboarding application (R-6.1.1); `payload` is what was last submitted."""

    __tablename__ = "institution_application"
    __table_args__ = (CheckConstraint(_in("status", REVIEW_STATUSES), name="ck_application_status"),
                      Index("ix_application_status", "status", "submitted_at"),
                      Index("ix_application_applicant", "applicant_user_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Allocated at submission so every event and notification names the future institution.
    institution_id: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    applicant_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)            # JSON, files by sha256 only
    legal_representative: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    submissions: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reasons: Mapped[str | None] = mapped_column(Text, nullable=True)      # JSON list
    history: Mapped[str] = mapped_column(Text, nullable=False, default="[]")


class Institution(Base):
    __tablename__ = "institution"
    __table_args__ = (CheckConstraint(_in("status", INSTITUTION_STATUSES), name="ck_institution_status"),
                      CheckConstraint(_in("kind", KINDS), name="ck_institution_kind"),
                      Index("ix_institution_status_name", "status", "name"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    uscc: Mapped[str] = mapped_column(String(18), nullable=False, unique=True)
    region: Mapped[str] = mapped_column(String(50), nullable=False)
    park: Mapped[str | None] = mapped_column(String(100), nullable=True)
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    # A person's name: kept encrypted and out of events and public views.
    legal_representative: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    application_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    applicant_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    deregistered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    deregistration_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    deregistration_forced: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    deregistration_late: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Qualification(Base):
    __tablename__ = "qualification"
    __table_args__ = (CheckConstraint(_in("type", QUALIFICATION_TYPES), name="ck_qualification_type"),
                      CheckConstraint(_in("status", QUALIFICATION_STATUSES), name="ck_qualification_status"),
                      Index("ix_qualification_institution", "institution_id"),
                      Index("ix_qualification_valid_to", "status", "valid_to"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(String(36), ForeignKey("institution.id"), nullable=False)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    number: Mapped[str] = mapped_column(String(100), nullable=False)
    issuer: Mapped[str] = mapped_column(String(200), nullable=False)
    valid_from: Mapped[dt.date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[dt.date] = mapped_column(Date, nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="valid")
    certificate_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expiring_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Capability(Base):
    __tablename__ = "capability"
    __table_args__ = (Index("ix_capability_institution", "institution_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(String(36), ForeignKey("institution.id"), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    item_code: Mapped[str] = mapped_column(String(64), nullable=False)
    product: Mapped[str] = mapped_column(String(200), nullable=False)
    parameter: Mapped[str] = mapped_column(String(200), nullable=False)
    method_standard: Mapped[str] = mapped_column(String(100), nullable=False)
    price_yuan: Mapped[float] = mapped_column(Numeric(12, 2), nullable=False)
    cycle_working_days: Mapped[int] = mapped_column(Integer, nullable=False)
    qualification_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("qualification.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class ChangeRequest(Base):
    """A change of name, address or legal representative (R-6.1.3), reviewed like an application."""

    __tablename__ = "institution_change"
    __table_args__ = (CheckConstraint(_in("status", REVIEW_STATUSES), name="ck_change_status"),
                      Index("ix_change_institution", "institution_id", "submitted_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(String(36), ForeignKey("institution.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # before/after hold name and address in clear and the legal representative
    # encrypted, so the whole JSON is EncryptedText.
    before: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    after: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    changed_fields: Mapped[str] = mapped_column(String(200), nullable=False)
    change_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    late: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    attachments: Mapped[str] = mapped_column(Text, nullable=False)        # JSON
    submitted_by: Mapped[str] = mapped_column(String(64), nullable=False)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    reasons: Mapped[str | None] = mapped_column(Text, nullable=True)


class InstitutionEvent(Base):
    """The institution's history: who did what when (readable by operators and regulators)."""

    __tablename__ = "institution_history"
    __table_args__ = (Index("ix_institution_history", "institution_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[str] = mapped_column(String(36), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)       # JSON, no personal data


class Notification(Base):
    """In-app notification list of a user (review results, R-6.1.2)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Window(Base):
    """A service window (R-4.2): park station, institution window or enterprise window."""

    __tablename__ = "service_window"
    __table_args__ = (CheckConstraint(_in("kind", WINDOW_KINDS), name="ck_window_kind"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    region: Mapped[str] = mapped_column(String(50), nullable=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    contact: Mapped[str] = mapped_column(String(100), nullable=False)     # a desk phone, not a person's mobile
    opening_hours: Mapped[str] = mapped_column(String(200), nullable=False)
    public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    institution_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    services: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list of item codes
    case_info: Mapped[str | None] = mapped_column(Text, nullable=True)          # JSON, enterprise windows
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
