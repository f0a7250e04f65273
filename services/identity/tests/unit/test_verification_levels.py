"""Verification levels, business-licence review and the pluggable external verifier (issue 8 point 7).

Scenario functions take a Database so tests/integration runs them on PostgreSQL too.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest

from services.common import errors, sla, verification_levels
from services.common.audit import list_audit
from services.common.workdays import get_calendar
from services.identity import external, levels, licence, licence_files, registration, tokens, users
from services.identity.contract.schemas_licence import LicenceReviewOut
from services.identity.models import LicenceReview, User

from ..helpers import enterprise_payload, events, make_user

PDF = b"%PDF-1.4\n% licence scan\n%%EOF\n"
PDF_2 = b"%PDF-1.4\n% licence scan, corrected\n%%EOF\n"
# Monday 2026-09-14: three working days later is Thursday 17th (no holiday that week).
MONDAY = dt.datetime(2026, 9, 14, 2, 0)


def upload(content=PDF, filename="licence.pdf"):
    return {"filename": filename, "content_base64": base64.b64encode(content).decode()}


def register_enterprise(db, username="acme", phone_verified=True, **overrides):
    with db.transaction() as session:
        from services.identity.contract.schemas import RegisterEnterprise, load
        data = load(RegisterEnterprise, enterprise_payload(username=username, **overrides))
        user = registration.register(session, data, now=MONDAY - dt.timedelta(hours=1))
        if phone_verified:
            user.phone_verified_at = MONDAY - dt.timedelta(minutes=30)
        return user.id


def dumped(case) -> dict:
    """What the operation answers: the review dumped by its response schema (inside the session)."""
    return LicenceReviewOut().dump(case)


def level(db, user_id):
    with db.read() as session:
        return levels.level_of(session.get(User, user_id))


def scenario_licence_review_with_return_and_resubmission(db):
    operator = make_user(db, "op", "operator")
    user_id = register_enterprise(db)
    assert level(db, user_id) == "phone_verified"

    with db.transaction() as session:
        view = dumped(licence.submit(session, session.get(User, user_id), upload(), at=MONDAY))
    assert view["status"] == "submitted" and view["round"] == 1
    sha = hashlib.sha256(PDF).hexdigest()
    assert view["file"] == {"file_id": sha, "filename": "licence.pdf", "media_type": "application/pdf",
                            "size": len(PDF)}
    assert licence_files.path_for(sha).read_bytes() == PDF
    clock = view["review_clock"]
    assert clock["rule"] == "identity.licence_review" and clock["state"] == "running"
    # Three PRC working days from the calendar, not "+3 days".
    expected = get_calendar().due_instant(MONDAY, sla.get_rule("identity.licence_review").limit_working_days)
    assert clock["due_at"] == expected.isoformat() + "Z"

    with db.read() as session:
        assert [r.user_id for r in licence.queue(session)["items"]] == [user_id]
    with db.transaction() as session:
        with pytest.raises(errors.Conflict) as busy:
            licence.submit(session, session.get(User, user_id), upload(PDF_2), at=MONDAY)
    assert busy.value.code == "licence_under_review"

    returned_at = MONDAY + dt.timedelta(hours=3)
    with db.transaction() as session:
        view = dumped(licence.decide(session, operator, user_id, {"decision": "return", "reason": "照片模糊 / blurred"},
                                     at=returned_at))
    assert view["status"] == "returned" and view["return_reason"] == "照片模糊 / blurred"
    assert view["review_clock"]["state"] == "paused"
    assert level(db, user_id) == "phone_verified"

    resubmitted_at = MONDAY + dt.timedelta(days=1)
    with db.transaction() as session:
        view = dumped(licence.submit(session, session.get(User, user_id), upload(PDF_2, "licence-v2.pdf"),
                                     at=resubmitted_at))
    assert view["status"] == "submitted" and view["round"] == 2
    assert view["review_clock"]["state"] == "running" and view["review_clock"]["restarts"] == 1
    assert view["review_clock"]["started_at"] == resubmitted_at.isoformat() + "Z"

    with db.transaction() as session:
        view = dumped(licence.decide(session, operator, user_id, {"decision": "approve"},
                                     at=resubmitted_at + dt.timedelta(hours=2)))
        user = session.get(User, user_id)
        token, _ = tokens.issue_access_token(user, "sid-1")
    assert view["status"] == "approved" and view["review_clock"]["state"] == "met"
    assert [h["action"] for h in view["history"]] == ["submitted", "returned", "resubmitted", "approved"]
    assert level(db, user_id) == "licence_reviewed"
    assert tokens.decode_access_token(token)["verification_level"] == "licence_reviewed"
    raised = [e["data"] for e in events(db, "user.verified") if e["data"]["user_id"] == user_id]
    assert raised == [{"user_id": user_id, "aspect": "licence", "level": "licence_reviewed",
                       "previous_level": "phone_verified", "verified_at": raised[0]["verified_at"]}]
    with db.read() as session:
        actions = [a["action"] for a in list_audit(session) if a["target_id"] == user_id]
        assert "licence.returned" in actions and "licence.approved" in actions
        assert users.Shown(session.get(User, user_id)).identity_verified is True
    with db.transaction() as session:
        with pytest.raises(errors.Conflict) as done:
            licence.submit(session, session.get(User, user_id), upload(), at=MONDAY + dt.timedelta(days=2))
    assert done.value.code == "licence_already_approved"


def test_licence_review_with_return_and_resubmission(db):
    scenario_licence_review_with_return_and_resubmission(db)


def test_upload_needs_a_verified_phone_and_an_enterprise(db):
    user_id = register_enterprise(db, phone_verified=False)
    with db.transaction() as session:
        with pytest.raises(errors.Conflict) as caught:
            licence.submit(session, session.get(User, user_id), upload())
    assert caught.value.code == "phone_not_verified"
    person = make_user(db, "p1", "person")
    with db.transaction() as session:
        with pytest.raises(errors.Forbidden):
            licence.submit(session, session.get(User, person["user_id"]), upload())


@pytest.mark.parametrize("content,message", [
    (b"MZ\x90\x00 an executable", "file type not allowed"),
    (b"", "content_base64 is required"),
    (b"%PDF-" + b"0" * licence_files.MAX_FILE_BYTES, "larger than"),
])
def test_bad_files_are_refused_and_nothing_is_written(db, content, message):
    user_id = register_enterprise(db)
    with db.transaction() as session:
        with pytest.raises(errors.ValidationFailed) as caught:
            licence.submit(session, session.get(User, user_id), upload(content, "licence.pdf"))
    assert message in caught.value.errors["licence"][0] and " / " in caught.value.errors["licence"][0]
    with db.read() as session:
        assert session.query(LicenceReview).count() == 0
    assert not any(licence_files.files_dir().rglob("*"))


# -- the declared levels ---------------------------------------------------------------------

def test_every_declared_action_names_a_known_level():
    assert verification_levels.REQUIRED["demand.publish"] == "licence_reviewed"
    for action in ("demand.publish", "booking.create", "complaint.create"):
        assert verification_levels.required_for(action) in verification_levels.LEVELS
    assert set(verification_levels.REQUIRED.values()) <= set(verification_levels.LEVELS)


def test_below_the_level_is_a_bilingual_403_naming_both_levels():
    with pytest.raises(errors.VerificationLevelRequired) as caught:
        verification_levels.require("demand.publish", "format_checked")
    problem = caught.value.problem()
    assert problem["status"] == 403 and problem["code"] == "verification_level_required"
    assert (problem["required_level"], problem["current_level"]) == ("licence_reviewed", "format_checked")
    assert "licence_reviewed" in problem["detail"] and "需要" in problem["detail"] and " / " in problem["detail"]
    verification_levels.require("demand.publish", "externally_verified")   # higher is fine
    with pytest.raises(errors.VerificationLevelRequired) as none:
        verification_levels.require("booking.create", None)                # no level (old token, staff)
    from nameko.exceptions import deserialize, serialize
    back = deserialize(serialize(caught.value))
    assert isinstance(back, errors.VerificationLevelRequired) and back.problem() == problem
    assert deserialize(serialize(none.value)).problem()["current_level"] is None


# -- the external verifier ----------------------------------------------------------------------

class FakeVerifier:
    """Test double: verifies whoever's USCC / ID number is in `accept`."""

    name = "fake-registry"
    accept: set = set()
    fail = False
    seen: list = []

    def verify(self, subject):
        type(self).seen.append(subject)
        if type(self).fail:
            raise TimeoutError("authority did not answer")
        ok = (subject.uscc or subject.id_number) in type(self).accept
        return external.VerificationResult(ok, reference="TX-1" if ok else None,
                                           reason=None if ok else "记录不符 / no matching record")


