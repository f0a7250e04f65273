"""Public verification (R-4.1.3): code, signed QR (offline), PDF hash; throttling; logs; acceptances."""
from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from services.common.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from services.delivery import signing, verification
from services.delivery.models import Notification, Verification, VerificationFailure
from services.delivery.tests.helpers import (LAB, PDF, PDF_SHA, Svc, call, count, events, know, lab_profile,
                                              report_body)


@pytest.fixture
def registered(db, svc):
    know(db, lab_profile())
    return call(svc, "register_report", LAB, payload=report_body(
        pdf_sha256=PDF_SHA, valid_until="2030-01-01"))


def test_the_right_code_answers_valid_without_sign_in(svc, registered):
    out = call(svc, "verify_report", None, number=registered["number"], payload={"code": registered["verification_code"]})
    assert out["result"] == "valid" and out["verification_count"] == 1 and out["method"] == "code"
    # Lower case works too (read off paper), and by GET with the code in the query.
    again = call(svc, "verify_report_get", None, number=registered["number"],
                 query={"code": registered["verification_code"].lower()})
    assert again["verification_count"] == 2


def test_a_wrong_code_and_an_unknown_number_answer_identically(db, svc, registered):
    answers = []
    for number, code in ((registered["number"], "WRONG123"), ("NO-SUCH-9", registered["verification_code"])):
        with pytest.raises(NotFound) as refused:
            call(svc, "verify_report", None, number=number, payload={"code": code})
        answers.append(refused.value.problem())
    assert answers[0] == answers[1] and answers[0]["code"] == "report_not_verified"
    assert count(db, VerificationFailure) == 2 and count(db, Verification) == 0


def test_failures_from_one_network_are_throttled_others_are_not(db, svc, registered):
    for _ in range(verification.FREE):
        with pytest.raises(NotFound):
            call(svc, "verify_report", None, number="NO-SUCH-9", payload={"code": "ABCD1234"})
    with pytest.raises(TooManyRequests) as throttled:   # even the right code waits now
        call(svc, "verify_report", None, number=registered["number"], payload={"code": registered["verification_code"]})
    assert throttled.value.retry_after >= 1 and throttled.value.code == "verification_throttled"
    same_network = Svc(db, client_ip="203.0.113.99")
    with pytest.raises(TooManyRequests):
        call(same_network, "verify_report", None, number=registered["number"],
             payload={"code": registered["verification_code"]})
    elsewhere = Svc(db, client_ip="198.51.100.5")
    assert call(elsewhere, "verify_report", None, number=registered["number"],
                payload={"code": registered["verification_code"]})["result"] == "valid"


def test_superseded_withdrawn_and_expired_answers(db, svc, registered):
    number, code = registered["number"], registered["verification_code"]
    new = call(svc, "register_report", LAB, payload=report_body("TZ2026-0002", supersedes=number))
    out = call(svc, "verify_report", None, number=number, payload={"code": code})
    assert out["result"] == "superseded" and out["successor_number"] == "TZ2026-0002"
    call(svc, "withdraw_report", LAB, number="TZ2026-0002", payload={"reason": "样品编号错误"})
    out = call(svc, "verify_report", None, number="TZ2026-0002", payload={"code": new["verification_code"]})
    assert out["result"] == "withdrawn" and out["withdrawn_reason"] == "样品编号错误" and out["withdrawn_at"]
    old = call(svc, "register_report", LAB, payload=report_body("TZ2020-0001", test_date="2020-01-01",
                                                               valid_until="2021-01-01"))
    assert call(svc, "verify_report", None, number="TZ2020-0001",
                payload={"code": old["verification_code"]})["result"] == "expired"


