"""The report registry (4.1.3, "one result, recognised everywhere").

An institution registers each report it issues; the registry checks it against the
institution's qualifications and published capabilities (the local copy kept from
registry events, `institutions`): a report outside the valid scope is registered
*flagged* with the reasons, never silently accepted. A corrected report gets a new
number and names the one it supersedes; a report can be withdrawn with a reason, and
whoever verified it and left a contact is told.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import config
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import access, institutions, signing
from .models import Notification, Report, Verification

SOURCE = "delivery"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L: read off paper
CODE_LENGTH = 8


def code_hash(number: str, code: str) -> str:
    secret = config.blind_index_key().encode("utf-8")
    return hmac.new(secret, f"report-code\x00{number}\x00{code.strip().upper()}".encode("utf-8"),
                    hashlib.sha256).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def pdf_dir():
    path = config.data_dir() / "delivery" / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _decode_pdf(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("pdf_base64 is not base64 / PDF 内容不是 base64", code="validation_error",
                               errors={"pdf_base64": ["base64"]}) from None


def by_number(session: Session, number: str, lock: bool = False) -> Report | None:
    query = select(Report).where(Report.number == str(number))
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def _visible(principal: dict | None, report: Report) -> bool:
    if access.is_staff_reader(principal):
        return True
    if not principal:
        return False
    if principal.get("role") == "institution":
        return str(principal.get("institution_id")) == report.institution_id
    return str(principal.get("user_id")) == report.enterprise_id


def get_visible(session: Session, principal: dict, number: str, lock: bool = False) -> Report:
    report = by_number(session, number, lock=lock)
    if report is None or not _visible(principal, report):
        raise access.not_found("report", "报告", "report_not_found")
    return report


def _issuer(principal: dict, data: dict) -> str:
    if principal.get("role") == "institution":
        own = access.institution_of(principal)
        if data.get("institution_id") not in (None, own):
            raise Forbidden("An institution registers its own reports / 机构只能登记本机构的报告")
        return own
    if access.is_operator(principal):
        if not data.get("institution_id"):
            raise ValidationFailed("institution_id is required when staff register / 代登记须指明机构",
                                   errors={"institution_id": ["required"]})
        return str(data["institution_id"])
    raise Forbidden("Only institutions register reports / 仅服务机构可登记报告")


def register(session: Session, principal: dict, data: dict, code: str | None = None,
             at: dt.datetime | None = None) -> dict:
    """Register a report (or a corrected one naming what it supersedes); returns it with its code, once."""
    institution_id = _issuer(principal, data)
    at = at or utcnow()
    pdf = None
    if data.get("pdf_base64"):
        pdf = _decode_pdf(data["pdf_base64"])
        if hashlib.sha256(pdf).hexdigest() != data["pdf_sha256"]:
            raise ValidationFailed("The PDF does not match pdf_sha256 / PDF 与哈希不符",
                                   errors={"pdf_sha256": ["does not match the PDF / 与 PDF 不符"]})
    if by_number(session, data["number"]) is not None:
        raise Conflict(f"Report number {data['number']} is registered already / 报告编号已登记",
                       code="report_number_taken")
    old = None
    if data.get("supersedes"):
        old = by_number(session, data["supersedes"], lock=True)
        if old is None or old.institution_id != institution_id:
            raise ValidationFailed("The superseded report is not one of this institution's / 被替代报告不属于本机构",
                                   errors={"supersedes": ["unknown report of this institution"]})
        if old.status != "valid":
            raise Conflict(f"Report {old.number} is {old.status} already / 被替代报告状态为 {old.status}",
                           code="report_not_valid")
    known, flags = institutions.scope_flags(session, institution_id, data.get("marks") or [],
                                            data["standards"], data["test_date"], data.get("kind", "test"))
    instrument = None
    if data.get("instrument_id"):
        from . import ledger
        instrument = ledger.instrument_for_certificate(session, data["instrument_id"], data["enterprise_id"])
        if data.get("kind", "test") == "test":
            raise ValidationFailed("A test report names no instrument / 检测报告不关联计量器具",
                                   errors={"kind": ["calibration or verification with instrument_id"]})
    code = code or new_code()
    report = Report(
        number=data["number"], institution_id=institution_id, institution_name=(known.name if known else ""),
        enterprise_id=data["enterprise_id"], product=data["product"], item=data.get("item"),
        standards=json.dumps(data["standards"], ensure_ascii=False), test_date=data["test_date"],
        valid_until=data.get("valid_until"), conclusion=data["conclusion"],
        marks=json.dumps(data.get("marks") or []), kind=data.get("kind", "test"),
        instrument_id=data.get("instrument_id"), pdf_sha256=data["pdf_sha256"], pdf_stored=pdf is not None,
        code_hash=code_hash(data["number"], code), scope="flagged" if flags else "in_scope",
        scope_flags=json.dumps(flags, ensure_ascii=False), status="valid", supersedes=old.number if old else None,
        registered_by=str(principal["user_id"]), registered_at=at)
    session.add(report)
    session.flush()
    if old is not None:
        old.status = "superseded"
        old.superseded_by = report.number
        old.superseded_at = at
        record_event(session, SOURCE, "report.superseded", old.number, {
            "number": old.number, "superseded_by": report.number, "institution_id": institution_id,
            "enterprise_id": old.enterprise_id, "superseded_at": iso_utc(at)})
    record_event(session, SOURCE, "report.registered", report.number, {
        "report_id": report.id, "number": report.number, "institution_id": institution_id,
        "enterprise_id": report.enterprise_id, "kind": report.kind, "instrument_id": report.instrument_id,
        "test_date": report.test_date.isoformat(), "scope": report.scope,
        "scope_flags": [f["code"] for f in flags], "supersedes": report.supersedes,
        "registered_at": iso_utc(at)})
    if instrument is not None:
        from . import ledger
        ledger.apply_certificate(session, instrument, report, at=at)
    if pdf is not None:
        target = pdf_dir() / f"{report.pdf_sha256}.pdf"
        if not target.exists():
            tmp = target.with_suffix(f".{secrets.token_hex(4)}.tmp")
            tmp.write_bytes(pdf)
            tmp.rename(target)
    report.verification_code = code
    report.qr_payload = signing.qr_payload(report.number, report.pdf_sha256)
    return report


def withdraw(session: Session, principal: dict, number: str, data: dict, at: dt.datetime | None = None) -> Report:
    report = get_visible(session, principal, number, lock=True)
    if principal.get("role") == "institution":
        if access.institution_of(principal) != report.institution_id:
            raise Forbidden("Only the issuing institution withdraws a report / 仅出具机构可撤回报告")
    elif not access.is_operator(principal):
        raise Forbidden("Only the issuing institution or an operator withdraws a report / 仅出具机构或运营人员可撤回")
    if report.status == "withdrawn":
        raise Conflict("The report is withdrawn already / 报告已撤回", code="report_withdrawn")
    at = at or utcnow()
    report.status = "withdrawn"
    report.withdrawn_reason = data["reason"]
    report.withdrawn_at = at
    notified = notify_verifiers(session, report, at)
    record_event(session, SOURCE, "report.withdrawn", report.number, {
        "number": report.number, "institution_id": report.institution_id, "enterprise_id": report.enterprise_id,
        "reason": data["reason"], "withdrawn_at": iso_utc(at), "contacts_notified": notified})
    return report


def notify_verifiers(session: Session, report: Report, at: dt.datetime) -> int:
    """Record one notification per distinct contact that verified the report (and one for the client)."""
    seen = set()
    text_zh = f"您核验过的报告 {report.number} 已被出具机构撤回，原因：{report.withdrawn_reason}"
    text_en = f"Report {report.number}, which you verified, was withdrawn by its institution: {report.withdrawn_reason}"
    for row in session.scalars(select(Verification).where(Verification.report_id == report.id,
                                                          Verification.contact.isnot(None))):
        if row.contact in seen:
            continue
        seen.add(row.contact)
        session.add(Notification(kind="report_withdrawn", contact=row.contact, contact_masked=row.contact_masked,
                                 subject_id=report.number, text_zh=text_zh, text_en=text_en, created_at=at))
    session.add(Notification(kind="report_withdrawn", account_id=report.enterprise_id, subject_id=report.number,
                             text_zh=f"贵单位委托检测的报告 {report.number} 已被出具机构撤回，原因：{report.withdrawn_reason}",
                             text_en=f"Report {report.number}, issued for you, was withdrawn by its institution: "
                                     f"{report.withdrawn_reason}", created_at=at))
    return len(seen)


def list_reports(session: Session, principal: dict, status=None, scope=None, institution_id=None,
                 limit: int = 50, offset: int = 0) -> dict:
    query = select(Report)
    role = principal.get("role")
    if role == "institution":
        query = query.where(Report.institution_id == access.institution_of(principal))
    elif not access.is_staff_reader(principal):
        query = query.where(Report.enterprise_id == str(principal["user_id"]))
    elif institution_id:
        query = query.where(Report.institution_id == institution_id)
    if status:
        query = query.where(Report.status == status)
    if scope:
        query = query.where(Report.scope == scope)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(Report.registered_at.desc(), Report.number)
                            .limit(limit).offset(offset)).all()
    return {"items": items, "total": total}


def get_report(session: Session, principal: dict, number: str) -> Report:
    return get_visible(session, principal, number)


def qr(session: Session, principal: dict, number: str) -> dict:
    import segno
    report = get_visible(session, principal, number)
    payload = signing.qr_payload(report.number, report.pdf_sha256)
    return {"number": report.number, "payload": payload, "key_id": signing.key_id(),
            "svg": segno.make(payload, error="m").svg_inline(scale=3)}


def public_key() -> dict:
    return signing.published()
