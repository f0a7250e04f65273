"""Public verification of a registered report, without signing in.

Three ways in: the report number with the short code printed on the report; the signed
QR (Ed25519 over number and hash, verifiable offline with the published key); the PDF
itself (its SHA-256 is compared). A wrong code and an unknown number get the same 404
(`report_not_verified`), so numbers cannot be enumerated, and every such failure counts
against the client's network (an HMAC of its /24 or /64, as identity's sign-in
throttle): past FREE failures in WINDOW, further attempts wait with 429 and
`retry_after` before anything is looked up. A failure is written in its own
transaction (the operation's transaction rolls back with the 404).

Every successful verification is logged and counted per report; a verifier who left a
contact is told if the report is later withdrawn (reports.notify_verifiers).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import ipaddress
import math

from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import config, pii
from services.common.db import utcnow
from services.common.errors import NotFound, TooManyRequests, ValidationFailed

from . import reports, signing
from .models import Acceptance, Notification, Report, Verification, VerificationFailure

VERIFICATIONS = Counter("qi_delivery_verifications_total", "Public report verifications", ["method", "result"])
WINDOW = dt.timedelta(minutes=15)
FREE = 10                      # failures per network and window before attempts wait
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(minutes=15)


def client_network(ip: str | None) -> str:
    """The /24 (IPv4) or /64 (IPv6) of the address, as identity's sign-in throttle counts it."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(str(ip).strip())
    except ValueError:
        return str(ip)[:100]
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(ipaddress.ip_network(f"{address}/{64 if address.version == 6 else 24}", strict=False))


def _network_key(ip: str | None) -> str:
    secret = config.blind_index_key().encode("utf-8")
    return hmac.new(secret, b"verify\x00" + client_network(ip).encode("utf-8"), hashlib.sha256).hexdigest()


def refused(session: Session, ip: str | None, now: dt.datetime | None = None) -> TooManyRequests | None:
    now = now or utcnow()
    key = _network_key(ip)
    failures, last = session.execute(
        select(func.count(), func.max(VerificationFailure.at))
        .where(VerificationFailure.network_key == key, VerificationFailure.at > now - WINDOW)).one()
    if not failures or failures < FREE or last is None:
        return None
    wait = min(MAX_DELAY, BASE_DELAY * (2 ** min(failures - FREE, 20)))
    remaining = last + wait - now
    if remaining <= dt.timedelta(0):
        return None
    seconds = max(1, math.ceil(remaining.total_seconds()))
    return TooManyRequests(f"Too many failed verifications from your network; retry in {seconds} s / "
                           f"核验失败次数过多，请 {seconds} 秒后再试", code="verification_throttled",
                           retry_after=seconds)


def _not_verified() -> NotFound:
    return NotFound("No report matches this number and code / 报告编号或核验码不正确", code="report_not_verified")


def _fail(db, ip: str | None) -> NotFound:
    """Count the failure (own transaction: the caller's rolls back with the 404) and return the 404."""
    with db.transaction() as other:
        other.add(VerificationFailure(network_key=_network_key(ip), at=utcnow()))
    VERIFICATIONS.labels("any", "not_verified").inc()
    return _not_verified()


def _check_throttle(session, ip):
    refusal = refused(session, ip)
    if refusal is not None:
        VERIFICATIONS.labels("any", "throttled").inc()
        raise refusal


def result_of(report: Report, today: dt.date | None = None) -> str:
    if report.status == "withdrawn":
        return "withdrawn"
    if report.status == "superseded":
        return "superseded"
    today = today or (utcnow() + dt.timedelta(hours=8)).date()   # the report's validity is a Shanghai date
    if report.valid_until and report.valid_until < today:
        return "expired"
    return "valid"


def _contact(contact: str | None) -> tuple[str | None, str | None]:
    if not contact:
        return None, None
    value = contact.strip()
    if "@" in value:
        name, _, domain = value.partition("@")
        if not name or "." not in domain:
            raise ValidationFailed("contact: not a phone or e-mail / 联系方式无效", errors={"contact": ["phone|email"]})
        return value.lower(), pii._mask(name, 1, 0) + "@" + domain.lower()
    if not pii.is_valid_mobile(value):
        raise ValidationFailed("contact: not a phone or e-mail / 联系方式无效", errors={"contact": ["phone|email"]})
    phone = pii.normalize_phone(value)
    return phone, pii.mask_phone(phone)


