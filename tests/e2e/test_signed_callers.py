"""Issue 8.1: a party with broker credentials but no token signed by identity acts for no one.

A plain nameko standalone proxy, as any agency on the broker could run, calls the
services directly (not through the gateway) with forged principals and bad tokens
in the context data; every service answers 401 itself. Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.errors import Forbidden, Unauthorized
from services.common.testing import sign_access_token

pytestmark = pytest.mark.e2e

OLD_DEV_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # the HS256 secret of the previous releases


def proxy(platform, token=None):
    context = {"qi.access_token": token} if token else {}
    return ClusterRpcProxy({"AMQP_URI": platform.env["QI_AMQP_URI"]}, context_data=context, timeout=20)


def login(api, username):
    response = api.post("/api/v1/auth/login", json={"username": username, "password": "Passw0rd!2026"})
    assert response.status_code == 200, response.text
    return response.json()


# Staff-only operations of every service, called as an agency on the broker would call them.
def staff_calls(admin_id):
    return {
        "identity.list_users": lambda rpc, **forged: rpc.identity.list_users(**forged),
        "identity.get_user(reveal)": lambda rpc, **forged: rpc.identity.get_user(user_id=admin_id, reveal=True,
                                                                                 **forged),
        "registry.list_applications": lambda rpc, **forged: rpc.registry.list_applications(**forged),
        "matching.list_open_clocks": lambda rpc, **forged: rpc.matching.list_open_clocks(**forged),
    }


def assert_unauthorized(platform, token, admin_id, code, forged=None):
    with proxy(platform, token) as rpc:
        for name, call in staff_calls(admin_id).items():
            # An AssertionError (not pytest.raises' Failed, which is no AssertionError), so
            # the revocation test's wait loop can retry while the broadcast is on its way.
            try:
                call(rpc, **({"principal": forged} if forged else {}))
            except Unauthorized as refused:
                assert refused.code == code, (name, refused.code)
            else:
                raise AssertionError(f"{name} accepted the call")


@pytest.fixture(scope="module")
def admin(api):
    return login(api, "admin")


def claims_of(session):
    return {"sub": session["user"]["id"], "role": "admin", "sid": session["sid"]}


def test_forged_principal_without_token_is_401_everywhere(platform, admin):
    forged = {"role": "admin", "user_id": admin["user"]["id"]}
    assert_unauthorized(platform, None, admin["user"]["id"], "token_missing", forged=forged)


def test_hs256_token_made_with_the_old_dev_secret_is_401(platform, admin):
    now = int(time.time())
    token = jwt.encode({**claims_of(admin), "iss": "qi-identity", "iat": now, "exp": now + 600},
                       OLD_DEV_SECRET, algorithm="HS256")
    assert_unauthorized(platform, token, admin["user"]["id"], "invalid_token")


def test_token_signed_by_another_ed25519_key_is_401(platform, admin, tmp_path):
    from cryptography.hazmat.primitives import serialization
    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    token = sign_access_token(claims_of(admin), private_key_file=other)
    assert_unauthorized(platform, token, admin["user"]["id"], "invalid_token")


def test_expired_token_is_401(platform, admin):
    token = sign_access_token(claims_of(admin), private_key_file=platform.private_key_file,
                              iat=int(time.time()) - 1000, exp=int(time.time()) - 10)
    assert_unauthorized(platform, token, admin["user"]["id"], "token_expired")


def test_revoked_session_token_is_401_in_every_service(platform, api):
    session = login(api, "admin")
    token = session["access_token"]
    with proxy(platform, token) as rpc:  # live: accepted
        assert rpc.identity.list_users()["items"]
    assert api.post("/api/v1/auth/logout", token=token).status_code == 204
    # Identity checks its own database; the others learn it from the broadcast event (or their first load).
    deadline = time.monotonic() + 10
    while True:
        try:
            assert_unauthorized(platform, token, session["user"]["id"], "session_revoked")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_valid_token_succeeds_and_a_forged_principal_argument_is_ignored(platform, api, admin):
    with proxy(platform, admin["access_token"]) as rpc:
        assert rpc.identity.list_users()["items"]
        revealed = rpc.identity.get_user(user_id=admin["user"]["id"], reveal=True)
        assert revealed["id"] == admin["user"]["id"]
        assert "items" in rpc.registry.list_applications()
        assert isinstance(rpc.matching.list_open_clocks(), list)
    person = login(api, "person-demo")
    with proxy(platform, person["access_token"]) as rpc:
        # The caller is the token's subject, whatever principal the call claims.
        with pytest.raises(Forbidden):
            rpc.identity.list_users(principal={"role": "admin", "user_id": admin["user"]["id"]})
        assert rpc.identity.me(principal={"role": "admin", "user_id": admin["user"]["id"]})["id"] == \
            person["user"]["id"]


def test_service_to_service_calls_carry_the_caller(platform, api):
    """matching asks identity (account_kind) as the caller: a staff filing for an enterprise works
    only because the operator's token travels from matching to identity."""
    operator = login(api, "operator1")
    enterprise = login(api, "ent-demo")
    filed = api.post("/api/v1/demands", token=operator["access_token"], json={
        "title": "代企业登记的检测需求", "category": "testing", "product": "塑料管材", "region": "姜堰区",
        "channel": "phone", "enterprise_user_id": enterprise["user"]["id"]})
    assert filed.status_code == 201, filed.text


def test_control_characters_in_bare_rpc_arguments_are_refused_by_the_service(platform, api, admin):
    """Ids travel as bare RPC arguments (not in schema-checked payloads) and reach the
    database: the service itself refuses a NUL (PostgreSQL cannot store it) with a 422."""
    from services.common.errors import ValidationFailed
    with proxy(platform, admin["access_token"]) as rpc:
        for call in (lambda: rpc.identity.get_user(user_id="a\x00b"),
                     lambda: rpc.registry.get_institution(institution_id="inst\x00"),
                     lambda: rpc.matching.get_demand(demand_id="d\x1b[0m")):
            with pytest.raises(ValidationFailed) as refused:
                call()
            assert refused.value.status == 422
