"""Vocabularies of the delivery slice, declared once: the models and the schemas import them from here."""
from __future__ import annotations

# -- report registry (4.1.3) -----------------------------------------------------------------
MARKS = ("CMA", "CNAS", "ilac-MRA")
REPORT_STATUSES = ("valid", "superseded", "withdrawn")
SCOPE_STATES = ("in_scope", "flagged")
# What a verification answers (expired: past the report's valid_until).
VERIFY_RESULTS = ("valid", "superseded", "withdrawn", "expired")
VERIFY_METHODS = ("code", "qr", "pdf")
CERTIFICATE_KINDS = ("test", "calibration", "verification")
# Which qualification a mark needs, valid on the test date (ilac-MRA is used with a CNAS accreditation).
MARK_QUALIFICATION = {"CMA": "CMA", "CNAS": "CNAS", "ilac-MRA": "CNAS"}

# -- samples and chain of custody (4.2.1.1) --------------------------------------------------
# The custody steps in order; each is recorded by the side that receives.
STEPS = ("received", "packed", "with_carrier", "accepted", "testing", "report_issued", "report_delivered",
         "returned", "disposed")
STEP_ZH = {"received": "驿站已接收", "packed": "已装入转运单", "with_carrier": "承运人已接收",
           "accepted": "实验室已接收", "testing": "检测中", "report_issued": "报告已出具",
           "report_delivered": "报告已交付", "returned": "样品已退还", "disposed": "样品已处置",
           "rejected": "实验室拒收"}
SAMPLE_STATUSES = STEPS + ("rejected",)
FINAL_STEPS = ("returned", "disposed")
EXCEPTION_KINDS = ("missing_item", "broken_seal", "damaged", "rejected", "late", "other")
CONDITIONS = ("intact", "damaged", "sealed", "unsealed", "other")
HANDOVER_METHODS = ("pickup", "courier", "electronic")
MANIFEST_STATUSES = ("open", "with_carrier", "accepted", "rejected")

# -- metrology ledger (5.2.3) ------------------------------------------------------------------
ABC_CLASSES = ("A", "B", "C")
CONTROLS = ("verification", "calibration")          # 检定 / 校准
INSTRUMENT_STATUSES = ("active", "suspended")       # suspended: 停用 (overdue)
REMINDER_DAYS = (30, 7, 1)                          # working days before due
