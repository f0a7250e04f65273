"""An agency's broker user (services/common/agencies.py) against the real broker.

It runs in a vhost of its own that plays the platform's vhost: real `registry.events`
and `matching.events` exchanges declared by the real outbox relay, and a
`nameko-rpc` exchange and an RPC queue as nameko declares them. The agency user,
made by the real command, receives the events the relay publishes and is refused
everything else.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import pika
import pytest
from kombu import Connection, Consumer, Exchange, Queue

from services.common import agencies, archive, contracts
from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.outbox import OutboxRelay, record_event

pytestmark = pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="needs rabbitmqctl on PATH")
HOST = "127.0.0.1:5672"


def _ctl(*args):
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def vhosts():
    """The 'platform' vhost and another one, both with guest as the platform's user."""
    names = [f"qi-test-agency-{uuid.uuid4().hex[:8]}", f"qi-test-other-{uuid.uuid4().hex[:8]}"]
    for name in names:
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield names
    for name in names:
        _ctl("delete_vhost", name)


@pytest.fixture(scope="module")
def platform_uri(vhosts):
    return f"amqp://guest:guest@{HOST}/{vhosts[0]}"


@pytest.fixture(scope="module")
def agency(vhosts):
    name = f"t{uuid.uuid4().hex[:8]}"
    password = agencies.add(name, vhosts[0])
    yield name, password
    agencies.remove(name)


def agency_params(agency, vhost):
    name, password = agency
    return pika.ConnectionParameters(host="127.0.0.1", port=5672, virtual_host=vhost,
                                     credentials=pika.PlainCredentials(agencies.user_name(name), password),
                                     connection_attempts=1, blocked_connection_timeout=10)


@pytest.fixture(scope="module")
def platform_side(platform_uri):
    """What the platform declares: the events exchanges with the archive (as the relay does),
    the `nameko-rpc` topic exchange and a service's RPC queue (as nameko does)."""
    with Connection(platform_uri) as conn:
        for source in ("registry", "matching"):
            archive.declare(conn, source)
        rpc = Exchange("nameko-rpc", type="topic", durable=True)
        Queue("rpc-registry", exchange=rpc, routing_key="registry.*", durable=True)(conn.default_channel).declare()


@pytest.fixture
def relays(backend, tmp_path, pg_databases, platform_uri):
    """Each service's relay on its own outbox database (any service's migrations carry the outbox)."""
    made = {}
    for source in ("registry", "matching"):
        url = f"sqlite:///{tmp_path / source}.db" if backend == "sqlite" else pg_databases.create(source)
        upgrade("identity", url)
        made[source] = OutboxRelay(Database(make_engine(url)), source, amqp_uri=platform_uri)
    yield made
    for relay in made.values():
        relay.close()
        relay.db.engine.dispose()


def publish(relays, source, event_type) -> str:
    data = contracts.examples(event_type)[0]["data"]
    with relays[source].db.transaction() as session:
        event_id = record_event(session, source, event_type, "subject-1", data)["id"]
    assert relays[source].publish_pending() == 1
    return event_id


def test_agency_user_binds_its_queue_and_receives_platform_events(relays, agency, vhosts):
    publish(relays, "registry", "institution.approved")      # the relay declares the exchanges
    publish(relays, "matching", "demand.published")
    name, password = agency
    queue_name = f"agency.{name}.q"
    uri = f"amqp://{agencies.user_name(name)}:{password}@{HOST}/{vhosts[0]}"
    with Connection(uri) as conn:
        # As docs/asyncapi.yaml says: the exchanges are declared passively (no configure
        # permission on them), the queue is the agency's own.
        queues = [Queue(queue_name, exchange=Exchange(f"{source}.events", type="topic", passive=True),
                        routing_key=key, durable=True, auto_delete=False)
                  for source, key in (("registry", "institution.*"), ("matching", "demand.*"))]
        for queue in queues:
            queue(conn.default_channel).declare()
        expected = {publish(relays, "registry", "institution.approved"),
                    publish(relays, "matching", "demand.published")}
        got = {}

        def on_message(body, message):
            event = json.loads(body) if isinstance(body, (str, bytes)) else body
            got[event["id"]] = event
            message.ack()

        deadline = time.monotonic() + 20
        # one queue, two bindings: one consumer
        with Consumer(conn, queues=[queues[0]], callbacks=[on_message], accept=["json"], prefetch_count=10):
            while not expected <= set(got) and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    pass
    assert expected <= set(got), "the agency did not receive the platform's events"
    for event_id in expected:
        contracts.validate_envelope(got[event_id])


def _refused(params, action):
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.confirm_delivery()   # so a refused publish fails here, not later
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            action(channel)
        assert info.value.reply_code == 403 and "ACCESS_REFUSED" in info.value.reply_text, info.value
    finally:
        if connection.is_open:
            connection.close()


