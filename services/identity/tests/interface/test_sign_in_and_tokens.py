"""Sign-in, access tokens, refresh rotation with reuse detection, logout and the deny-list."""
from __future__ import annotations

import datetime as dt

import jwt
import pytest

from services.common import caller, config, errors
from services.common.audit import list_audit
from services.identity import signin, throttle, tokens
from services.identity.models import AuthSession, LoginFailure, User

from ..helpers import PASSWORD, enterprise_payload, events


@pytest.fixture
def user(service):
    return service.register(enterprise_payload())


def test_login_returns_tokens_with_the_agreed_claims(service, db, user):
    result = service.from_ip("10.0.0.1").login("ACME", PASSWORD)
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == config.access_token_ttl()
    assert result["user"]["id"] == user["id"] and result["user"]["phone"] == "139****5678"
    claims = tokens.decode_access_token(result["access_token"])
    assert claims["sub"] == user["id"] and claims["role"] == "enterprise" and claims["iss"] == "qi-identity"
    assert claims["sid"] == result["sid"] and claims["jti"]
    assert claims["exp"] - claims["iat"] == config.access_token_ttl()
    # The gateway's own verifier accepts it too.
    from services.gateway.auth import decode_access_token as gateway_decode
    assert gateway_decode(result["access_token"])["sub"] == user["id"]
    with db.read() as session:
        auth = session.get(AuthSession, result["sid"])
        assert auth.refresh_token_hash != result["refresh_token"] and len(auth.refresh_token_hash) == 64
        assert auth.last_ip == "10.0.0.1"
        assert list_audit(session, action="session.opened")[0]["target_id"] == user["id"]


def test_unknown_user_and_wrong_password_look_the_same(service, user):
    with pytest.raises(errors.Unauthorized) as wrong_password:
        service.login("acme", "not-the-password")
    with pytest.raises(errors.Unauthorized) as unknown_user:
        service.login("nobody", "not-the-password")
    assert (wrong_password.value.code, wrong_password.value.detail) == \
        (unknown_user.value.code, unknown_user.value.detail) == \
        ("invalid_credentials", wrong_password.value.detail)


@pytest.mark.parametrize("username", ["acme", "ghost"])
def test_repeated_failures_throttle_the_username_from_that_network(service, db, user, username):
    for _ in range(throttle.ACCOUNT_NETWORK.free):
        with pytest.raises(errors.Unauthorized):
            service.from_ip("198.51.100.7").login(username, "wrong-password")
    with pytest.raises(errors.TooManyRequests) as caught:
        service.login(username, PASSWORD)
    assert caught.value.code == "login_throttled" and caught.value.retry_after >= 1
    with db.read() as session:
        stored = [(row.account_network_key, row.network_key) for row in session.query(LoginFailure)]
    assert not any(username in key or "198.51.100" in key for pair in stored for key in pair)


def test_throttle_window_expires(db, user):
    start = dt.datetime(2026, 3, 2, 9, 0)
    for minute in range(throttle.ACCOUNT_NETWORK.free):
        with db.transaction() as session:
            result = signin.sign_in(session, "acme", "wrong-password", now=start + dt.timedelta(minutes=minute))
        assert isinstance(result, errors.Unauthorized)
    last = start + dt.timedelta(minutes=throttle.ACCOUNT_NETWORK.free - 1)
    with db.transaction() as session:
        assert isinstance(signin.sign_in(session, "acme", PASSWORD, now=last + dt.timedelta(seconds=5)),
                          errors.TooManyRequests)
    with db.transaction() as session:
        result = signin.sign_in(session, "acme", PASSWORD, now=last + throttle.BASE_DELAY + dt.timedelta(seconds=1))
    assert "access_token" in result
    # The owner's success from that network cleared the pair's count (the network's stays).
    with db.read() as session:
        assert session.query(LoginFailure).filter(
            LoginFailure.account_network_key == throttle.keys("acme", None)["account_network_key"]).count() == 0


