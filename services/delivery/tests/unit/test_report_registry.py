"""The report registry (R-4.1.3): scope checks from registry events, supersede, withdraw, bad input."""
from __future__ import annotations

import base64

import pytest

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.delivery.models import Report
from services.delivery.tests.helpers import (ENTERPRISE, LAB, LAB_ID, OPERATOR, OTHER_ENTERPRISE, PDF, PDF_SHA,
                                              call, count, events, know, lab_profile, qualification, report_body)


def test_a_report_within_scope_is_registered_in_scope_with_a_code_once(db, svc):
    know(db, lab_profile())
    out = call(svc, "register_report", LAB, payload=report_body(), idempotency_key="k1")
    assert out["scope"] == "in_scope" and out["scope_flags"] == []
    assert out["institution_id"] == LAB_ID and out["institution_name"] == "泰州市产品质量监督检验所"
    assert len(out["verification_code"]) == 8 and out["qr_payload"].startswith("QI1.TZ2026-0001.")
    again = call(svc, "register_report", LAB, payload=report_body(), idempotency_key="k1")
    assert again["id"] == out["id"] and count(db, Report) == 1
    # Shown once: reading it later never shows the code.
    assert "verification_code" not in call(svc, "get_report", LAB, number="TZ2026-0001")
    [event] = events(db, "report.registered")
    assert event["data"]["scope"] == "in_scope" and "verification_code" not in str(event)


@pytest.mark.parametrize("profile, body, flag", [
    (None, {}, "institution_unknown"),
    (lab_profile(quals=[qualification("CNAS")]), {}, "mark_without_cma"),
    (lab_profile(), {"standards": ["GB 4706.1-2005"]}, "standard_not_published"),
    (lab_profile(quals=[qualification("CMA", valid_to="2025-01-01")]), {"marks": []},
     "capability_qualification_expired"),
    (lab_profile(), {"marks": ["ilac-MRA"], "standards": ["GB/T 3956-2008"]}, None),
])
def test_outside_the_valid_scope_is_flagged_never_silently_accepted(db, svc, profile, body, flag):
    if profile:
        know(db, profile)
    out = call(svc, "register_report", LAB, payload=report_body(**body))
    codes = [f["code"] for f in out["scope_flags"]]
    if flag is None:
        assert out["scope"] == "in_scope", codes
    else:
        assert out["scope"] == "flagged" and flag in codes
        assert events(db, "report.registered")[0]["data"]["scope_flags"] == codes
        flagged = call(svc, "list_reports", OPERATOR, query={"scope": "flagged"})
        assert [r["number"] for r in flagged["items"]] == ["TZ2026-0001"]


def test_standards_compare_without_spacing_or_dash_differences(db, svc):
    know(db, lab_profile())
    out = call(svc, "register_report", LAB, payload=report_body(standards=["gb/t3956—2008"]))
    assert out["scope"] == "in_scope"


def test_a_corrected_report_supersedes_the_old_one(db, svc):
    know(db, lab_profile())
    call(svc, "register_report", LAB, payload=report_body("TZ2026-0001"))
    new = call(svc, "register_report", LAB, payload=report_body("TZ2026-0001A", supersedes="TZ2026-0001"))
    assert new["supersedes"] == "TZ2026-0001"
    old = call(svc, "get_report", ENTERPRISE, number="TZ2026-0001")
    assert old["status"] == "superseded" and old["superseded_by"] == "TZ2026-0001A"
    assert [e["data"]["superseded_by"] for e in events(db, "report.superseded")] == ["TZ2026-0001A"]
    with pytest.raises(Conflict) as refused:   # a superseded report cannot be superseded again
        call(svc, "register_report", LAB, payload=report_body("TZ2026-0001B", supersedes="TZ2026-0001"))
    assert refused.value.code == "report_not_valid" and count(db, Report) == 2