@pytest.mark.parametrize("what", ["publish_to_rpc", "publish_via_default_exchange", "bind_to_rpc",
                                  "consume_rpc_queue", "declare_other_queue", "declare_another_agencys_queue",
                                  "dead_letter_into_rpc", "redeclare_events_exchange", "delete_events_exchange",
                                  "publish_to_events_exchange", "delete_archive"])
def test_agency_user_is_refused_everything_else(agency, vhosts, platform_side, what):
    name = agency[0]
    own = f"agency.{name}.refusals"
    body = json.dumps({"args": [], "kwargs": {}}).encode()
    props = pika.BasicProperties(content_type="application/json", reply_to="x", correlation_id="1")
    actions = {
        "publish_to_rpc": lambda ch: ch.basic_publish("nameko-rpc", "registry.list_applications", body, props),
        "publish_via_default_exchange": lambda ch: ch.basic_publish("", "rpc-registry", body, props),
        "bind_to_rpc": lambda ch: (ch.queue_declare(own, durable=True),
                                   ch.queue_bind(own, "nameko-rpc", routing_key="registry.*")),
        "consume_rpc_queue": lambda ch: ch.basic_consume("rpc-registry", lambda *a: None),
        "declare_other_queue": lambda ch: ch.queue_declare("evt-registry-institution.approved--spy", durable=True),
        "declare_another_agencys_queue": lambda ch: ch.queue_declare(f"agency.{name}x.q", durable=True),
        "dead_letter_into_rpc": lambda ch: ch.queue_declare(f"agency.{name}.dlx", durable=True,
                                                            arguments={"x-dead-letter-exchange": "nameko-rpc"}),
        "redeclare_events_exchange": lambda ch: ch.exchange_declare("registry.events", "topic", durable=True),
        "delete_events_exchange": lambda ch: ch.exchange_delete("registry.events"),
        "publish_to_events_exchange": lambda ch: ch.basic_publish("registry.events", "institution.approved", body),
        "delete_archive": lambda ch: ch.queue_delete("qi.event-archive"),
    }
    _refused(agency_params(agency, vhosts[0]), actions[what])


def test_agency_user_cannot_open_another_vhost(agency, vhosts):
    with pytest.raises(pika.exceptions.AMQPConnectionError) as info:
        pika.BlockingConnection(agency_params(agency, vhosts[1]))
    assert "NOT_ALLOWED" in repr(info.value) or "access" in repr(info.value).lower(), info.value
    # the same user on its own vhost does connect: the refusal is about the vhost
    pika.BlockingConnection(agency_params(agency, vhosts[0])).close()


def test_command_lists_rotates_and_removes(vhosts, capsys):
    name = f"t{uuid.uuid4().hex[:8]}"
    assert agencies.main(["add", name, "--vhost", vhosts[0]]) == 0
    out = capsys.readouterr().out
    password = next(line.split()[-1] for line in out.splitlines() if line.startswith("password:"))
    assert f"user:     agency.{name}" in out and f"vhost:    {vhosts[0]}" in out
    try:
        listed = {entry["user"]: entry["permissions"] for entry in agencies.list_agencies()}
        [perm] = listed[agencies.user_name(name)]
        expected = agencies.permissions(name)
        assert perm == {"vhost": vhosts[0], "configure": expected.configure, "write": expected.write,
                        "read": expected.read}
        assert agencies.main(["add", name, "--vhost", vhosts[0]]) == 1      # exists: no second password
        assert "exists" in capsys.readouterr().err
        assert agencies.main(["add", "Bad_Name", "--vhost", vhosts[0]]) == 1
        assert "lowercase" in capsys.readouterr().err
        pika.BlockingConnection(agency_params((name, password), vhosts[0])).close()
        assert agencies.main(["rotate", name]) == 0
        new = next(line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("password:"))
        assert new != password
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(agency_params((name, password), vhosts[0]))
        live = pika.BlockingConnection(agency_params((name, new), vhosts[0]))
        assert agencies.main(["rotate", name, "--close-connections"]) == 0       # a leaked password
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker):
            for _ in range(50):
                live.process_data_events(time_limit=0.2)
        newest = next(line.split()[-1] for line in capsys.readouterr().out.splitlines()
                      if line.startswith("password:"))
        live = pika.BlockingConnection(agency_params((name, newest), vhosts[0]))
    finally:
        assert agencies.main(["remove", name]) == 0
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker):   # removed: its connection ends too
        for _ in range(50):
            live.process_data_events(time_limit=0.2)
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(agency_params((name, newest), vhosts[0]))
    assert agencies.user_name(name) not in {entry["user"] for entry in agencies.list_agencies()}
    assert agencies.main(["remove", name]) == 1
