"""The shared caller verifier (issue 8.1): EdDSA only, identity's key only, required claims, revocation."""
from __future__ import annotations

import multiprocessing
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common import caller
from services.common.errors import Unauthorized
from services.common.testing import sign_access_token


@pytest.fixture(autouse=True)
def fresh_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QI_JWT_PRIVATE_KEY_FILE", raising=False)
    monkeypatch.delenv("QI_JWT_PUBLIC_KEY_FILE", raising=False)
    monkeypatch.delenv("QI_ENV", raising=False)
    return tmp_path / "keys"


CLAIMS = {"sub": "u-1", "role": "operator", "sid": "s-1", "window_id": "w-1"}


def test_a_token_signed_by_identity_gives_the_principal():
    principal = caller.verify_caller(sign_access_token(CLAIMS), lambda sid: False, ip="10.0.0.9", request_id="r-1")
    assert principal == {"user_id": "u-1", "role": "operator", "sid": "s-1", "window_id": "w-1",
                         "institution_id": None, "verification_level": None, "ip": "10.0.0.9", "request_id": "r-1"}
    assert caller.verify_caller(sign_access_token({**CLAIMS, "verification_level": "phone_verified"}),
                                lambda sid: False)["verification_level"] == "phone_verified"


def _other_key_token(tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return sign_access_token(CLAIMS, private_key_file=other)


@pytest.mark.parametrize("make,code", [
    (lambda tmp: jwt.encode({**CLAIMS, "iss": caller.ISSUER, "iat": int(time.time()), "exp": int(time.time()) + 60},
                            "dev-only-jwt-secret-change-me-0123456789abcdef", algorithm="HS256"), "invalid_token"),
    (_other_key_token, "invalid_token"),
    (lambda tmp: sign_access_token(CLAIMS, exp=int(time.time()) - 5), "token_expired"),
    (lambda tmp: sign_access_token(CLAIMS, iss="someone-else"), "invalid_token"),
    (lambda tmp: sign_access_token({"sub": "u-1", "role": "admin"}), "invalid_token"),  # no sid
    (lambda tmp: jwt.encode({**CLAIMS, "iss": caller.ISSUER, "iat": 1, "exp": int(time.time()) + 60}, None,
                            algorithm="none"), "invalid_token"),
    (lambda tmp: "", "invalid_token"),
    (lambda tmp: "not.a.jwt", "invalid_token"),
])
def test_bad_tokens_are_unauthorized(tmp_path, make, code):
    token = make(tmp_path)
    with pytest.raises(Unauthorized) as refused:
        caller.verify_caller(token, lambda sid: False)
    assert refused.value.code == code and refused.value.status == 401


def test_a_revoked_session_is_unauthorized():
    with pytest.raises(Unauthorized) as refused:
        caller.verify_caller(sign_access_token(CLAIMS), lambda sid: sid == "s-1")
    assert refused.value.code == "session_revoked"


def test_revocation_list_forgets_expired_entries_and_asks_for_reloads():
    revocations = caller.RevocationList(reload_seconds=0.05)
    assert revocations.needs_load()
    revocations.load([{"sid": "a", "expires_at": "2999-01-01T00:00:00Z"}])
    assert not revocations.needs_load() and revocations.is_revoked("a")
    revocations.add_event({"data": {"sid": "b", "expires_at": "2000-01-01T00:00:00Z"}})
    assert not revocations.is_revoked("b")  # its tokens expired long ago
    time.sleep(0.06)
    assert revocations.needs_load()


def test_production_refuses_to_run_without_configured_keys(monkeypatch):
    monkeypatch.setenv("QI_ENV", "production")
    with pytest.raises(RuntimeError):
        caller.verification_key()


def _generate(keys_dir, queue):
    caller.ensure_dev_key_pair(keys_dir)
    queue.put((keys_dir / caller.PUBLIC_KEY_NAME).read_bytes())


def test_dev_key_pair_generation_is_race_free(fresh_keys):
    queue = multiprocessing.get_context("fork").Queue()
    workers = [multiprocessing.get_context("fork").Process(target=_generate, args=(fresh_keys, queue))
               for _ in range(6)]
    for w in workers:
        w.start()
    seen = {queue.get(timeout=30) for _ in workers}
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    assert len(seen) == 1  # everyone uses the one pair that won
    private = serialization.load_pem_private_key((fresh_keys / caller.PRIVATE_KEY_NAME).read_bytes(), None)
    assert private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) in seen
    assert not [p for p in fresh_keys.parent.iterdir() if p.name.startswith(".keys-")]


def test_a_verified_token_is_not_verified_again_but_still_expires(monkeypatch):
    token = sign_access_token(CLAIMS, ttl=60)
    first = caller.verify_caller(token, lambda sid: False)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]

    def no_second_verification(*args, **kwargs):
        raise AssertionError("the signature was verified again")
    monkeypatch.setattr(caller.jwt, "decode", no_second_verification)
    assert caller.verify_caller(token, lambda sid: False) == first
    # Revocation is asked for every call, cached or not.
    with pytest.raises(Unauthorized) as refused:
        caller.verify_caller(token, lambda sid: True)
    assert refused.value.code == "session_revoked"
    # Expiry too: a cached token is refused from its `exp` on, as PyJWT refuses it.
    monkeypatch.setattr(caller.time, "time", lambda: exp)
    with pytest.raises(Unauthorized) as refused:
        caller.verify_caller(token, lambda sid: False)
    assert refused.value.code == "token_expired"


def test_a_replaced_key_refuses_tokens_verified_with_the_old_one(fresh_keys, monkeypatch):
    token = sign_access_token(CLAIMS)
    caller.verify_caller(token, lambda sid: False)
    monkeypatch.setattr(caller, "KEY_RECHECK_SECONDS", 0)
    for name in (caller.PRIVATE_KEY_NAME, caller.PUBLIC_KEY_NAME):
        (fresh_keys / name).unlink()
    fresh_keys.rmdir()
    caller.ensure_dev_key_pair(fresh_keys)
    with pytest.raises(Unauthorized) as refused:
        caller.verify_caller(token, lambda sid: False)
    assert refused.value.code == "invalid_token"
    assert caller.verify_caller(sign_access_token(CLAIMS), lambda sid: False)["user_id"] == "u-1"


def test_the_verified_tokens_are_bounded():
    cache = caller.VerifiedTokens(size=2)
    key = object()
    for token in ("a", "b", "c"):
        cache.put(token, key, {"exp": 0})
    assert cache.get("a", key) is None and cache.get("c", key) == {"exp": 0}
    assert cache.get("c", object()) is None   # another key: no hit


def test_revocation_list_prunes_expired_entries_but_not_on_every_call():
    revocations = caller.RevocationList(reload_seconds=3600)
    for i in range(100):
        revocations.add(f"old-{i}", time.time() - 1)
    revocations.add("live", time.time() + 600)
    assert revocations.is_revoked("live") and not revocations.is_revoked("old-1")
    assert len(revocations._revoked) == 1          # pruned by the first check
    revocations.PRUNE_SECONDS = 3600               # the next prune is far away
    revocations.add("just-expired", time.time() - 1)
    assert not revocations.is_revoked("just-expired")   # not pruned yet, still not revoked
    assert len(revocations._revoked) == 2
