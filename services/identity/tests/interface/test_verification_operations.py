"""Verification-level operations through the pipeline: phone code, licence upload and review, external check."""
from __future__ import annotations

import base64

import pytest

from services.common import errors, verification_levels
from services.common.audit import list_audit
from services.identity import external
from services.identity.models import User

from ..helpers import enterprise_payload, events, make_user, person_payload
from ..unit.test_verification_levels import MONDAY, PDF, fake_verifier, level, register_enterprise, upload  # noqa: F401


def test_levels_rise_step_by_step_and_are_announced(service, db, sms):
    view = service.register(enterprise_payload())
    principal = {"user_id": view["id"], "role": "enterprise", "sid": None, "ip": None}
    assert view["verification_level"] == "format_checked" and view["identity_verified"] is False
    assert events(db, "user.verified") == []
    service.request_phone_code(principal, {})
    me = service.verify_phone(principal, {"code": sms.last_code})
    assert me["verification_level"] == "phone_verified" and me["identity_verified"] is False
    (event,) = events(db, "user.verified")
    assert (event["data"]["aspect"], event["data"]["level"], event["data"]["previous_level"]) == \
        ("phone", "phone_verified", "format_checked")
    staff = make_user(db, "op", "operator")
    assert service.me(staff)["verification_level"] is None   # staff have no level


def test_only_operators_and_admins_decide(service, db):
    user_id = register_enterprise(db)
    principal = {"user_id": user_id, "role": "enterprise", "sid": None, "ip": None}
    service.upload_licence(principal, upload())
    regulator = make_user(db, "reg", "regulator")
    assert service.licence_queue(regulator)["items"][0]["user_id"] == user_id   # regulators see the queue
    for caller in (regulator, principal):
        with pytest.raises(errors.Forbidden):
            service.decide_licence(caller, user_id, {"decision": "approve"})
    with pytest.raises(errors.ValidationFailed) as no_reason:
        service.decide_licence(make_user(db, "op", "operator"), user_id, {"decision": "return"})
    assert "reason" in no_reason.value.errors
    assert service.my_licence(principal)["status"] == "submitted"


def test_reviewer_reads_the_file_and_the_read_is_audited(service, db):
    user_id = register_enterprise(db)
    service.upload_licence({"user_id": user_id, "role": "enterprise", "sid": None, "ip": None}, upload())
    operator = make_user(db, "op", "operator")
    got = service.licence_file(operator, user_id)
    assert base64.b64decode(got["content_base64"]) == PDF and got["media_type"] == "application/pdf"
    with db.read() as session:
        assert list_audit(session, action="licence.file_viewed")[0]["target_id"] == user_id


def test_open_review_clocks_are_listed_for_staff(service, db):
    user_id = register_enterprise(db)
    service.upload_licence({"user_id": user_id, "role": "enterprise", "sid": None, "ip": None}, upload())
    clocks = service.list_open_clocks(make_user(db, "op", "operator"))
    assert [(c["rule"], c["subject_id"]) for c in clocks] == [("identity.licence_review", user_id)]


def test_no_verifier_is_configured_by_default(service, db, monkeypatch):
    monkeypatch.delenv("QI_EXTERNAL_VERIFIER", raising=False)
    external.configured.cache_clear()
    user_id = register_enterprise(db)
    with pytest.raises(errors.DomainError) as caught:
        service.request_external_verification({"user_id": user_id, "role": "enterprise", "sid": None, "ip": None})
    assert (caught.value.status, caught.value.code) == (501, "external_verification_not_configured")
    assert level(db, user_id) == "phone_verified"


def test_configured_verifier_raises_the_level(service, db, fake_verifier):
    payload = enterprise_payload()
    fake_verifier.accept = {payload["uscc"]}
    user_id = register_enterprise(db)
    principal = {"user_id": user_id, "role": "enterprise", "sid": None, "ip": None}
    result = service.request_external_verification(principal)
    assert result["verified"] is True and result["verification_level"] == "externally_verified"
    assert fake_verifier.seen[0].uscc == payload["uscc"] and fake_verifier.seen[0].kind == "enterprise"
    assert events(db, "user.verified")[-1]["data"]["level"] == "externally_verified"
    # Externally verified satisfies what a reviewed licence would.
    verification_levels.require("demand.publish", level(db, user_id))
    with pytest.raises(errors.Conflict):
        service.request_external_verification(principal)


def test_verifier_saying_no_or_failing_changes_nothing(service, db, fake_verifier):
    user_id = register_enterprise(db)
    principal = {"user_id": user_id, "role": "enterprise", "sid": None, "ip": None}
    refused = service.request_external_verification(principal)
    assert refused["verified"] is False and "no matching record" in refused["reason"]
    fake_verifier.fail = True
    with pytest.raises(errors.ServiceUnavailable) as caught:
        service.request_external_verification(principal)
    assert caught.value.code == "external_verifier_failed" and caught.value.retry_after
    assert level(db, user_id) == "phone_verified" and events(db, "user.verified") == []


def test_a_person_is_verified_by_id_number(service, db, fake_verifier):
    payload = person_payload()
    view = service.register(payload)
    with db.transaction() as session:
        session.get(User, view["id"]).phone_verified_at = MONDAY
    fake_verifier.accept = {payload["id_number"]}
    result = service.request_external_verification({"user_id": view["id"], "role": "person", "sid": None, "ip": None})
    assert result["verification_level"] == "externally_verified"


