"""Registry tables: catalogue, guides, stored files, institutions and their reviews, windows.

Lists inside a record (materials, steps, attachments, a submitted application)
are JSON text: they are read and written whole with their record and never
queried by their parts, and JSON text behaves the same on SQLite and PostgreSQL.
The migrations (registry_0001 onwards) create exactly these tables; change models and a new
migration together.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

from services.common.db import utcnow, new_id, one_of as _in  # noqa: F401 (new_id re-exported)
from services.common.pii import EncryptedText

from services.common.vocabulary import CATEGORIES as CATEGORY_CODES  # noqa: F401 (re-exported)
from services.common.vocabulary import INSTITUTION_KINDS as KINDS  # noqa: F401
from services.common.vocabulary import QUALIFICATION_TYPES, WINDOW_KINDS  # noqa: F401

from .contract.vocabulary import (CASE_LOG_KINDS, CASE_ROLES, CASE_STATUSES,  # noqa: F401
                                  INSTITUTION_STATUSES, QUALIFICATION_STATUSES, REVIEW_STATUSES, SIGNUP_STATUSES,
                                  TRAINING_MODES, TRAINING_STATUSES)


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

    item: Mapped[CatalogItem] = relationship(viewonly=True)   # the guide's names come from its item


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

    qualification_id = synonym("id")   # its name in the contract (profiles, events)


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
    # Like an application: returned for supplement, resubmitted (registry_0002).
    submissions: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # The one-month rule is judged on the first submission; a resubmission corrects, it is not late.
    first_submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    history: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list, no personal data


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


class TrainingEvent(Base):
    """A training event (培训) in one catalogue category (clause 5: training in every category)."""

    __tablename__ = "training_event"
    __table_args__ = (CheckConstraint(_in("mode", TRAINING_MODES), name="ck_training_mode"),
                      CheckConstraint(_in("status", TRAINING_STATUSES), name="ck_training_status"),
                      CheckConstraint("capacity >= 1", name="ck_training_capacity"),
                      Index("ix_training_upcoming", "status", "starts_at"),
                      Index("ix_training_category", "category_code", "starts_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    category_code: Mapped[str] = mapped_column(String(32), ForeignKey("catalog_category.code"), nullable=False)
    item_code: Mapped[str | None] = mapped_column(String(64), ForeignKey("catalog_item.code"), nullable=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    mode: Mapped[str] = mapped_column(String(10), nullable=False)
    venue: Mapped[str | None] = mapped_column(String(300), nullable=True)
    online_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    # The qualification attending grants (e.g. "icpms-operation"): booking grants it on every
    # instrument requiring that code when training.attended arrives.
    qualification_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="published")
    # Bumped first thing in every sign-up change: the UPDATE serialises concurrent
    # sign-ups of one event (row lock on PostgreSQL, write lock on SQLite) and its
    # value is the FIFO number of the waiting list.
    queue_counter: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class TrainingSignup(Base):
    """One user's place at one event: confirmed, waiting (FIFO by queue_no) or cancelled."""

    __tablename__ = "training_signup"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_training_signup_user"),
                      CheckConstraint(_in("status", SIGNUP_STATUSES), name="ck_training_signup_status"),
                      Index("ix_training_signup_queue", "event_id", "status", "queue_no"),
                      Index("ix_training_signup_user", "user_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(36), ForeignKey("training_event.id"), nullable=False)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    user_role: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    queue_no: Mapped[int] = mapped_column(Integer, nullable=False)
    signed_up_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    attended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)   # recorded by staff
    attended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class KnownAccount(Base):
    """Accounts announced by identity's `user.registered`: id, role and the public nickname the
    user chose (no personal data), so the participants list names people without calling identity."""

    __tablename__ = "known_account"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    nickname: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class EnterpriseCase(Base):
    """A point-to-point case of an enterprise window (R-4.2.3.1/2), seen only by its enterprise,
    its team and operators."""

    __tablename__ = "enterprise_case"
    __table_args__ = (CheckConstraint(_in("status", CASE_STATUSES), name="ck_enterprise_case_status"),
                      Index("ix_enterprise_case_window", "window_id"),
                      Index("ix_enterprise_case_owner", "enterprise_user_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    window_id: Mapped[str] = mapped_column(String(64), ForeignKey("service_window.id"), nullable=False)
    enterprise_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class EnterpriseCaseMember(Base):
    __tablename__ = "enterprise_case_member"
    __table_args__ = (CheckConstraint(_in("role", CASE_ROLES), name="ck_enterprise_case_member_role"),
                      Index("ix_enterprise_case_member_user", "user_id"))

    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("enterprise_case.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    added_by: Mapped[str] = mapped_column(String(64), nullable=False)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class EnterpriseCaseLog(Base):
    """A log entry of a case: working notes, added and never edited (the API has no edit or delete)."""

    __tablename__ = "enterprise_case_log"
    __table_args__ = (CheckConstraint(_in("kind", CASE_LOG_KINDS), name="ck_enterprise_case_log_kind"),
                      Index("ix_enterprise_case_log", "case_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("enterprise_case.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    summary: Mapped[str] = mapped_column(String(200), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    author_id: Mapped[str] = mapped_column(String(64), nullable=False)
    author_role: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
