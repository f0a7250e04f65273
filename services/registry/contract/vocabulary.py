"""The registry's own vocabularies (statuses, roles in a case, training modes, upload limits).

The models' check constraints and the contract's schemas read them from here;
vocabularies shared with other services (categories, institution kinds,
qualification types, window kinds) live in services.common.vocabulary.
"""
from __future__ import annotations

QUALIFICATION_STATUSES = ("valid", "expired", "revoked")
INSTITUTION_STATUSES = ("active", "deregistered")
REVIEW_STATUSES = ("submitted", "returned", "approved", "rejected")
REVIEW_DECISIONS = ("approve", "reject", "return")
TRAINING_MODES = ("onsite", "online")
TRAINING_STATUSES = ("published", "cancelled")
SIGNUP_STATUSES = ("confirmed", "waitlisted", "cancelled")
CASE_STATUSES = ("open", "closed")
# Roles inside an enterprise window's team (R-4.2.3.2 协同服务), not platform roles.
CASE_ROLES = ("lead", "expert", "institution", "window", "enterprise_contact")
# What a point-to-point case works on (R-4.2.3.1/2).
CASE_LOG_KINDS = ("instrument_selection", "product_development", "technical_problem", "other")

# Attachments (services/registry/files.py): at most 10 MiB decoded each.
MAX_FILE_BYTES = 10 * 1024 * 1024
# Largest base64 text that can decode to MAX_FILE_BYTES (padding included).
MAX_BASE64_CHARS = 4 * ((MAX_FILE_BYTES + 2) // 3)
