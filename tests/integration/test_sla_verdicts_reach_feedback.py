"""A clock closed in another service reaches feedback's quarterly statistics over the real bus.

Matching (its real domain code, on its own migrated database) publishes a demand and
answers it: the response clock is met, and `sla.clock_closed` lands in matching's outbox
in that transaction. The real outbox relay publishes it on `matching.events` (a vhost of
the test's own); the real feedback service (`nameko run`, as deployed) consumes it into
its clock_verdict table; the statistics of the quarter then count it, per rule, for the
platform and the window the demand was entered at. A booking.completed published the
same way becomes instrument hours. SQLite.
"""
from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from deploy.local import Platform
from services.common.db import Database, make_engine
from services.common.events import make_envelope, dumps, exchange
from services.common.migrate import upgrade
from services.common.outbox import OutboxRelay
from tests.conftest import own_vhost

pytestmark = pytest.mark.integration

WINDOW_STAFF = {"user_id": "win-staff-it", "role": "window", "window_id": "win-it-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(condition, what: str, seconds: float = 60):
    """Poll until `condition()` is truthy (the bus is asynchronous); fail saying what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def feedback_running(tmp_path):
    with own_vhost() as amqp_uri:
        env = {"QI_DATA_DIR": str(tmp_path), "QI_AMQP_URI": amqp_uri, "QI_METRICS_PORT_FEEDBACK": str(free_port()),
               "QI_DB_POOL_SIZE": "2", "QI_SLA_SWEEP_SECONDS": "3600"}
        plat = Platform(env=env, log_dir=tmp_path / "log")
        plat.ensure_keys()
        upgrade("feedback", f"sqlite:///{tmp_path / 'feedback.db'}")
        plat.start_service("feedback")
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as rpc:
                # Up once it answers: its event queues are declared by then.
                until(lambda: _ping(rpc), "feedback answered ping", 90)
            yield amqp_uri, Database(make_engine(f"sqlite:///{tmp_path / 'feedback.db'}"))
        finally:
            plat.stop()
            log = tmp_path / "log" / "feedback.log"
            if log.exists():
                print(log.read_text(errors="replace")[-3000:])


def _ping(rpc) -> bool:
    try:
        return rpc.feedback.ping()["ok"]
    except Exception:
        return False


def test_a_matching_clock_verdict_and_a_booking_reach_the_quarterly_statistics(feedback_running, tmp_path,
                                                                              monkeypatch):
    amqp_uri, feedback_db = feedback_running
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path / "matching-data"))
    url = f"sqlite:///{tmp_path / 'matching.db'}"
    upgrade("matching", url)
    matching_db = Database(make_engine(url))
    from services.matching import demands, handling
    at = dt.datetime(2026, 8, 10, 2, 0)    # 2026-Q3
    from services.matching.tests.helpers import DEMAND, DIRECTORY, ENTERPRISE
    with matching_db.transaction() as session:
        # Entered at a window for an enterprise (by phone): the demand's clocks are that window's.
        demand_id = demands.publish(session, WINDOW_STAFF, {**DEMAND, "enterprise_user_id": ENTERPRISE["user_id"],
                                                            "channel": "phone"},
                                    at=at, enterprise_lookup=DIRECTORY.get).id
    with matching_db.transaction() as session:
        handling.respond(session, WINDOW_STAFF, demand_id, {"message": "已受理"}, at=at + dt.timedelta(hours=3))
    relay = OutboxRelay(matching_db, "matching", amqp_uri=amqp_uri)
    try:
        assert relay.publish_pending() >= 1
    finally:
        relay.close()

    from services.feedback import statistics
    from services.feedback.models import ClockVerdict

    def verdict():
        with feedback_db.read() as session:
            row = session.get(ClockVerdict, _clock_id(matching_db, demand_id))
            return row and (row.source, row.outcome, row.window_id)
    found = until(verdict, "matching's sla.clock_closed reached feedback's clock_verdict")
    assert found == ("matching", "met", "win-it-1")

    # booking.completed as booking publishes it (its payload contract), on booking.events.
    from kombu import Connection, Producer
    completed = make_envelope("booking", "booking.completed", "b-it-1", {
        "booking_id": "b-it-1", "instrument_id": "ins-it-1", "institution_id": "inst-it-1", "status": "completed",
        "mode": "self", "starts_at": "2026-08-11T01:00:00Z", "ends_at": "2026-08-11T03:00:00Z",
        "actual_start": "2026-08-11T01:05:00Z", "actual_end": "2026-08-11T02:35:00Z", "used_minutes": 90,
        "evaluation": None})
    with Connection(amqp_uri) as conn:
        Producer(conn.default_channel).publish(dumps(completed), exchange=exchange("booking"),
                                               routing_key="booking.completed", content_type="application/json",
                                               content_encoding="utf-8", serializer=None,
                                               message_id=completed["id"], delivery_mode=2, declare=[exchange("booking")])

    def figures():
        with feedback_db.read() as session:
            body = statistics.compute(session, 2026, 3)
        return body if body["platform"]["instrument_hours"]["bookings"] else None
    body = until(figures, "booking.completed reached feedback's instrument hours")
    rows = {r["rule"]: r for r in body["platform"]["on_time"]}
    assert rows["matching.demand_response"] == {"rule": "matching.demand_response", "met": 1, "breached": 0,
                                                "on_time_rate": 1.0}
    window = next(w for w in body["windows"] if w["window_id"] == "win-it-1")
    assert window["on_time_rate"] == 1.0
    assert body["platform"]["instrument_hours"] == {"bookings": 1, "instruments": 1, "booked_hours": 2.0,
                                                    "used_hours": 1.5, "use_rate": 0.75}
    institution = next(i for i in body["institutions"] if i["institution_id"] == "inst-it-1")
    assert institution["instrument_hours"]["used_hours"] == 1.5
    matching_db.engine.dispose()
    feedback_db.engine.dispose()


def _clock_id(db, demand_id) -> str:
    from services.common import sla
    with db.read() as session:
        return session.scalars(sla.select(sla.SlaClock.id).where(sla.SlaClock.subject_id == demand_id,
                                                                 sla.SlaClock.rule == "matching.demand_response")).one()
