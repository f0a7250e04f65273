"""A consumer's effect happens once however often the broker delivers the event.

Real broker, real database (SQLite and PostgreSQL): the message is consumed, its
effect committed, and then — as if the consumer crashed before acking — it is
requeued and delivered again; the relay also publishes the same event twice (as
it may after a crash between confirm and commit). The effect is applied once.
"""
from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa
from kombu import Connection, Consumer, Producer, Queue

from services.common.consumer import handle_once
from services.common.db import Database, make_engine
from services.common.events import dumps, exchange, make_envelope
from services.common.migrate import upgrade

effects = sa.table("test_effect", sa.column("event_id", sa.String), sa.column("amount", sa.Integer))


def test_redelivered_and_duplicated_event_applies_once(database_url, amqp_uri):
    upgrade("identity", database_url)
    db = Database(make_engine(database_url))
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE test_effect (event_id VARCHAR(36), amount INTEGER)"))
    source = f"consumertest{uuid.uuid4().hex[:8]}"   # an exchange of its own: no stray events
    envelope = make_envelope(source, "user.registered", "u-1", {"user_id": "u-1"})
    deliveries = []

    def effect(session, env):
        session.execute(effects.insert().values(event_id=env["id"], amount=1))

    with Connection(amqp_uri) as conn:
        queue = Queue(f"consumer-{uuid.uuid4().hex[:8]}", exchange=exchange(source), routing_key="user.*",
                      durable=True, auto_delete=False)
        queue(conn.default_channel).declare()
        producer = Producer(conn.default_channel)
        for _ in range(2):  # the same event published twice
            producer.publish(dumps(envelope), exchange=exchange(source), routing_key="user.registered",
                             content_type="application/json", content_encoding="utf-8", serializer=None,
                             message_id=envelope["id"], delivery_mode=2)

        def on_message(body, message):
            env = json.loads(body) if isinstance(body, (str, bytes)) else body
            applied = handle_once(db, "test-consumer", env, effect)
            deliveries.append((message.delivery_info.get("redelivered"), applied))
            if len(deliveries) == 1:
                message.requeue()   # effect committed, ack lost: the broker redelivers
            else:
                message.ack()

        with Consumer(conn, queues=[queue], callbacks=[on_message], accept=["json"], prefetch_count=1):
            deadline = time.monotonic() + 20
            while len(deliveries) < 3 and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.5)
                except Exception:
                    pass
        queue(conn.default_channel).delete()

    assert len(deliveries) == 3, deliveries
    assert deliveries[0][1] is True
    assert any(redelivered for redelivered, _ in deliveries[1:])
    assert [applied for _, applied in deliveries[1:]] == [False, False]
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*), SUM(amount) FROM test_effect")).one() == (1, 1)
    db.engine.dispose()
