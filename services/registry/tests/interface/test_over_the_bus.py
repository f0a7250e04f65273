"""The registry's operations as any RPC client calls them: over the real RabbitMQ, with a signed caller.

The registry (and identity, which answers its revoked-sessions check) run as the README runs them,
`nameko run` processes, on SQLite and on PostgreSQL. The wire convention of a generated operation:
path parameters positionally in path order, then the body, then `idempotency_key=` and the query
fields as keywords; the caller is proven by the token in the context data, never by an argument.
"""
from __future__ import annotations

import socket
import time
import uuid

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.errors import Forbidden, Unauthorized, ValidationFailed
from services.common.testing import sign_access_token

from ..helpers import application, valid_uscc

pytestmark = pytest.mark.integration
BACKENDS = ("sqlite", "postgresql")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=BACKENDS)
def bus(request, amqp_uri, pg_databases, tmp_path_factory):
    from deploy.local import Platform
    data_dir = tmp_path_factory.mktemp(f"registry-bus-{request.param}")
    env = {"QI_DATA_DIR": str(data_dir), "QI_AMQP_URI": amqp_uri, "QI_RPC_TIMEOUT": "10", "QI_SMS_SENDER": "log",
           "QI_METRICS_PORT_REGISTRY": str(_free_port()), "QI_METRICS_PORT_IDENTITY": str(_free_port())}
    if request.param == "postgresql":
        for service in ("identity", "registry"):
            env[f"QI_DB_URL_{service.upper()}"] = pg_databases.create(f"bus_{service}")
    plat = Platform(env=env, log_dir=data_dir / "log")
    plat.backend = request.param
    plat.ensure_keys()
    plat.migrate()
    try:
        for service in ("identity", "registry"):
            plat.start_service(service)
        deadline = time.monotonic() + 60
        while True:
            try:
                with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=3) as rpc:
                    rpc.registry.ping()
                    rpc.identity.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield plat
    finally:
        plat.stop()


def client(plat, role=None, **claims):
    context = {}
    if role:
        context["qi.access_token"] = sign_access_token(
            {"sub": claims.pop("sub", f"user-{role}-{uuid.uuid4().hex[:6]}"), "role": role, "sid": uuid.uuid4().hex,
             **claims}, private_key_file=plat.private_key_file)
    return ClusterRpcProxy({"AMQP_URI": plat.env["QI_AMQP_URI"]}, context_data=context, timeout=20)


def test_an_application_through_its_review_over_the_bus(bus):
    serial = 50 + BACKENDS.index(bus.backend)
    with client(bus, "enterprise", sub="bus-applicant") as rpc:
        submitted = rpc.registry.submit_application(application(serial), idempotency_key="bus-apply-1")
        again = rpc.registry.submit_application(application(serial), idempotency_key="bus-apply-1")
        assert again == submitted and submitted["status"] == "submitted"
        app_id = submitted["application_id"]
        mine = rpc.registry.list_applications(limit=5)                 # a query field as a keyword
        assert [a["application_id"] for a in mine["items"]] == [app_id] and mine["limit"] == 5
        with pytest.raises(ValidationFailed) as refused:
            rpc.registry.list_applications(limit="many")
        assert "limit" in refused.value.errors
        with pytest.raises(Forbidden):
            rpc.registry.review_application(app_id, {"decision": "approve"})
    with client(bus, "operator") as rpc:
        assert any(c["subject_id"] == app_id for c in rpc.registry.list_review_clocks())   # the overview's RPC
        decided = rpc.registry.review_application(app_id, {"decision": "approve"}, idempotency_key="bus-review")
        assert decided["status"] == "approved"
        profile = rpc.registry.get_institution(decided["institution_id"])   # a path parameter positionally
        assert profile["status"] == "active" and profile["legal_representative"]
        with pytest.raises(ValidationFailed) as refused:
            rpc.registry.add_capability(decided["institution_id"], {"no_such_field": 1})
        assert refused.value.code == "validation_error" and "no_such_field" in refused.value.errors
        assert all(c["subject_id"] != app_id for c in rpc.registry.review_clocks(overdue=None))
    with client(bus) as anonymous:
        public = anonymous.registry.get_institution(decided["institution_id"])
        assert "legal_representative" not in public
        assert anonymous.registry.list_institutions(limit=1)["limit"] == 1
        with pytest.raises(Unauthorized):
            anonymous.registry.list_applications(principal={"user_id": "forged", "role": "admin"})


def test_a_participant_is_named_by_the_nickname_identity_announced(bus):
    """identity's user.registered reaches the registry over the broker: the participants list names the account."""
    serial = 9000 + BACKENDS.index(bus.backend)
    with client(bus) as anonymous:
        user = anonymous.identity.register_enterprise({
            "username": f"bus-trainee-{serial}", "password": "Passw0rd!2026", "phone": f"1390013{serial:04d}",
            "nickname": "总线学员", "org_name": "泰州总线测试有限公司", "uscc": valid_uscc(serial),
            "contact_name": "王测试"}, idempotency_key=f"bus-register-{serial}")
    with client(bus, "operator") as rpc:
        training_id = rpc.registry.create_training({
            "category_code": "metrology", "title": "计量器具管理台账培训", "mode": "online",
            "online_url": "https://meeting.example.cn/tz", "capacity": 3, "starts_at": "2099-11-03T09:00:00+08:00"},
            idempotency_key=f"bus-training-{serial}")["training_id"]
    with client(bus, "enterprise", sub=user["id"]) as rpc:
        rpc.registry.sign_up_training(training_id)
    deadline = time.monotonic() + 30
    with client(bus, "operator") as rpc:
        while True:
            items = rpc.registry.list_training_signups(training_id)["items"]
            if items[0]["nickname"] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert [(s["user_id"], s["nickname"]) for s in items] == [(user["id"], "总线学员")]
