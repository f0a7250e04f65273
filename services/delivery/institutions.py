"""The institutions delivery knows: a local copy kept from the registry's public events.

Like matching's index, the consumer claims the event id (a redelivery changes nothing)
and compares revisions (an older snapshot arriving late changes nothing). The report
registry checks a report's scope against this copy only, never the registry's tables.
"""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.consumer import claim_event
from services.common.known_accounts import keep_registered_account
from services.common.db import utcnow

from .contract.vocabulary import MARK_QUALIFICATION
from .models import KnownInstitution

CONSUMER = "delivery.institutions"
PROFILE_EVENTS = ("institution.approved", "institution.changed", "capability.published")
DEREGISTERED = "institution.deregistered"
REGISTRY_EVENTS = PROFILE_EVENTS + (DEREGISTERED,)


def apply_registry_event(session: Session, envelope: dict) -> str:
    """Apply one registry event: applied | duplicate | stale | ignored."""
    if envelope.get("type") not in REGISTRY_EVENTS:
        return "ignored"
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    data = envelope.get("data") or {}
    institution_id = str(data["institution_id"])
    revision = int(data["revision"])
    row = session.get(KnownInstitution, institution_id, with_for_update=True)
    if row is not None and revision <= row.revision:
        return "stale"
    if row is None:
        row = KnownInstitution(id=institution_id, revision=revision, status="active")
        session.add(row)
    row.revision = revision
    row.updated_at = utcnow()
    if envelope["type"] == DEREGISTERED:
        row.status = "deregistered"
        return "applied"
    snapshot = data.get("snapshot") or {}
    row.status = snapshot.get("status") or "active"
    row.name = str(snapshot.get("name") or "")[:200]
    row.kind = str(snapshot.get("kind") or "other")[:30]
    row.qualifications = json.dumps([
        {k: q.get(k) for k in ("qualification_id", "type", "number", "valid_from", "valid_to", "status", "scope")}
        for q in snapshot.get("qualifications") or []], ensure_ascii=False)
    row.capabilities = json.dumps([
        {k: c.get(k) for k in ("capability_id", "category", "item_code", "item_name", "product", "parameter",
                               "method_standard", "qualification_id")}
        for c in snapshot.get("capabilities") or []], ensure_ascii=False)
    session.flush()
    recheck_unknown(session, institution_id)
    return "applied"


def recheck_unknown(session: Session, institution_id: str) -> int:
    """Reports registered before the institution's profile arrived are checked now (only those)."""
    from .models import Report
    rechecked = 0
    for report in session.scalars(select(Report).where(Report.institution_id == institution_id,
                                                       Report.scope == "flagged")):
        if [f["code"] for f in report.flag_list] != ["institution_unknown"]:
            continue
        known, flags = scope_flags(session, institution_id, report.mark_list, report.standard_list,
                                   report.test_date, report.kind)
        report.scope = "flagged" if flags else "in_scope"
        report.scope_flags = json.dumps(flags, ensure_ascii=False)
        report.institution_name = known.name if known else report.institution_name
        rechecked += 1
    return rechecked


ACCOUNT_CONSUMER = "delivery.accounts"


def apply_identity_event(session: Session, envelope: dict) -> str:
    """Keep the ids, roles and nicknames identity announces (`user.registered`)."""
    from .models import KnownAccount
    return keep_registered_account(session, ACCOUNT_CONSUMER, envelope, KnownAccount)[0]


# -- scope check ---------------------------------------------------------------------------------
def standard_key(text: str | None) -> str:
    """'GB/T 3956-2008' and 'gb/t3956—2008' compare equal; the year is kept."""
    value = (text or "").upper().replace("—", "-").replace("–", "-").replace("／", "/")
    return re.sub(r"\s+", "", value)


def _standards_of(capability: dict) -> set[str]:
    return {standard_key(part) for part in re.split(r"[;,，；、]", capability.get("method_standard") or "")
            if part.strip()}


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _valid_on(q: dict, day: dt.date) -> bool:
    if (q.get("status") or "valid") != "valid":
        return False
    start, end = _date(q.get("valid_from")), _date(q.get("valid_to"))
    return (start is None or start <= day) and (end is None or day <= end)


def _flag(code: str, zh: str, en: str) -> dict:
    return {"code": code, "zh": zh, "en": en}


def scope_flags(session: Session, institution_id: str, marks: list[str], standards: list[str],
                test_date: dt.date, kind: str = "test") -> tuple[KnownInstitution | None, list[dict]]:
    """Why a report is outside the institution's valid scope ([] when it is within)."""
    row = session.get(KnownInstitution, str(institution_id))
    if row is None:
        return None, [_flag("institution_unknown", "平台未收到该机构的入驻信息，无法核对资质范围",
                            "The platform has no approved profile of this institution: scope cannot be checked")]
    if row.status != "active":
        return row, [_flag("institution_inactive", "该机构已注销或停用", "The institution is deregistered")]
    quals = json.loads(row.qualifications or "[]")
    caps = json.loads(row.capabilities or "[]")
    valid_quals = {q.get("qualification_id"): q for q in quals if _valid_on(q, test_date)}
    flags = []
    for mark in marks:
        needed = MARK_QUALIFICATION[mark]
        if not any(q.get("type") == needed for q in valid_quals.values()):
            flags.append(_flag(f"mark_without_{needed.lower()}",
                               f"使用 {mark} 标志，但检测日期时该机构无有效的 {needed} 资质",
                               f"Mark {mark} used without a {needed} qualification valid on the test date"))
    if kind in ("calibration", "verification") and not (
            row.kind == "metrology" or any(c.get("category") == "metrology" for c in caps)):
        flags.append(_flag("not_metrology", "该机构未发布计量检定/校准能力",
                           "The institution publishes no metrology capability"))
    for standard in standards:
        key = standard_key(standard)
        covering = [c for c in caps if key in _standards_of(c)]
        if not covering:
            flags.append(_flag("standard_not_published", f"标准 {standard} 不在该机构发布的能力范围内",
                               f"Standard {standard} is not among the institution's published capabilities"))
        elif not any(c.get("qualification_id") is None or c.get("qualification_id") in valid_quals
                     for c in covering):
            flags.append(_flag("capability_qualification_expired",
                               f"标准 {standard} 对应的资质在检测日期时已失效",
                               f"The qualification behind standard {standard} was not valid on the test date"))
    return row, flags
