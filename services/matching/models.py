"""Matching tables: the search index fed by registry events, the standards table,
and demands with everything that happens to them.

The index is a read model: only `index.apply_registry_event` writes it, from the
registry's public events (matching never reads the registry's database). The
migrations (matching_0001, then matching_0002 for idx_rank and term points,
matching_0003 for money as Numeric, matching_0004 for the ratings from feedback,
matching_0005 for the full-text index of postings.py in place of idx_term,
matching_0006 for the filter facts in idx_rank) create
exactly these tables; change both together. The full-text parts are not ORM tables:
SQLite's FTS5 `idx_fts` (+ `idx_fts_vocab`), PostgreSQL's `idx_rank.terms` (GIN).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, Float, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import utcnow, new_id  # noqa: F401 (new_id re-exported)

from .contract.vocabulary import CHANNELS, DEMAND_STATUSES  # noqa: F401 (the vocabularies live in the contract)
from .contract.vocabulary import QUALIFICATION_TYPES

# Money: Decimal yuan with two places (services/common/money.py); 11 integer digits
# hold every bound the schemas allow (below ten billion) with room to spare.
MONEY = Numeric(13, 2)


class Base(DeclarativeBase):
    """Metadata of the matching service's own tables."""


# -- index ---------------------------------------------------------------------------
class IndexedInstitution(Base):
    __tablename__ = "idx_institution"
    __table_args__ = (Index("ix_idx_institution_status_region", "status", "region"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Highest registry revision applied; kept after deregistration so that a late,
    # older `institution.changed` cannot bring the institution back.
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # active | deregistered | pending (rated first)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(30), nullable=False, default="other")
    region: Mapped[str | None] = mapped_column(String(50), nullable=True)
    park: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Latest valid_to among qualifications with status 'valid' (None: none held).
    qualified_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # Fed by feedback's `institution.rated` (ratings.py); None until there are any.
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)          # 0..5 (satisfaction x 5)
    on_time_rate: Mapped[float | None] = mapped_column(Float, nullable=True)    # 0..1
    rating_period: Mapped[str | None] = mapped_column(String(20), nullable=True)  # e.g. "2026-Q3"
    rating_evaluations: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # computed_at of the figures applied: an older computation arriving late changes nothing.
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    snapshot: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    deregistered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class RankedInstitution(Base):
    """What the search score needs of an institution, one narrow row per *active*
    institution (the row exists exactly while the institution is searchable).

    Search visits every matching institution to rank it; reading idx_institution
    for that would drag each row's multi-kilobyte snapshot through the page cache.
    `reputation` is the rating and on-time part of the score in micro-points
    (scoring.reputation_points); the qualification part depends on today's date,
    so it is computed per query from `qualified_until`.
    """

    __tablename__ = "idx_rank"
    # On SQLite the table is a rowid table keyed by `doc` with institution_id unique (matching_0005):
    # each FTS5 hit is joined by its integer rowid. The ORM only ever addresses rows by institution_id.

    institution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    qualified_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)  # for the rating_min filter
    reputation: Mapped[int] = mapped_column(Integer, nullable=False)
    # SQLite: the institution's FTS5 rowid in idx_fts (its idx_institution rowid). PostgreSQL keeps the
    # terms in this table instead (`terms text[]` with a GIN index, postings.PG_RANK); doc stays NULL.
    doc: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Filter facts (index.filter_facts): the price/cycle/qualification filters are answered
    # from these columns of the row the score already reads, instead of an EXISTS on
    # idx_capability / idx_qualification per candidate (which cost more than the rest of
    # the query). Per qualification type (QUALIFIED_UNTIL_COLUMNS): the latest valid_to of
    # the institution's qualifications of that type with status 'valid' (OPEN_ENDED for
    # one without an end), NULL when it holds none.
    cma_valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    cnas_valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    legal_metrology_valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    cert_body_valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    other_valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # Over the institution's capabilities: the lowest price, the shortest cycle, and the
    # category when all of them have the same one (NULL: none, or several categories).
    lowest_price_yuan: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    shortest_cycle_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capability_category: Mapped[str | None] = mapped_column(String(30), nullable=True)


