"""Matching's vocabularies, declared once: the models, the schemas and the domain import them from here.

The platform-wide ones (service categories, institution kinds, qualification
types) live in services.common.vocabulary and are re-exported for convenience.
"""
from __future__ import annotations

from services.common.vocabulary import (CATEGORIES, CATEGORY_ZH, INSTITUTION_KIND_ZH, INSTITUTION_KINDS,  # noqa: F401
                                        QUALIFICATION_TYPES)

# How a demand reached the platform: published online by the enterprise, or entered by staff.
CHANNELS = ("online", "phone", "onsite", "visit")
STAFF_CHANNELS = ("phone", "onsite", "visit")
DEMAND_STATUSES = ("published", "responded", "recommended", "connected", "referred", "closed")
# Demands still waiting for an institution: the ones that may be packaged.
PACKABLE_STATUSES = ("published", "responded", "recommended")

# Who may close with which outcome, and what it does to the SLA clocks, is decided
# in closing.close: "withdrawn" is the enterprise's own; "rejected" and "duplicate"
# are staff's, need a reason in `note`, and are the only ways for staff to close a
# demand the platform has not answered yet.
CLOSE_OUTCOMES = ("completed", "cancelled", "unresolved", "withdrawn", "rejected", "duplicate")
WITHDRAWN = "withdrawn"
DISMISSALS = ("rejected", "duplicate")

FOLLOW_UP_KINDS = ("problem", "coordination", "progress", "note")
TIMELINE_KINDS = ("response", "recommendation", "referral", "engagement", "follow_up", "closing")
STANDARD_STATUSES = ("current", "replaced", "withdrawn")
SLA_STATES = ("due_soon", "overdue", "calendar_gap")

# Lookups of clause 5 are presets of the search: a category and, where the
# clause names one, the qualification that makes an institution eligible.
LOOKUPS = {
    "metrology": {"category": "metrology", "qualification": "LEGAL_METROLOGY"},   # 5.2.1
    "labs": {"category": "testing"},                                               # 5.3.1
    "certification": {"category": "certification", "qualification": "CERT_BODY"},  # 5.4.1
}

# Index rows: searchable, gone, or known only from a rating that arrived first.
INDEX_ACTIVE, INDEX_DEREGISTERED, INDEX_PENDING = "active", "deregistered", "pending"
