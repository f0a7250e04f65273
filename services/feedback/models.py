"""Feedback tables: evaluations (one per finished service) and other assessments,
rectification cases, complaints with their steps and pauses, supervision rules
with history, callbacks, support requests, improvement items and published
quarterly statistics.

feedback_0001 and feedback_0002 create exactly these tables; change them together. Times are naive UTC.
Personal data (a complainant's name and phone) is encrypted (services.common.pii).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import new_id, one_of, utcnow  # noqa: F401
from services.common.pii import EncryptedText

from .contract.vocabulary import (ASSESSMENT_METHODS, COMPLAINT_CHANNELS, COMPLAINT_STATES, EVALUATION_STATES,
                                  RECTIFICATION_STATES)

ID = String(36)
REF = String(64)   # ids of other services' things (accounts, institutions, windows)


class Base(DeclarativeBase):
    """Metadata of the feedback service's own tables."""


class Evaluation(Base):
    """The invitation opened for one finished service, and the customer's rating once given."""

    __tablename__ = "evaluation"
    __table_args__ = (
        UniqueConstraint("service_type", "service_id", name="uq_evaluation_service"),
        CheckConstraint(one_of("state", EVALUATION_STATES), name="ck_evaluation_state"),
        Index("ix_evaluation_enterprise", "enterprise_id", "invited_at"),
        Index("ix_evaluation_institution", "institution_id", "finished_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    service_type: Mapped[str] = mapped_column(String(30), nullable=False)
    service_id: Mapped[str] = mapped_column(REF, nullable=False)
    enterprise_id: Mapped[str] = mapped_column(REF, nullable=False)
    institution_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    window_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    handler_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="invited")
    invited_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    source_event_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    expired_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    channel: Mapped[str | None] = mapped_column(String(10), nullable=True)
    entered_by: Mapped[str | None] = mapped_column(REF, nullable=True)       # staff member for phone / SMS
    call_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    overall: Mapped[str | None] = mapped_column(String(20), nullable=True)
    process: Mapped[str | None] = mapped_column(String(20), nullable=True)
    efficiency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    attitude: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason_tags: Mapped[str] = mapped_column(Text, nullable=False, default="[]")   # JSON list
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)         # the one appended comment
    comment_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # An appeal an operator upheld: out of the statistics, still visible with its reason.
    overturned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    overturn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Assessment(Base):
    """Self-evaluation by the institution or window, or a third party's (7.1.2), of one evaluated service."""

    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "method", name="uq_assessment_method"),
        CheckConstraint(one_of("method", ASSESSMENT_METHODS), name="ck_assessment_method"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    evaluation_id: Mapped[str] = mapped_column(ID, nullable=False)
    method: Mapped[str] = mapped_column(String(12), nullable=False)
    rating: Mapped[str] = mapped_column(String(20), nullable=False)
    assessor_id: Mapped[str] = mapped_column(REF, nullable=False)
    batch: Mapped[str | None] = mapped_column(String(100), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Rectification(Base):
    """The case a dissatisfied evaluation opens: verify, rectify or explain (or appeal), re-check, call back."""

    __tablename__ = "rectification"
    __table_args__ = (CheckConstraint(one_of("state", RECTIFICATION_STATES), name="ck_rectification_state"),
                      Index("ix_rectification_state", "state", "opened_at"))

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    evaluation_id: Mapped[str] = mapped_column(ID, nullable=False, unique=True)
    institution_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="opened")
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    cause_analysis: Mapped[str | None] = mapped_column(Text, nullable=True)
    acted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)       # rectified or explained
    acted_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    measures: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    appealed_from: Mapped[str | None] = mapped_column(String(12), nullable=True)
    appeal_decision: Mapped[str | None] = mapped_column(String(12), nullable=True)      # overturned | rejected
    appeal_decided_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    rechecked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rechecked_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    recheck_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    called_back_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    callback_result: Mapped[str | None] = mapped_column(String(20), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Step(Base):
    """Every step of a rectification or complaint: who, when, what (no personal data)."""

    __tablename__ = "case_step"
    __table_args__ = (Index("ix_case_step_case", "case_type", "case_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_type: Mapped[str] = mapped_column(String(20), nullable=False)   # rectification | complaint | support
    case_id: Mapped[str] = mapped_column(ID, nullable=False)
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    actor_id: Mapped[str] = mapped_column(REF, nullable=False)
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Complaint(Base):
    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint(one_of("state", COMPLAINT_STATES), name="ck_complaint_state"),
        CheckConstraint(one_of("channel", COMPLAINT_CHANNELS), name="ck_complaint_channel"),
        Index("ix_complaint_state", "state", "created_at"),
        Index("ix_complaint_institution", "institution_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # TS-YYYYMMDD-NNNN; a day past its 9,999th complaint goes on with five digits (20 leaves room).
    number: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    complainant_id: Mapped[str | None] = mapped_column(REF, nullable=True)        # the account, if any
    complainant_name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    complainant_phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    institution_id: Mapped[str] = mapped_column(REF, nullable=False)
    type: Mapped[str] = mapped_column(String(30), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    requests: Mapped[str | None] = mapped_column(Text, nullable=True)
    link_type: Mapped[str | None] = mapped_column(String(10), nullable=True)
    link_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="received")
    waiting: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)   # for the complainant
    created_by: Mapped[str] = mapped_column(REF, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    investigated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    forwarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    returned_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    return_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    return_decision: Mapped[str | None] = mapped_column(String(12), nullable=True)   # accepted | refused
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    outcome_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    told_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    told_channel: Mapped[str | None] = mapped_column(String(10), nullable=True)
    satisfaction: Mapped[str | None] = mapped_column(String(20), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    merged_into: Mapped[str | None] = mapped_column(ID, nullable=True)
    handler_id: Mapped[str | None] = mapped_column(REF, nullable=True)


class ComplaintPause(Base):
    """A stretch of waiting for the complainant: the clock does not run (kept as an interval, audited)."""

    __tablename__ = "complaint_pause"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    complaint_id: Mapped[str] = mapped_column(ID, nullable=False, index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    started_by: Mapped[str] = mapped_column(REF, nullable=False)
    ended_by: Mapped[str | None] = mapped_column(REF, nullable=True)


class ComplaintCounter(Base):
    """The last acceptance number given on a day (Asia/Shanghai), taken under a row lock."""

    __tablename__ = "complaint_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)   # YYYYMMDD
    last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class SupervisionRule(Base):
    """Who handles a complaint type, its reply limit and escalation (6.5.1): data operators edit."""

    __tablename__ = "supervision_rule"

    complaint_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    handler_role: Mapped[str] = mapped_column(String(20), nullable=False)
    reply_rule: Mapped[str] = mapped_column(String(100), nullable=False)
    reply_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)   # None: the SLA rule's limit
    escalate_to: Mapped[str] = mapped_column(String(20), nullable=False)
    escalate_after_working_days: Mapped[int] = mapped_column(Integer, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_by: Mapped[str] = mapped_column(REF, nullable=False)


class SupervisionRuleVersion(Base):
    __tablename__ = "supervision_rule_version"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_type: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)            # JSON of the rule as it became
    changed_by: Mapped[str] = mapped_column(REF, nullable=False)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class StatisticsPublication(Base):
    """A published quarter (定期公示): the figures as published, never recomputed."""

    __tablename__ = "statistics_publication"
    __table_args__ = (UniqueConstraint("year", "quarter", name="uq_statistics_quarter"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    quarter: Mapped[int] = mapped_column(Integer, nullable=False)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    published_by: Mapped[str] = mapped_column(REF, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)   # JSON


class Callback(Base):
    """A callback task (6.4.2): who is called about what, the script, tries and outcome."""

    __tablename__ = "callback"
    __table_args__ = (Index("ix_callback_state", "state", "created_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    subject_type: Mapped[str] = mapped_column(String(20), nullable=False)   # evaluation | complaint | rectification
    subject_id: Mapped[str] = mapped_column(ID, nullable=False)
    reason: Mapped[str] = mapped_column(String(20), nullable=False)         # dissatisfied | complaint | sample
    enterprise_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    institution_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="open")   # open | done
    tries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    outcome: Mapped[str | None] = mapped_column(String(12), nullable=True)  # reached | unreachable | reopened
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class SupportRequest(Base):
    """A technical support request (4.1.4 c)."""

    __tablename__ = "support_request"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(REF, nullable=False, index=True)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    page: Mapped[str | None] = mapped_column(String(300), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="open")   # open | resolved
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(REF, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Improvement(Base):
    """An improvement plan item (7.2.1) or a joint assessment (7.2.2, kind=assessment) with its findings."""

    __tablename__ = "improvement"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)     # plan_item | assessment
    source: Mapped[str] = mapped_column(String(20), nullable=False)   # statistics | complaint | callback | joint
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    institution_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    linked_id: Mapped[str | None] = mapped_column(ID, nullable=True)  # an assessment's plan item, or a source id
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="open")   # open | done | rechecked
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    recheck_result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(REF, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class InstitutionName(Base):
    """Institution names for the public statistics, from the registry's public events (never its tables)."""

    __tablename__ = "institution_name"

    id: Mapped[str] = mapped_column(REF, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    # The registry's status of the institution (feedback_0002): a complaint names an approved one.
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="approved")


class ClockVerdict(Base):
    """One SLA clock's verdict, from `sla.clock_closed` of every service (feedback's own too):
    what the quarterly on-time rates count. A later verdict of the same clock replaces it."""

    __tablename__ = "clock_verdict"
    __table_args__ = (Index("ix_clock_verdict_stopped", "stopped_at"),
                      Index("ix_clock_verdict_institution", "institution_id", "stopped_at"))

    clock_id: Mapped[str] = mapped_column(REF, primary_key=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    rule: Mapped[str] = mapped_column(String(100), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(50), nullable=False)
    subject_id: Mapped[str] = mapped_column(REF, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    stopped_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    limit_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    institution_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    window_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    judged_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class InstrumentUse(Base):
    """A completed booking from `booking.completed`: booked vs used instrument hours (7.1.3)."""

    __tablename__ = "instrument_use"
    __table_args__ = (Index("ix_instrument_use_starts", "starts_at"),)

    booking_id: Mapped[str] = mapped_column(REF, primary_key=True)
    instrument_id: Mapped[str] = mapped_column(REF, nullable=False)
    institution_id: Mapped[str] = mapped_column(REF, nullable=False)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    booked_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    used_minutes: Mapped[int] = mapped_column(Integer, nullable=False)


class ServiceReference(Base):
    """A demand, booking, sample or report a complaint may name, from the owning service's public
    events (demand.published, booking.requested, sample.received, report.registered)."""

    __tablename__ = "service_reference"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    ref_id: Mapped[str] = mapped_column(REF, primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(REF, nullable=True)
    institution_id: Mapped[str | None] = mapped_column(REF, nullable=True)


class Notification(Base):
    """A notice to staff (an escalation reached them): listed through the API, marked read."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_role", "recipient_role", "created_at"),
                      Index("ix_notification_user", "recipient_id", "created_at"))

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    recipient_id: Mapped[str | None] = mapped_column(REF, nullable=True)     # a user, or
    recipient_role: Mapped[str | None] = mapped_column(String(30), nullable=True)   # everyone of a role
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(20), nullable=False)
    subject_id: Mapped[str] = mapped_column(ID, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


__all__ = ["InstitutionName", "ClockVerdict", "InstrumentUse", "ServiceReference", "Notification", "Base", "Evaluation", "Assessment", "Rectification", "Step", "Complaint", "ComplaintPause",
           "ComplaintCounter", "SupervisionRule", "SupervisionRuleVersion", "StatisticsPublication", "Callback",
           "SupportRequest", "Improvement", "Float"]