QUALIFIED_UNTIL_COLUMNS = {t: t.lower() + "_valid_until" for t in QUALIFICATION_TYPES}
OPEN_ENDED = dt.date(9999, 12, 31)  # valid_to of a qualification without an end


class IndexedCapability(Base):
    __tablename__ = "idx_capability"
    # Covering the search's price/cycle EXISTS (matching_0005), run where idx_rank's facts do not decide.
    __table_args__ = (Index("ix_idx_capability_institution", "institution_id", "category", "price_yuan",
                            "cycle_working_days"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False)
    category: Mapped[str] = mapped_column(String(30), nullable=False)
    item_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    item_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    parameter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    method_standard: Mapped[str | None] = mapped_column(String(200), nullable=True)
    standard_keys: Mapped[str] = mapped_column(String(300), nullable=False, default="")  # " GBT2828.1 JJG52 "
    price_yuan: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    cycle_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    qualification_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IndexedQualification(Base):
    __tablename__ = "idx_qualification"
    # Covering the "currently valid qualification" EXISTS the search ran per candidate (matching_0005);
    # it reads idx_rank's <type>_valid_until since matching_0006, computed from these rows.
    __table_args__ = (Index("ix_idx_qualification_institution", "institution_id", "type", "status", "valid_to"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[str] = mapped_column(String(30), nullable=False)
    number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)


# -- standards --------------------------------------------------------------------------
class Standard(Base):
    __tablename__ = "standard"
    __table_args__ = (Index("ix_standard_key", "key"),)

    number: Mapped[str] = mapped_column(String(80), primary_key=True)  # "GB/T 19001-2016"
    key: Mapped[str] = mapped_column(String(80), nullable=False)       # "GBT19001"
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)    # current | replaced | withdrawn
    replaced_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    replaces: Mapped[str | None] = mapped_column(String(200), nullable=True)
    implemented_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


# -- demands ------------------------------------------------------------------------------
class Demand(Base):
    __tablename__ = "demand"
    __table_args__ = (
        Index("ix_demand_enterprise", "enterprise_user_id", "created_at"),
        Index("ix_demand_status", "status", "created_at"),
        Index("ix_demand_group", "category", "item_code", "product"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    enterprise_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    entered_by: Mapped[str] = mapped_column(String(64), nullable=False)
    visit_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category: Mapped[str] = mapped_column(String(30), nullable=False)
    item_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    standard: Mapped[str | None] = mapped_column(String(80), nullable=True)
    parameter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    region: Mapped[str | None] = mapped_column(String(50), nullable=True)
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    budget_yuan: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    desired_cycle_working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="published")
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # connected to
    package_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class DemandEntry(Base):
    """What happened to a demand, in order: response, recommendation, engagement,
    follow-up, referral, closing. `body` is JSON; one table keeps the timeline one query."""

    __tablename__ = "demand_entry"
    __table_args__ = (Index("ix_demand_entry_demand", "demand_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=new_id)
    demand_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Visit(Base):
    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_window", "window_id", "visited_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The window the staff member was bound to when logging the visit: the record
    # belongs to the window, so colleagues (and a successor) see it.
    window_id: Mapped[str] = mapped_column(String(64), nullable=False)
    staff_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    enterprise_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enterprise_name: Mapped[str] = mapped_column(String(200), nullable=False)
    visited_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")


class Package(Base):
    __tablename__ = "package"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    category: Mapped[str] = mapped_column(String(30), nullable=False)
    item_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    institution_id: Mapped[str] = mapped_column(String(64), nullable=False)
    window_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    package_price_yuan: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class PackageMember(Base):
    __tablename__ = "package_member"
    __table_args__ = (Index("ix_package_member_enterprise", "enterprise_user_id"),)

    package_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    demand_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    enterprise_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    share_yuan: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