def _answer(session: Session, report: Report, method: str, contact: str | None,
            signature_valid: bool | None = None) -> dict:
    value, masked = _contact(contact)
    result = result_of(report)
    session.add(Verification(report_id=report.id, method=method, result=result, contact=value,
                             contact_masked=masked, at=utcnow()))
    report.verification_count += 1
    VERIFICATIONS.labels(method, result).inc()
    return {"number": report.number, "result": result, "method": method, "successor_number": report.superseded_by,
            "withdrawn_reason": report.withdrawn_reason, "withdrawn_at": report.withdrawn_at,
            "institution_name": report.institution_name, "product": report.product, "item": report.item,
            "standards": report.standards, "test_date": report.test_date, "valid_until": report.valid_until,
            "conclusion": report.conclusion, "marks": report.marks, "pdf_sha256": report.pdf_sha256,
            "scope": report.scope, "verification_count": report.verification_count,
            "signature_valid": signature_valid}


def _by_code(session: Session, db, number: str, code: str, client_ip: str | None) -> Report:
    _check_throttle(session, client_ip)
    report = reports.by_number(session, number, lock=True)
    expected = reports.code_hash(number, code)
    if report is None or not hmac.compare_digest(report.code_hash, expected):
        # The same work either way (one HMAC), the same answer either way.
        raise _fail(db, client_ip)
    return report


def verify_by_code(session: Session, db, number: str, data: dict | None = None, query: dict | None = None,
                   client_ip: str | None = None) -> dict:
    given = data or query or {}
    report = _by_code(session, db, number, given["code"], client_ip)
    return _answer(session, report, "code", given.get("contact"))


def verify_qr(session: Session, db, data: dict, client_ip: str | None = None) -> dict:
    _check_throttle(session, client_ip)
    parsed = signing.parse_and_verify(data["payload"])
    if parsed is None:
        raise _fail(db, client_ip)
    number, sha256 = parsed
    report = reports.by_number(session, number, lock=True)
    if report is None or report.pdf_sha256 != sha256:
        raise _fail(db, client_ip)
    return _answer(session, report, "qr", data.get("contact"), signature_valid=True)


def verify_pdf(session: Session, db, data: dict, client_ip: str | None = None) -> dict:
    _check_throttle(session, client_ip)
    if data.get("pdf_base64"):
        try:
            sha256 = hashlib.sha256(base64.b64decode(data["pdf_base64"], validate=True)).hexdigest()
        except (binascii.Error, ValueError):
            raise ValidationFailed("pdf_base64 is not base64 / PDF 内容不是 base64",
                                   errors={"pdf_base64": ["base64"]}) from None
    else:
        sha256 = data["pdf_sha256"]
    report = session.scalars(select(Report).where(Report.pdf_sha256 == sha256)
                             .order_by(Report.registered_at.desc()).limit(1).with_for_update()).first()
    if report is None:
        raise _fail(db, client_ip)
    return _answer(session, report, "pdf", data.get("contact"))


def accept(session: Session, db, number: str, data: dict, client_ip: str | None = None) -> dict:
    """A party records that it accepted the report for a purpose (a re-test avoided, usually)."""
    report = _by_code(session, db, number, data["code"], client_ip)
    if result_of(report) != "valid":
        from services.common.errors import Conflict
        raise Conflict(f"Report {report.number} is {result_of(report)}: it cannot be accepted / 报告当前不可采信",
                       code="report_not_valid")
    row = Acceptance(report_id=report.id, party=data["party"], purpose=data["purpose"],
                     retest_avoided=data["retest_avoided"], at=utcnow())
    session.add(row)
    report.acceptance_count += 1
    if row.retest_avoided:
        report.retests_avoided += 1
    return {"id": row.id, "number": report.number, "party": row.party, "purpose": row.purpose,
            "retest_avoided": row.retest_avoided, "at": row.at, "acceptance_count": report.acceptance_count,
            "retests_avoided": report.retests_avoided}


def stats(session: Session, principal: dict, number: str) -> dict:
    report = reports.get_visible(session, principal, number)
    by_method = dict(session.execute(select(Verification.method, func.count())
                                     .where(Verification.report_id == report.id)
                                     .group_by(Verification.method)).all())
    contacts = session.scalar(select(func.count()).select_from(Verification)
                              .where(Verification.report_id == report.id, Verification.contact.isnot(None)))
    notified = session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.subject_id == report.number, Notification.contact.isnot(None)))
    acceptances = [{"id": a.id, "number": report.number, "party": a.party, "purpose": a.purpose,
                    "retest_avoided": a.retest_avoided, "at": a.at}
                   for a in session.scalars(select(Acceptance).where(Acceptance.report_id == report.id)
                                            .order_by(Acceptance.at))]
    return {"number": report.number, "verification_count": report.verification_count, "by_method": by_method,
            "acceptances": acceptances, "acceptance_count": report.acceptance_count,
            "retests_avoided": report.retests_avoided, "contacts_to_notify": contacts, "notified": notified}