def test_refresh_rotates_and_reuse_revokes_the_whole_session(service, db, user):
    first = service.login("acme", PASSWORD)
    second = service.refresh({"refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"]
    assert second["sid"] == first["sid"]
    third = service.refresh({"refresh_token": second["refresh_token"]})

    # An attacker replays the token the client already spent.
    with pytest.raises(errors.Unauthorized) as caught:
        service.refresh({"refresh_token": first["refresh_token"]})
    assert caught.value.code == "refresh_token_reused"
    # ...and the legitimate holder's current token is dead as well.
    with pytest.raises(errors.Unauthorized) as caught:
        service.refresh({"refresh_token": third["refresh_token"]})
    assert caught.value.code == "session_revoked"

    with db.read() as session:
        auth = session.get(AuthSession, first["sid"])
        assert auth.revoked_reason == "refresh_reuse" and auth.rotation == 2
    revoked = events(db, "user.session_revoked")
    assert [e["data"]["sid"] for e in revoked] == [first["sid"]]
    assert set(revoked[0]["data"]) == {"user_id", "sid", "revoked_at", "expires_at"}
    assert first["sid"] in {entry["sid"] for entry in service.revoked_sessions()}


def test_unknown_refresh_token_is_refused_without_side_effects(service, db, user):
    service.login("acme", PASSWORD)
    with pytest.raises(errors.Unauthorized) as caught:
        service.refresh({"refresh_token": "made-up-token"})
    assert caught.value.code == "invalid_refresh_token"
    assert events(db, "user.session_revoked") == []


def test_session_lifetime_is_fixed_at_login(db, user, monkeypatch):
    monkeypatch.setenv("QI_REFRESH_TOKEN_TTL", "3600")
    start = dt.datetime(2026, 3, 2, 9, 0)
    with db.transaction() as session:
        result = signin.sign_in(session, "acme", PASSWORD, now=start)
    with db.transaction() as session:
        rotated = signin.refresh(session, {"refresh_token": result["refresh_token"]},
                                 now=start + dt.timedelta(minutes=50))
    with pytest.raises(errors.Unauthorized) as expired, db.transaction() as session:
        signin.refresh(session, {"refresh_token": rotated["refresh_token"]}, now=start + dt.timedelta(minutes=61))
    assert expired.value.code == "session_expired"


def test_logout_revokes_and_feeds_the_deny_list(service, db, user):
    result = service.login("acme", PASSWORD)
    claims = tokens.decode_access_token(result["access_token"])
    principal = tokens.principal_from_claims(claims)
    assert service.logout(principal) is None   # 204
    with pytest.raises(errors.Unauthorized):
        service.refresh({"refresh_token": result["refresh_token"]})
    deny = {entry["sid"]: entry for entry in service.revoked_sessions()}
    assert result["sid"] in deny
    assert deny[result["sid"]]["expires_at_epoch"] == claims["exp"]
    # Loads straight into the gateway's deny-list.
    from services.gateway.auth import RevocationList
    revocations = RevocationList()
    revocations.load(service.revoked_sessions())
    assert revocations.is_revoked(result["sid"])
    # Logging out twice is harmless; another user's sid is not found.
    assert service.logout(principal) is None
    with pytest.raises(errors.NotFound):
        service.logout({**principal, "user_id": "someone-else"})


def test_revoked_sessions_drop_out_once_their_tokens_expired(db, user):
    start = dt.datetime(2026, 3, 2, 9, 0)
    with db.transaction() as session:
        result = signin.sign_in(session, "acme", PASSWORD, now=start)
    with db.transaction() as session:
        signin.logout(session, {"user_id": user["id"], "role": "enterprise", "sid": result["sid"]},
                        now=start + dt.timedelta(minutes=1))
    with db.read() as session:
        ttl = dt.timedelta(seconds=config.access_token_ttl())
        assert tokens.revoked_sessions(session, now=start + ttl - dt.timedelta(seconds=1))
        assert tokens.revoked_sessions(session, now=start + ttl + dt.timedelta(seconds=1)) == []


def test_bad_access_tokens_are_unauthorized(db, user):
    with db.read() as session:
        account = session.get(User, user["id"])
        expired, _ = tokens.issue_access_token(account, "sid-1", now=dt.datetime(2020, 1, 1))
        good, _ = tokens.issue_access_token(account, "sid-1")
    with pytest.raises(errors.Unauthorized) as caught:
        tokens.decode_access_token(expired)
    assert caught.value.code == "token_expired"
    forged = jwt.encode({**jwt.decode(good, options={"verify_signature": False}), "role": "admin"},
                        "some-other-secret-that-is-long-enough-0123456789", algorithm="HS256")
    for token in (forged, good[:-2], "", "not.a.jwt"):
        with pytest.raises(errors.Unauthorized) as caught:
            tokens.decode_access_token(token)
        assert caught.value.code == "invalid_token"
    wrong_issuer = jwt.encode({**jwt.decode(good, options={"verify_signature": False}), "iss": "elsewhere"},
                              caller.signing_key(), algorithm="EdDSA")
    with pytest.raises(errors.Unauthorized):
        tokens.decode_access_token(wrong_issuer)


def test_disabled_account_cannot_sign_in_or_refresh(service, db, user):
    result = service.login("acme", PASSWORD)
    with db.transaction() as session:
        session.get(User, user["id"]).status = "disabled"
    with pytest.raises(errors.Forbidden):
        service.login("acme", PASSWORD)
    with pytest.raises(errors.Unauthorized) as caught:
        service.refresh({"refresh_token": result["refresh_token"]})
    assert caught.value.code == "account_disabled"
    assert result["sid"] in {entry["sid"] for entry in service.revoked_sessions()}
