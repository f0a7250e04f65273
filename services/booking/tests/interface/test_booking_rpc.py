"""Booking operations through RPC: the real service process (`nameko run`) on a real RabbitMQ,
SQLite and PostgreSQL. Institutions arrive as registry events on `registry.events`; callers carry
signed tokens; concurrent requests for one slot: exactly one wins, the others get 409 naming the rule.
"""
from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ClusterRpcProxy

from deploy.local import REPO, Platform
from services.booking.tests.helpers import approved, instrument_payload
from services.common import workdays
from services.common.errors import Conflict, DomainError, ValidationFailed
from services.common.events import dumps, exchange
from services.common.testing import sign_access_token
from tests.conftest import BACKENDS

pytestmark = pytest.mark.integration
INSTITUTION = f"inst-rpc-{uuid.uuid4().hex[:6]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=BACKENDS)
def platform(request, amqp_uri, pg_databases, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"booking-rpc-{request.param}")
    env = {"QI_DATA_DIR": str(data_dir), "QI_AMQP_URI": amqp_uri, "QI_RPC_TIMEOUT": "10",
           "QI_METRICS_PORT_BOOKING": str(free_port()), "QI_METRICS_PORT_IDENTITY": str(free_port())}
    if request.param == "postgresql":
        for service in ("identity", "booking"):
            env[f"QI_DB_URL_{service.upper()}"] = pg_databases.create(service)
    plat = Platform(env=env, log_dir=data_dir / "log")
    plat.ensure_keys()
    subprocess.run([sys.executable, "-m", "services.common.migrate", "identity", "booking"], env=plat.env, cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL)
    for service in ("identity", "booking"):
        plat.start_service(service)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=3) as rpc:
                    rpc.booking.ping()
                    rpc.identity.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield plat
    finally:
        plat.stop()


def token(platform, user_id, role, **claims):
    return sign_access_token({"sub": user_id, "role": role, "sid": f"sid-{user_id}", **claims},
                             private_key_file=platform.private_key_file)


def rpc(platform, tok=None):
    context = {"qi.access_token": tok} if tok else {}
    return ClusterRpcProxy({"AMQP_URI": platform.env["QI_AMQP_URI"]}, context_data=context, timeout=20)