def test_withdraw_needs_a_reason_and_the_issuer(db, svc):
    know(db, lab_profile())
    call(svc, "register_report", LAB, payload=report_body())
    with pytest.raises(ValidationFailed):
        call(svc, "withdraw_report", LAB, number="TZ2026-0001", payload={"reason": " "})
    with pytest.raises(Forbidden):   # the pipeline's role check: an enterprise never withdraws
        call(svc, "withdraw_report", ENTERPRISE, number="TZ2026-0001", payload={"reason": "数据有误"})
    out = call(svc, "withdraw_report", LAB, number="TZ2026-0001", payload={"reason": "原始记录有误"})
    assert out["status"] == "withdrawn" and out["withdrawn_reason"] == "原始记录有误"
    with pytest.raises(Conflict):
        call(svc, "withdraw_report", LAB, number="TZ2026-0001", payload={"reason": "again"})
    assert events(db, "report.withdrawn")[0]["data"]["reason"] == "原始记录有误"


@pytest.mark.parametrize("body, field", [
    ({"number": "x"}, "number"),
    ({"pdf_sha256": "ABC"}, "pdf_sha256"),
    ({"marks": ["ISO"]}, "marks"),
    ({"standards": []}, "standards"),
    ({"test_date": "2026-13-01"}, "test_date"),
    ({"valid_until": "2020-01-01"}, "valid_until"),
    ({"extra": 1}, "extra"),
    ({"pdf_base64": base64.b64encode(PDF).decode()}, "pdf_sha256"),   # the PDF is not the hash given
])
def test_bad_input_is_422_and_writes_nothing(db, svc, body, field):
    know(db, lab_profile())
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "register_report", LAB, payload=report_body(**body))
    assert field in refused.value.errors
    assert count(db, Report) == 0 and events(db, "report.registered") == []


def test_the_pdf_is_kept_when_given_and_its_hash_matches(db, svc, tmp_path):
    know(db, lab_profile())
    out = call(svc, "register_report", LAB,
               payload=report_body(pdf_sha256=PDF_SHA, pdf_base64=base64.b64encode(PDF).decode()))
    assert out["pdf_stored"] is True
    assert (tmp_path / "delivery" / "reports" / f"{PDF_SHA}.pdf").read_bytes() == PDF


def test_who_sees_a_report(db, svc):
    from services.common.errors import NotFound
    know(db, lab_profile())
    call(svc, "register_report", LAB, payload=report_body())
    assert call(svc, "list_reports", ENTERPRISE)["total"] == 1
    assert call(svc, "list_reports", OTHER_ENTERPRISE)["total"] == 0
    with pytest.raises(NotFound):
        call(svc, "get_report", OTHER_ENTERPRISE, number="TZ2026-0001")


def test_a_second_registration_of_a_number_is_409(db, svc):
    call(svc, "register_report", LAB, payload=report_body())
    with pytest.raises(Conflict) as refused:
        call(svc, "register_report", LAB, payload=report_body())
    assert refused.value.code == "report_number_taken"


def test_staff_register_for_a_named_institution_only(db, svc):
    with pytest.raises(ValidationFailed):
        call(svc, "register_report", OPERATOR, payload=report_body())
    out = call(svc, "register_report", OPERATOR, payload=report_body(institution_id=LAB_ID))
    assert out["institution_id"] == LAB_ID
    with pytest.raises(Forbidden):
        call(svc, "register_report", LAB, payload=report_body("TZ-OTHER", institution_id="someone-else"))


def test_a_report_registered_before_the_profile_arrived_is_checked_when_it_arrives(db, svc):
    first = call(svc, "register_report", LAB, payload=report_body("TZ-EARLY-1"))
    bad = call(svc, "register_report", LAB, payload=report_body("TZ-EARLY-2", standards=["GB 1-2000"]))
    assert first["scope"] == bad["scope"] == "flagged"
    know(db, lab_profile())
    assert call(svc, "get_report", LAB, number="TZ-EARLY-1")["scope"] == "in_scope"
    later = call(svc, "get_report", LAB, number="TZ-EARLY-2")
    assert later["scope"] == "flagged" and [f["code"] for f in later["scope_flags"]] == ["standard_not_published"]