def test_a_verifier_who_left_a_contact_is_told_of_the_withdrawal(db, svc, registered):
    number, code = registered["number"], registered["verification_code"]
    call(svc, "verify_report", None, number=number, payload={"code": code, "contact": "13812345678"})
    call(svc, "verify_report", None, number=number, payload={"code": code, "contact": "13812345678"})
    call(svc, "verify_report", None, number=number, payload={"code": code, "contact": "buyer@example.com"})
    call(svc, "verify_report", None, number=number, payload={"code": code})
    with pytest.raises(ValidationFailed):   # a contact that is neither phone nor e-mail writes nothing
        call(svc, "verify_report", None, number=number, payload={"code": code, "contact": "hello"})
    call(svc, "withdraw_report", LAB, number=number, payload={"reason": "检测设备失准"})
    [event] = events(db, "report.withdrawn")
    assert event["data"]["contacts_notified"] == 2 and "138" not in str(event)
    stats = call(svc, "report_verifications", LAB, number=number)
    assert stats["verification_count"] == 4 and stats["by_method"] == {"code": 4} and stats["notified"] == 2
    with db.read() as session:
        masked = sorted(n.contact_masked for n in session.query(Notification).filter(Notification.contact.isnot(None)))
    assert masked == ["138****5678", "b****@example.com"]


def test_the_qr_is_verifiable_offline_with_the_published_key(svc, registered):
    published = call(svc, "verification_public_key", None)
    key = serialization.load_pem_public_key(published["public_key_pem"].encode())
    payload = registered["qr_payload"]
    assert signing.parse_and_verify(payload, key) == (registered["number"], PDF_SHA)   # offline: the key alone
    number, sha, signature = payload.split(".")[1:]
    forged = f"QI1.{number}.{'0' * 64}.{signature}"
    assert signing.parse_and_verify(forged, key) is None
    out = call(svc, "verify_qr", None, payload={"payload": payload})
    assert out["result"] == "valid" and out["signature_valid"] is True and out["method"] == "qr"
    with pytest.raises(NotFound):
        call(svc, "verify_qr", None, payload={"payload": forged})
    qr = call(svc, "report_qr", LAB, number=registered["number"])
    assert qr["payload"] == payload and qr["svg"].startswith("<svg")


def test_dropping_in_the_pdf_compares_its_hash(svc, registered):
    out = call(svc, "verify_pdf", None, payload={"pdf_base64": base64.b64encode(PDF).decode()})
    assert out["number"] == registered["number"] and out["method"] == "pdf"
    assert call(svc, "verify_pdf", None, payload={"pdf_sha256": PDF_SHA})["result"] == "valid"
    with pytest.raises(NotFound):
        call(svc, "verify_pdf", None, payload={"pdf_base64": base64.b64encode(b"%PDF altered").decode()})
    with pytest.raises(ValidationFailed):
        call(svc, "verify_pdf", None, payload={})


def test_acceptances_count_retests_avoided(db, svc, registered):
    number, code = registered["number"], registered["verification_code"]
    out = call(svc, "accept_report", None, number=number,
               payload={"code": code, "party": "泰州市某采购中心", "purpose": "政府采购投标资格审查"})
    assert out["retests_avoided"] == 1 and out["acceptance_count"] == 1
    call(svc, "accept_report", None, number=number,
         payload={"code": code, "party": "某代理机构", "purpose": "认证申请", "retest_avoided": False})
    report = call(svc, "get_report", LAB, number=number)
    assert report["acceptance_count"] == 2 and report["retests_avoided"] == 1
    with pytest.raises(NotFound):
        call(svc, "accept_report", None, number=number, payload={"code": "BADCODE1", "party": "x1", "purpose": "p1"})
    call(svc, "withdraw_report", LAB, number=number, payload={"reason": "错误"})
    with pytest.raises(Conflict):
        call(svc, "accept_report", None, number=number, payload={"code": code, "party": "x1", "purpose": "p1"})


def test_result_of_uses_the_shanghai_date():
    from services.delivery.models import Report
    report = Report(status="valid", valid_until=dt.date(2026, 1, 1))
    assert verification.result_of(report, today=dt.date(2026, 1, 1)) == "valid"
    assert verification.result_of(report, today=dt.date(2026, 1, 2)) == "expired"
