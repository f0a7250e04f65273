"""The database decides a race: concurrent requests for the same time, both past the rule check,
exactly one commits (slot_claim's primary key). Real SQLite and PostgreSQL, real threads."""
from __future__ import annotations

import threading

import pytest

from services.booking import common
from services.booking import rules as engine
from services.booking.tests.helpers import NOW, STAFF, apply, approved, call, instrument_payload, local
from services.common.db import Database, make_engine
from services.common.errors import Conflict
from services.common.migrate import upgrade


@pytest.fixture
def db(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    upgrade("booking", database_url)
    database = Database(make_engine(database_url))
    yield database
    database.engine.dispose()


def test_only_one_of_concurrent_requests_claims_the_slot(db, monkeypatch):
    monkeypatch.setattr(common, "clock", lambda: NOW)
    apply(db, approved())
    instrument = call(db, "publish_instrument", STAFF, payload=instrument_payload(approval_required=False))
    # Every request passes the rule check at once, as if they all read before anyone wrote.
    monkeypatch.setattr(engine, "request_violations", lambda *a, **k: [])
    barrier = threading.Barrier(4)
    results = []

    def attempt(n):
        barrier.wait()
        try:
            out = call(db, "request_booking", {"user_id": f"ent-{n}", "role": "enterprise"},
                       payload={"instrument_id": instrument["id"], "starts_at": local(2026, 12, 2, 9, 30 * (n % 2)),
                                "ends_at": local(2026, 12, 2, 10, 30 * (n % 2))})
            results.append(("ok", out["id"]))
        except Conflict as exc:
            results.append(("conflict", exc.code, exc.errors["rules"][0]["rule"]))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r[0] for r in results) == ["conflict", "conflict", "conflict", "ok"], results
    assert all(r[1:] == ("slot_taken", "slot.booked") for r in results if r[0] == "conflict")
    listed = call(db, "list_bookings", {"user_id": "op", "role": "operator"}, query={})
    assert len(listed) == 1
