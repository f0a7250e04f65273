"""Verification levels end to end (issue 8 point 7): an enterprise registers (format_checked, may not
publish), verifies its phone, uploads its business licence; an operator returns it, the enterprise
resubmits, the operator approves; after a token refresh the level is licence_reviewed and the
enterprise publishes a demand. The user.verified events match docs/asyncapi.yaml."""
from __future__ import annotations

import base64
import time

import jwt
import pytest

from services.common.contracts import validate_envelope

from .test_identity_flow import PikaSubscriber, read_code, unique_phone, unique_username, unique_uscc

pytestmark = pytest.mark.e2e

PASSWORD = "Correct-Horse-9"
LICENCE = b"%PDF-1.4\n% business licence scan\n%%EOF\n"
LICENCE_FIXED = b"%PDF-1.4\n% business licence scan, legible\n%%EOF\n"
DEMAND = {"title": "塑料管材静液压试验", "category": "testing", "product": "塑料管材", "region": "姜堰区"}


def licence(content):
    return {"filename": "licence.pdf", "content_base64": base64.b64encode(content).decode()}


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_enterprise_reaches_licence_reviewed_and_then_publishes(platform, api):
    subscriber = PikaSubscriber(platform.env["QI_AMQP_URI"], "identity.events", binding="user.verified")
    try:
        username = unique_username("e")
        registered = api.post("/api/v1/auth/register/enterprise", json={
            "username": username, "password": PASSWORD, "phone": unique_phone(), "nickname": "管材厂",
            "org_name": "泰州某管材有限公司", "uscc": unique_uscc(), "contact_name": "周管"})
        assert registered.status_code == 201, registered.text
        assert registered.json()["verification_level"] == "format_checked"
        assert registered.json()["identity_verified"] is False
        user_id = registered.json()["id"]
        token = api.login(username, PASSWORD)
        assert claims(token)["verification_level"] == "format_checked"

        # format_checked: refused, with both levels named, and nothing published.
        refused = api.post("/api/v1/demands", token=token, json=DEMAND)
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert problem["code"] == "verification_level_required" and " / " in problem["detail"]
        assert (problem["required_level"], problem["current_level"]) == ("licence_reviewed", "format_checked")
        assert api.get("/api/v1/demands", token=token).json()["items"] == []

        # No upload before the phone is verified.
        early = api.put("/api/v1/me/licence", token=token, json=licence(LICENCE))
        assert early.status_code == 409 and early.json()["code"] == "phone_not_verified"
        assert api.post("/api/v1/auth/phone/code", token=token, json={}).status_code == 202
        assert api.post("/api/v1/auth/phone/verify", token=token,
                        json={"code": read_code(platform, user_id)}).status_code == 200

        uploaded = api.put("/api/v1/me/licence", token=token, json=licence(LICENCE))
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["status"] == "submitted" and uploaded.json()["review_clock"]["due_at"]

        operator = api.login("operator1")
        queue = api.get("/api/v1/licence-reviews", token=operator).json()["items"]
        assert user_id in [r["user_id"] for r in queue]
        clocks = api.get("/api/v1/sla/clocks", token=operator).json()
        assert any(c["rule"] == "identity.licence_review" and c["subject_id"] == user_id for c in clocks)
        scan = api.get(f"/api/v1/licence-reviews/{user_id}/file", token=operator).json()
        assert base64.b64decode(scan["content_base64"]) == LICENCE

        returned = api.post(f"/api/v1/licence-reviews/{user_id}/decision", token=operator,
                            json={"decision": "return", "reason": "扫描件不清晰 / scan not legible"})
        assert returned.status_code == 200, returned.text
        mine = api.get("/api/v1/me/licence", token=token).json()
        assert mine["status"] == "returned" and mine["return_reason"] == "扫描件不清晰 / scan not legible"

        again = api.put("/api/v1/me/licence", token=token, json=licence(LICENCE_FIXED))
        assert again.status_code == 200 and again.json()["round"] == 2
        approved = api.post(f"/api/v1/licence-reviews/{user_id}/decision", token=operator,
                            json={"decision": "approve"})
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text

        # The token minted before all this still carries format_checked: a new level comes with a new token.
        stale = api.post("/api/v1/demands", token=token, json=DEMAND)
        assert stale.status_code == 403 and stale.json()["current_level"] == "format_checked"
        login = api.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
        refreshed = api.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}).json()
        token = refreshed["access_token"]
        assert claims(token)["verification_level"] == "licence_reviewed"
        me = api.get("/api/v1/me", token=token).json()
        assert me["verification_level"] == "licence_reviewed" and me["identity_verified"] is True

        published = api.post("/api/v1/demands", token=token, json=DEMAND)
        assert published.status_code == 201, published.text

        mine = []
        deadline = time.monotonic() + 30
        while len(mine) < 2 and time.monotonic() < deadline:
            mine += [e for e in subscriber.collect({"user.verified"}, timeout=2) if e["data"]["user_id"] == user_id]
        for envelope in mine:
            validate_envelope(envelope)
        assert [e["data"]["level"] for e in mine] == ["phone_verified", "licence_reviewed"]
    finally:
        subscriber.close()
