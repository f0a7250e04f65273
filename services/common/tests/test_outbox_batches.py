"""The relay's per-batch bookkeeping, without a broker: a row is marked sent only when its
own confirm came back; refused rows (nacked, unroutable) stay pending with back-off; the
confirms of a batch are settled one by one or `multiple` at once."""
from __future__ import annotations

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.outbox import OutboxEvent, OutboxRelay, record_event


def make_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    upgrade("identity", url)
    return Database(make_engine(url))


def test_only_confirmed_rows_are_marked_sent_in_one_batch(tmp_path):
    db = make_db(tmp_path)
    with db.transaction() as session:
        ids = [record_event(session, "batchtest", "thing.happened", f"s{i}", {"n": i})["id"] for i in range(6)]
    relay = OutboxRelay(db, "batchtest", amqp_uri="amqp://unused/", batch_size=10)
    verdicts = {ids[1]: "nacked", ids[4]: "unroutable"}
    seen = []

    def fake_publish(rows):
        seen.append([row.id for row in rows])
        return {row.id: verdicts.get(row.id, "sent") for row in rows}
    relay._publish_batch = fake_publish
    assert relay.publish_pending() == 4
    assert seen == [ids]  # one claim, in order
    with db.read() as session:
        rows = {r.id: r for r in session.query(OutboxEvent)}
        check(rows, ids)
    # Backed off: not claimed again at once.
    assert relay.publish_pending() == 0
    db.engine.dispose()


def check(rows, ids):
    for event_id in (ids[0], ids[2], ids[3], ids[5]):
        assert rows[event_id].sent_at is not None and rows[event_id].attempts == 1
        assert rows[event_id].last_error is None and rows[event_id].next_attempt_at is None
    assert rows[ids[1]].sent_at is None and rows[ids[1]].last_error == "nacked by the broker"
    assert rows[ids[4]].sent_at is None and rows[ids[4]].last_error.startswith("unroutable")
    for event_id in (ids[1], ids[4]):
        assert rows[event_id].attempts == 1 and rows[event_id].next_attempt_at is not None


def test_more_rows_than_one_in_list_are_marked(tmp_path, monkeypatch):
    from services.common import outbox
    monkeypatch.setattr(outbox, "_IN_CHUNK", 7)
    db = make_db(tmp_path)
    with db.transaction() as session:
        for i in range(30):
            record_event(session, "batchtest", "thing.happened", f"s{i}", {"n": i})
    relay = OutboxRelay(db, "batchtest", amqp_uri="amqp://unused/", batch_size=25)
    relay._publish_batch = lambda rows: {row.id: "sent" for row in rows}
    assert relay.publish_pending() == 25
    assert relay.publish_pending() == 5
    assert relay.pending_count() == 0
    db.engine.dispose()


def test_confirms_settle_single_and_multiple():
    relay = OutboxRelay.__new__(OutboxRelay)
    relay._floor, relay._unconfirmed, relay._nacked = 1, set(range(1, 11)), set()
    relay._on_ack(3, False)
    assert 3 not in relay._unconfirmed and relay._floor == 1
    relay._on_nack(5, True)          # 1, 2, 4, 5 nacked at once (3 was acked already)
    assert relay._nacked == {1, 2, 4, 5} and relay._floor == 6
    relay._on_ack(10, True)
    assert relay._unconfirmed == set() and relay._nacked == {1, 2, 4, 5} and relay._floor == 11


def test_wake_only_after_an_event_was_recorded(tmp_path):
    db = make_db(tmp_path)
    relay = OutboxRelay(db, "waketest", amqp_uri="amqp://unused/")
    relay.wake()                     # a worker that recorded nothing (a read)
    assert not relay._wake.is_set()
    with db.transaction() as session:
        record_event(session, "waketest", "thing.happened", "s1", {})
    relay.wake()
    assert relay._wake.is_set()
    relay._wake.clear()
    relay.wake()                     # nothing new since
    assert not relay._wake.is_set()
    db.engine.dispose()
