"""The new identity views (verification level, licence review, external check) pass through their
gateway response schemas unchanged: a field missing from a schema would vanish from the HTTP answer."""
from __future__ import annotations

import base64

from services.gateway.tests.test_response_schemas import check
from services.identity import external

from .helpers import enterprise_payload, make_user
from .test_verification_levels import FakeVerifier, PDF, upload


def test_licence_and_level_views_keep_every_field(service, db, sms, monkeypatch):
    view = service.register(enterprise_payload())
    check("POST /auth/register/enterprise", view)
    principal = {"user_id": view["id"], "role": "enterprise", "sid": None, "ip": None}
    service.request_phone_code(principal)
    check("POST /auth/phone/verify", service.verify_phone(principal, sms.last_code))
    check("PUT /me/licence", service.upload_licence(principal, upload()))
    operator = make_user(db, "op", "operator")
    check("GET /licence-reviews", service.licence_queue(operator))
    got = check("GET /licence-reviews/<user_id>/file", service.licence_file(operator, view["id"]))
    assert base64.b64decode(got["content_base64"]) == PDF
    check("POST /licence-reviews/<user_id>/decision",
          service.decide_licence(operator, view["id"], {"decision": "return", "reason": "不清晰 / blurred"}))
    check("GET /me/licence", service.my_licence(principal))
    service.upload_licence(principal, upload())
    check("POST /licence-reviews/<user_id>/decision",
          service.decide_licence(operator, view["id"], {"decision": "approve"}))
    monkeypatch.setenv("QI_EXTERNAL_VERIFIER", f"{FakeVerifier.__module__}:FakeVerifier")
    external.configured.cache_clear()
    FakeVerifier.accept, FakeVerifier.fail = {view["uscc"]}, False
    try:
        check("POST /me/external-verification", service.request_external_verification(principal))
    finally:
        external.configured.cache_clear()
    me = check("GET /me", service.me(principal))
    assert me["verification_level"] == "externally_verified" and me["licence_reviewed_at"]
    check("GET /users/<user_id>", service.get_user(operator, view["id"]))
