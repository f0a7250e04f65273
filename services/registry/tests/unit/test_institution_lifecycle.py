"""Registry domain: onboarding with review clock, attachments, profile events, changes,
deregistration, guides, sweep. Real migrated SQLite database, no broker."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.common import contracts, sla
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.schemas import load
from services.registry import applications, changes, deregistration, files, guides, institutions, notifications, qualifications, sweep
from services.registry.files import MAX_FILE_BYTES
from services.registry.models import Application, Institution, StoredFile
from services.registry.contract.schemas_applications import ApplicationIn

from ..helpers import (APPLICANT, EXE, OPERATOR, OTHER, PDF, REGULATOR, WED, application, approved as _approved,
                       attachment, dumped, events, review, submit)

def stored_files(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(StoredFile))


def test_review_due_wednesday_0930_is_saturday_1010_a_working_day():
    view = None
    # 3 working days after Wed 30 Sep 2026: 1-7 Oct are holidays, Sat 10 Oct is a 调休 working day.
    due = sla.get_calendar().due_instant(WED, 3)
    assert due.replace(tzinfo=dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(hours=8))).date() == \
        dt.date(2026, 10, 10)
    assert view is None


def test_application_clock_due_saturday(db):
    view = submit(db)
    clock = view["review_clock"]
    assert clock["rule"] == "registry.application_review" and clock["state"] == "running"
    assert clock["due_local"].startswith("2026-10-10T23:59:59")


def test_return_resubmit_restarts_clock_then_approve_publishes_profile(db):
    view = submit(db)
    app_id = view["application_id"]
    returned = review(db, app_id, "return", ["资质证书不清晰"], at=WED + dt.timedelta(hours=2))
    assert returned["status"] == "returned" and returned["review_clock"]["state"] == "paused"
    with db.transaction() as session:
        again = applications.resubmit_application(session, APPLICANT, app_id, load(ApplicationIn, application()),
                                                  at=dt.datetime(2026, 10, 9, 2, 0))
    clock = again["review_clock"]
    assert again["status"] == "submitted" and again["submissions"] == 2
    assert clock["state"] == "running" and clock["restarts"] == 1
    assert [h["action"] for h in clock["history"]] == ["start", "pause", "restart"]
    # restarted on Fri 9 Oct: Sat 10, Mon 12, Tue 13 -> due Tue 13 Oct
    assert clock["due_local"].startswith("2026-10-13")
    approved = review(db, app_id, "approve", at=dt.datetime(2026, 10, 12, 2, 0))
    assert approved["status"] == "approved" and approved["review_clock"]["state"] == "met"

    [event] = events(db, "institution.approved")
    assert contracts.validate_envelope(event) == "institution.approved"
    data = event["data"]
    assert data["revision"] == 1 and data["institution_id"] == view["institution_id"]
    snap = data["snapshot"]
    assert snap["status"] == "active" and snap["categories"] == ["testing"]
    assert snap["capabilities"][0]["method_standard"] == "GB 4706.1-2005"
    assert snap["capabilities"][0]["qualification_id"] == snap["qualifications"][0]["qualification_id"]
    assert "赵测试" not in json.dumps(events(db), ensure_ascii=False)  # legal representative never in events
    for etype in ("institution.applied", "institution.returned"):
        for e in events(db, etype):
            contracts.validate_envelope(e)
    with db.read() as session:
        public = institutions.get_institution(session, None, view["institution_id"])
        assert public["capabilities"][0]["price_yuan"] == "3200.00" and "legal_representative" not in public
        notes = notifications.notifications(session, APPLICANT)["items"]
    assert {n["kind"] for n in notes} == {"application.returned", "application.approved"}


@pytest.mark.parametrize("missing", ["application_form", "business_licence", "integrity_pledge"])
def test_missing_attachment_is_named(missing):
    payload = application()
    del payload["attachments"][missing]
    with pytest.raises(ValidationFailed) as info:
        load(ApplicationIn, payload)
    assert missing in info.value.errors["attachments"]


@pytest.mark.parametrize("missing", ["qualifications", "capabilities"])
def test_missing_qualifications_or_capabilities_is_named(missing):
    payload = application()
    del payload[missing]
    with pytest.raises(ValidationFailed) as info:
        load(ApplicationIn, payload)
    assert missing in info.value.errors


def _refused(db, payload, at=WED):
    before = stored_files(db)
    with pytest.raises(ValidationFailed) as info:
        submit(db, payload, at=at)
    assert stored_files(db) == before == 0
    assert not any(files.files_dir().rglob("*"))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0
    assert events(db) == [] or all(e["type"] == "catalogue.changed" for e in events(db))
    return info.value


def test_expired_certificate_refused_and_nothing_stored(db):
    payload = application()
    payload["qualifications"][0]["valid_to"] = "2026-09-29"
    error = _refused(db, payload)
    assert "valid_to" in error.errors["qualifications"][0]


def test_wrong_file_type_refused(db):
    payload = application()
    payload["attachments"]["business_licence"] = attachment(EXE, "licence.pdf")
    error = _refused(db, payload)
    assert "business_licence" in error.errors["attachments"]


def test_oversized_file_refused(db):
    payload = application()
    payload["attachments"]["integrity_pledge"] = attachment(PDF + b"x" * MAX_FILE_BYTES)
    with pytest.raises(ValidationFailed) as info:
        load(ApplicationIn, payload)
    assert "integrity_pledge" in info.value.errors["attachments"]
    # and the service's own check, should a caller skip the schema
    assert "MiB" in files.check(payload["attachments"]["integrity_pledge"])


def test_files_are_content_addressed(db):
    view = submit(db)
    ref = view["attachments"]["application_form"]
    with db.read() as session:
        stored, content = files.read(session, ref["file_id"])
        media_type = stored.media_type
    assert media_type == "application/pdf" and content.startswith(b"%PDF")
    import hashlib
    assert hashlib.sha256(content).hexdigest() == ref["file_id"]


def test_applicants_see_only_their_own_application(db):
    app_id = submit(db)["application_id"]
    with db.read() as session:
        with pytest.raises(NotFound):
            applications.get_application(session, OTHER, app_id)
        assert applications.get_application(session, REGULATOR, app_id)["application_id"] == app_id
        assert applications.list_applications(session, OTHER)["total"] == 0
    with db.transaction() as session, pytest.raises(Forbidden):
        applications.review_application(session, REGULATOR, app_id, "approve")


def test_institution_staff_edit_only_their_institution(db):
    mine, theirs = _approved(db, 1), _approved(db, 2)
    staff = {"user_id": "inst-staff", "role": "institution", "institution_id": mine}
    cap = {"category": "testing", "item_code": "tst.matching", "product": "电线电缆", "parameter": "导体电阻",
           "method_standard": "GB/T 3956-2008", "price_yuan": "650.5", "cycle_working_days": 5}
    with db.transaction() as session:
        out = qualifications.add_capability(session, staff, mine, cap)
    assert out["price_yuan"] == "650.50"
    published = events(db, "capability.published")[-1]
    assert contracts.validate_envelope(published) and published["data"]["revision"] == 2
    with db.transaction() as session, pytest.raises(Forbidden):
        qualifications.add_capability(session, staff, theirs, cap)


def test_capability_with_expired_qualification_refused_and_expired_ones_leave_profile(db):
    inst_id = _approved(db)
    staff = {"user_id": "inst-staff", "role": "institution", "institution_id": inst_id}
    with db.read() as session:
        qual_id = institutions.get_institution(session, None, inst_id)["qualifications"][0]["qualification_id"]
    # the sweep 30 days ahead warns once, on the day after valid_to it expires the qualification
    with db.transaction() as session:
        assert sweep.sweep(session, now=dt.datetime(2030, 12, 5, 1))["expiring"] == 1
    with db.transaction() as session:
        assert sweep.sweep(session, now=dt.datetime(2030, 12, 6, 1))["expiring"] == 0
    [expiring] = events(db, "qualification.expiring")
    assert contracts.validate_envelope(expiring) and expiring["data"]["days_left"] == 26
    with db.transaction() as session:
        sweep.sweep(session, now=dt.datetime(2031, 1, 2, 1))
    changed = events(db, "institution.changed")[-1]
    assert changed["data"]["snapshot"]["qualifications"][0]["status"] == "expired"
    assert changed["data"]["snapshot"]["capabilities"] == []
    cap = {"category": "testing", "item_code": "tst.matching", "product": "x", "parameter": "y",
           "method_standard": "GB/T 1-2020", "price_yuan": "1", "cycle_working_days": 1, "qualification_id": qual_id}
    with db.transaction() as session, pytest.raises(ValidationFailed) as info:
        qualifications.add_capability(session, staff, inst_id, cap, at=dt.datetime(2031, 1, 2, 1))
    assert "qualification_id" in info.value.errors


def test_late_review_counts_breach(db):
    before = REGISTRY.get_sample_value("qi_sla_breached_total", {"rule": "registry.application_review"}) or 0
    submit(db)
    with db.transaction() as session:
        assert sweep.sweep(session, now=dt.datetime(2026, 10, 11, 1))["overdue"] == 1
    after = REGISTRY.get_sample_value("qi_sla_breached_total", {"rule": "registry.application_review"})
    assert after == before + 1


def test_change_is_reviewed_keeps_history_and_flags_late(db):
    inst_id = _approved(db)
    staff = {"user_id": "inst-staff", "role": "institution", "institution_id": inst_id}
    with db.transaction() as session:
        change = changes.submit_change(session, staff, inst_id, {
            "name": "泰州新名称检测有限公司", "change_date": "2026-09-01",
            "attachments": {"business_licence": attachment(), "supporting": [attachment(PDF + b"lease")]}},
            at=dt.datetime(2026, 10, 12, 2))
    assert change["late"] is True and change["before"]["name"].startswith("泰州测试")
    with db.transaction() as session:
        changes.review_change(session, OPERATOR, inst_id, change["change_id"], "approve")
    changed = events(db, "institution.changed")[-1]
    assert changed["data"]["snapshot"]["name"] == "泰州新名称检测有限公司" and changed["data"]["revision"] == 2
    with db.read() as session:
        actions = [h["action"] for h in dumped("institution_history",
                                                institutions.history(session, REGULATOR, inst_id))]
    assert actions == ["approved", "change_submitted", "change_approved"]


def test_deregistration_self_late_and_forced(db):
    first, second = _approved(db, 1), _approved(db, 2)
    staff = {"user_id": "inst-staff", "role": "institution", "institution_id": first}
    with db.transaction() as session:
        out = deregistration.deregister(session, staff, first, {"reason": "停业", "closed_on": "2026-01-01"},
                                      at=dt.datetime(2026, 3, 1))
    assert out["deregistration_late"] is True and out["deregistration_forced"] is False
    with db.transaction() as session:
        qual = institutions.get_institution(session, OPERATOR, second)["qualifications"][0]["qualification_id"]
        deregistration.deregister(session, OPERATOR, second, {"reason": "资质被撤销", "qualification_id": qual})
    evs = events(db, "institution.deregistered")
    assert [e["data"]["forced"] for e in evs] == [False, True]
    for e in evs:
        contracts.validate_envelope(e)
    with db.read() as session:
        with pytest.raises(NotFound):
            institutions.get_institution(session, None, first)
        assert institutions.list_institutions(session, None)["total"] == 0
        assert institutions.get_institution(session, REGULATOR, second)["status"] == "deregistered"
    # Re-applying online is refused up front, not after a review cycle that could never approve it.
    with pytest.raises(Conflict) as caught:
        submit(db, application(1))
    assert caught.value.code == "institution_deregistered"


def test_guides_are_versioned(db):
    body = {"title": "指南", "acceptance_conditions": "条件", "materials": ["营业执照"], "process_steps": ["提交"],
            "fees": "免费", "channels": ["线上"]}
    with db.transaction() as session:
        guides.publish(session, OPERATOR, "tst.matching", body)
        guides.publish(session, OPERATOR, "tst.matching", {**body, "fees": "按公示价格"})
    with db.read() as session:
        current = dumped("get_guide", guides.current(session, "tst.matching"))
        assert current["version"] == 2 and current["materials"] == ["营业执照"] and current["item_name_zh"]
        assert current["created_at"].endswith("Z")
        versions = dumped("list_guide_versions", guides.versions(session, "tst.matching"))
        assert [(v["version"], v["current"]) for v in versions] == [(2, True), (1, False)]
        assert dumped("get_guide_version", guides.version(session, "tst.matching", 1))["fees"] == "免费"


def test_duplicate_application_conflicts(db):
    submit(db)
    with pytest.raises(Conflict):
        submit(db)


def test_list_paging_is_bounded():
    """An unbounded offset reached SQLite as an integer overflow: a 500 from a query string."""
    from services.registry.contract.schemas_common import ListQuery
    with pytest.raises(ValidationFailed) as caught:
        load(ListQuery, {"offset": "99999999999999999999"})
    assert "offset" in caught.value.errors