@pytest.fixture
def fake_verifier(monkeypatch):
    monkeypatch.setenv("QI_EXTERNAL_VERIFIER", f"{__name__}:FakeVerifier")
    external.configured.cache_clear()
    FakeVerifier.accept, FakeVerifier.fail, FakeVerifier.seen = set(), False, []
    yield FakeVerifier
    external.configured.cache_clear()


def test_verifier_spec_is_checked():
    assert external.load("") is None
    with pytest.raises(RuntimeError):
        external.load("no-colon")
    with pytest.raises(RuntimeError):
        external.load("services.identity.levels:SOURCE")   # a str instance has no verify()
    assert isinstance(external.load(f"{__name__}:FakeVerifier"), external.ExternalVerifier)


def test_licence_file_store_gc_repairs_what_a_crash_left(db):
    import os
    import time

    sha = hashlib.sha256(PDF).hexdigest()
    with db.transaction() as session:
        licence_files.store(session, licence_files.check(upload()))
    final = licence_files.path_for(sha)
    # A crash between commit and rename: the row exists, the file only under its temp name.
    os.replace(final, final.with_name(f"{sha}.dead.tmp"))
    orphan = licence_files.path_for("ab" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"%PDF-unrecorded")
    with db.read() as session:
        assert licence_files.gc(session) == {"promoted": 1, "temp_removed": 0, "orphans_removed": 0}
        assert final.read_bytes() == PDF and orphan.exists()   # young orphans may belong to an open transaction
        assert licence_files.gc(session, now=time.time() + 2 * 86400)["orphans_removed"] == 1
    assert not orphan.exists() and final.exists()


def scenario_licence_review_verdict_names_no_institution_or_window(db):
    """Operators review licences for the platform: the verdict names no institution or window,
    even when the reviewer's token is bound to one (licence.submit says why)."""
    admin = {**make_user(db, "adm", "admin"), "window_id": "window-A", "institution_id": "inst-1"}
    user_id = register_enterprise(db)
    with db.transaction() as session:
        licence.submit(session, session.get(User, user_id), upload(), at=MONDAY)
    with db.transaction() as session:
        licence.decide(session, admin, user_id, {"decision": "approve"}, at=MONDAY + dt.timedelta(hours=2))
    [verdict] = [e["data"] for e in events(db, "sla.clock_closed") if e["data"]["subject_id"] == user_id]
    assert (verdict["rule"], verdict["outcome"]) == ("identity.licence_review", "met")
    assert (verdict["institution_id"], verdict["window_id"]) == (None, None)


def test_a_licence_review_verdict_counts_for_the_platform_only(db):
    scenario_licence_review_verdict_names_no_institution_or_window(db)