def publish_registry_event(platform, envelope):
    with Connection(platform.env["QI_AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=exchange("registry"))
        producer.maybe_declare(exchange("registry"))
        producer.publish(json.loads(dumps(envelope)), routing_key=envelope["type"], serializer="json")


def target_day() -> dt.date:
    today = workdays.local_date(dt.datetime.now(dt.timezone.utc))
    return workdays.add_working_days(today, 2)


def at(day, hh, mm=0):
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()


def test_operations_through_rpc_and_the_race(platform):
    staff = token(platform, "rpc-staff", "institution", institution_id=INSTITUTION)
    publish_registry_event(platform, approved(INSTITUTION, name="RPC 测试机构"))
    deadline = time.monotonic() + 30
    with rpc(platform, staff) as r:
        while True:     # the event is on its way through the broker
            try:
                instrument = r.booking.publish_instrument(instrument_payload(approval_required=True),
                                                          idempotency_key=str(uuid.uuid4()))
                break
            except Conflict as exc:
                assert exc.code == "institution_not_active"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with pytest.raises(ValidationFailed):                 # bad input: 422, nothing written
            r.booking.publish_instrument({**instrument_payload(), "category": "nope"})
    with rpc(platform) as anonymous:
        listed = anonymous.booking.list_instruments(institution_id=INSTITUTION)
        assert listed["total"] == 1
        day = target_day()
        av = anonymous.booking.instrument_availability(instrument["id"], **{"from": day.isoformat(),
                                                                             "to": day.isoformat()})
        assert any(s["state"] == "free" for s in av["slots"])
        with pytest.raises(DomainError) as exc:
            anonymous.booking.request_booking({"instrument_id": instrument["id"], "starts_at": at(day, 9),
                                               "ends_at": at(day, 10)})
        assert exc.value.status == 401

    barrier = threading.Barrier(3)
    results = []

    def attempt(n):
        with rpc(platform, token(platform, f"rpc-ent-{n}", "enterprise")) as r:
            barrier.wait()
            try:
                results.append(("ok", r.booking.request_booking(
                    {"instrument_id": instrument["id"], "starts_at": at(day, 9), "ends_at": at(day, 10)},
                    idempotency_key=str(uuid.uuid4()))))
            except Conflict as exc:
                results.append(("conflict", exc.code, [v["rule"] for v in exc.errors["rules"]]))
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r[0] for r in results) == ["conflict", "conflict", "ok"], results
    for r in results:
        if r[0] == "conflict":
            assert r[1] == "slot_taken" and set(r[2]) <= {"slot.booked", "slot.held"}
    winner = next(r[1] for r in results if r[0] == "ok")
    with rpc(platform, staff) as r:
        assert r.booking.approve_booking(winner["id"], {})["status"] == "confirmed"
        with pytest.raises(ValidationFailed):
            r.booking.reject_booking(winner["id"], {"reason_code": "no-such-reason"})
        mine = r.booking.list_bookings()
        assert [b["id"] for b in mine] == [winner["id"]]


def publish_event(platform, envelope):
    with Connection(platform.env["QI_AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=exchange(envelope["source"]))
        producer.maybe_declare(exchange(envelope["source"]))
        producer.publish(json.loads(dumps(envelope)), routing_key=envelope["type"], serializer="json")


def eventually(read, done, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_training_attendance_and_links_arrive_over_the_bus(platform):
    """The declared consumers: training.attended grants (once, however often delivered); a demand and a
    window's items from their events let an appointment slot and a linked appointment through."""
    from services.common.events import make_envelope
    institution = f"inst-q-{uuid.uuid4().hex[:6]}"
    staff = token(platform, "rpc-q-staff", "institution", institution_id=institution)
    publish_registry_event(platform, approved(institution, name="RPC 资质机构"))
    code = f"icpms-{uuid.uuid4().hex[:6]}"
    with rpc(platform, staff) as r:
        instrument = eventually(lambda: _try_publish(r, instrument_payload(
            qualification_required=True, qualification_code=code)), lambda v: v is not None)
    assert instrument is not None
    user = f"rpc-trainee-{uuid.uuid4().hex[:6]}"
    envelope = make_envelope("registry", "training.attended", "t-1", {
        "training_id": str(uuid.uuid4()), "user_id": user, "category_code": "testing", "qualification_code": code,
        "attended_on": dt.date.today().isoformat()})
    publish_event(platform, envelope)
    publish_event(platform, envelope)                                  # redelivered
    with rpc(platform, token(platform, user, "enterprise")) as r:
        mine = eventually(r.booking.my_qualifications, lambda v: bool(v))
        assert [q["instrument_id"] for q in mine] == [instrument["id"]] and mine[0]["state"] == "valid"

    window, enterprise = f"win-{uuid.uuid4().hex[:6]}", f"rpc-ent-{uuid.uuid4().hex[:6]}"
    demand = str(uuid.uuid4())
    publish_event(platform, make_envelope("registry", "window.services_changed", window, {
        "window_id": window, "kind": "park_station", "institution_id": None, "services": ["tst.matching"],
        "changed_at": "2026-11-30T00:00:00Z"}))
    publish_event(platform, make_envelope("matching", "demand.published", demand, {
        "demand_id": demand, "enterprise_user_id": enterprise, "channel": "online", "category": "testing",
        "item_code": None, "region": None, "published_at": "2026-11-30T00:00:00Z"}))
    day = target_day()
    with rpc(platform, token(platform, "rpc-window", "window", window_id=window)) as r:
        slots = eventually(lambda: _try(lambda: r.booking.publish_appointment_slots(
            {"date": day.isoformat(), "times": ["09:00"], "capacity": 1, "service_items": ["tst.matching"]})),
            lambda v: v is not None)
    assert slots is not None
    with rpc(platform, token(platform, enterprise, "enterprise")) as r:
        booked = eventually(lambda: _try(lambda: r.booking.book_appointment(
            {"slot_id": slots[0]["id"], "service_item": "tst.matching", "demand_id": demand},
            idempotency_key=str(uuid.uuid4()))), lambda v: v is not None)
        assert booked is not None and booked["demand_id"] == demand


def _try(call):
    try:
        return call()
    except (Conflict, ValidationFailed):       # the event has not been applied yet
        return None


def _try_publish(r, payload):
    return _try(lambda: r.booking.publish_instrument(payload, idempotency_key=str(uuid.uuid4())))
