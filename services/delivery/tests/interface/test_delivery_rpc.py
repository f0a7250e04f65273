"""The delivery service over RPC (real RabbitMQ, SQLite and PostgreSQL): what the gateway's routes call.

Registry events arrive through the broker into the local institution copy; reports are
registered and verified without a token; bad input is refused by the service and writes
nothing; custody steps out of order are 409; events leave through the outbox on
`delivery.events`; "send for calibration" calls matching as the caller.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest
from kombu import Connection, Exchange, Producer, Queue

from services.common import caller
from services.common.errors import Conflict, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from services.common.events import dumps, exchange
from services.delivery.tests.helpers import (ENTERPRISE, LAB, LAB_ID, STATION, approved, lab_profile, report_body)

pytestmark = pytest.mark.integration


def publish_registry_event(running, envelope):
    with Connection(running.amqp) as conn:
        producer = Producer(conn.channel(), exchange=exchange("registry"))
        exchange("registry")(conn.channel()).declare()
        producer.publish(dumps(envelope), routing_key=envelope["type"], content_type="application/json",
                         content_encoding="utf-8", serializer=None, message_id=envelope["id"])


def wait_for(check, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def events_queue(running):
    """A queue bound to every delivery event (declared before the events it should see)."""
    name = f"test-delivery-events-{uuid.uuid4().hex[:8]}"
    with Connection(running.amqp) as conn:
        queue = Queue(name, exchange=Exchange("delivery.events", type="topic", durable=True), routing_key="#",
                      auto_delete=False)
        queue(conn.channel()).declare()
    return name


def drain(running, queue_name) -> list[dict]:
    out = []
    with Connection(running.amqp) as conn:
        queue = Queue(queue_name)(conn.channel())
        while True:
            message = queue.get(no_ack=True)
            if message is None:
                return out
            out.append(json.loads(message.body))


def test_reports_registered_over_rpc_are_verified_without_a_token(running, events_queue):
    publish_registry_event(running, approved(lab_profile()))
    number = f"RPC-{running.backend}-1"
    with running.rpc(LAB) as rpc:
        def in_scope():   # the registry's event reached delivery's copy through the broker
            out = rpc.delivery.register_report(report_body(f"{number}-probe-{time.monotonic_ns()}"))
            return out["scope"] == "in_scope"
        wait_for(in_scope)
        registered = rpc.delivery.register_report(report_body(number), idempotency_key=f"k-{number}")
        again = rpc.delivery.register_report(report_body(number), idempotency_key=f"k-{number}")
        assert again["id"] == registered["id"]
    with running.rpc(None) as rpc:   # public: no token at all
        out = rpc.delivery.verify_report(number, {"code": registered["verification_code"]})
        assert out["result"] == "valid"
        assert rpc.delivery.verify_report_get(number, code=registered["verification_code"])["verification_count"] == 2
        assert rpc.delivery.verify_qr({"payload": registered["qr_payload"]})["signature_valid"] is True
        problems = []
        for args in ((number, {"code": "WRONG999"}), ("NO-SUCH-NUMBER", {"code": registered["verification_code"]})):
            with pytest.raises(NotFound) as refused:
                rpc.delivery.verify_report(*args)
            problems.append(refused.value.problem())
        assert problems[0] == problems[1]
        with pytest.raises(Unauthorized):   # registering needs a signed caller
            rpc.delivery.register_report(report_body(f"{number}-anon"))
        assert rpc.delivery.verification_public_key()["algorithm"] == "Ed25519"
    types = wait_for(lambda: [e["type"] for e in drain(running, events_queue)] or None)
    assert "report.registered" in types


def test_bad_input_over_rpc_is_422_and_writes_nothing(running):
    number = f"RPC-{running.backend}-bad"
    with running.rpc(LAB) as rpc:
        with pytest.raises(ValidationFailed) as refused:
            rpc.delivery.register_report(report_body(number, marks=["ISO9001"]))
        assert "marks" in refused.value.errors
        with pytest.raises(NotFound):
            rpc.delivery.get_report(number)
    with running.rpc(STATION) as rpc:
        with pytest.raises(ValidationFailed):
            rpc.delivery.receive_sample({"enterprise_id": ENTERPRISE["user_id"], "institution_id": LAB_ID, "items": []})
        assert rpc.delivery.list_samples(status="received")["total"] == 0


def test_custody_over_rpc_refuses_a_step_out_of_order(running, events_queue):
    with running.rpc(STATION) as rpc:
        sample = rpc.delivery.receive_sample({
            "enterprise_id": ENTERPRISE["user_id"], "institution_id": LAB_ID,
            "items": [{"description": "塑料管材", "quantity": 2, "condition": "intact"}]}, idempotency_key="s-1")
        manifest = rpc.delivery.create_manifest({"sample_ids": [sample["id"]]})
    with running.rpc(LAB) as rpc:
        with pytest.raises(Conflict) as refused:
            rpc.delivery.accept_manifest(manifest["id"], {"seal_number": "X-1"})
        assert refused.value.code == "custody_out_of_order" and refused.value.errors["expected_step"] == ["with_carrier"]
    with running.rpc(STATION) as rpc:
        rpc.delivery.record_carrier_receipt(manifest["id"], {"carrier": "顺丰", "seal_number": "X-1"})
    with running.rpc(LAB) as rpc:
        accepted = rpc.delivery.accept_manifest(manifest["id"], {"seal_number": "X-1"})
        assert accepted["samples"][0]["status"] == "accepted"
    with running.rpc(ENTERPRISE) as rpc:
        assert rpc.delivery.get_sample(sample["id"])["status"] == "accepted"
        assert rpc.delivery.sample_label(sample["id"])["svg"].startswith("<svg")
    seen: set = set()

    def all_published():
        seen.update(e["type"] for e in drain(running, events_queue))
        return {"sample.received", "sample.dispatched", "sample.accepted"} <= seen
    wait_for(all_published)


def test_send_for_calibration_calls_matching_as_the_caller(running):
    with running.rpc(ENTERPRISE) as rpc:
        rpc.delivery.create_instrument({"name": "压力表", "serial": f"P-{running.backend}", "abc_class": "A",
                                        "control": "verification", "interval_months": 6, "cert_date": "2026-06-01"})
        out = rpc.delivery.request_calibration({}, idempotency_key=f"cal-{running.backend}")
        assert out["demands"][0]["instrument_type"] == "压力表"
        published = rpc.matching.published()
        assert published[-1]["token"] is True and published[-1]["payload"]["category"] == "metrology"
        exported = rpc.delivery.export_ledger()
        assert exported["count"] == 1


def test_addresses_asserted_on_the_broker_share_one_throttle_bucket(running):
    """A caller on the broker that writes its own qi.client_ip (a new one per try) cannot rotate past the
    verification throttle: unsealed addresses are not believed, so all its tries count together."""
    number = f"NO-SUCH-{running.backend}-{uuid.uuid4().hex[:6]}"
    refused = 0
    for attempt in range(12):
        asserted = {caller.CLIENT_IP_KEY: f"198.51.{attempt}.7"}
        with running.rpc(None, context=asserted) as rpc:
            try:
                rpc.delivery.verify_report(number, {"code": "WRONG999"})
            except TooManyRequests:
                refused += 1
            except NotFound:
                pass
    assert refused >= 1
    with running.rpc(None, ip="192.0.2.44") as rpc:   # a sealed address of another network still gets its answer
        with pytest.raises(NotFound):
            rpc.delivery.verify_report(number, {"code": "WRONG999"})
