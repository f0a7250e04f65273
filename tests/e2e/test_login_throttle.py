"""Sign-in throttling through the gateway (issue 8 point 6): a guesser's network gets
429 with Retry-After; the owner signs in from another network at the same moment."""
from __future__ import annotations

import uuid

import pytest

from services.identity import throttle

pytestmark = pytest.mark.e2e


def test_guessing_slows_the_guessers_network_not_the_owner(api):
    admin = api.login("admin")
    username = f"staff{uuid.uuid4().hex[:8]}"
    created = api.post("/api/v1/users", token=admin, json={
        "username": username, "password": "Correct-Horse-9", "role": "operator", "nickname": "值班员"})
    assert created.status_code == 201, created.text
    # A random /24 of its own, so no other test's network count is touched.
    octet = uuid.uuid4().int % 200 + 20
    guesser = {"X-Forwarded-For": f"203.0.{octet}.7"}
    owner = {"X-Forwarded-For": f"198.18.{octet}.9"}
    for _ in range(throttle.ACCOUNT_NETWORK.free):
        wrong = api.post("/api/v1/auth/login", headers=guesser, json={"username": username, "password": "guess-1234"})
        assert wrong.status_code == 401, wrong.text
    refused = api.post("/api/v1/auth/login", headers=guesser,
                       json={"username": username, "password": "Correct-Horse-9"})
    assert refused.status_code == 429, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "login_throttled" and " / " in problem["detail"]
    assert int(refused.headers["Retry-After"]) == problem["retry_after"] >= 1
    ok = api.post("/api/v1/auth/login", headers=owner, json={"username": username, "password": "Correct-Horse-9"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["username"] == username
