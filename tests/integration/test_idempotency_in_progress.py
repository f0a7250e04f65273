"""Issue 8.3: a second request with the same Idempotency-Key while the first still runs is told
"in progress" (409 request_in_progress, Retry-After), not a final-looking write_conflict; a retry
after the first finished gets the first result. Real SQLite and PostgreSQL, two concurrent calls.
"""
from __future__ import annotations

import threading

import pytest

from services.common.consumer import run_idempotent
from services.common.db import Database, make_engine
from services.common.errors import Conflict
from services.common.migrate import upgrade

pytestmark = pytest.mark.integration


def test_second_call_while_first_runs_is_in_progress_then_replays(database_url):
    upgrade("identity", database_url)
    db = Database(make_engine(database_url))
    started, release, done = threading.Event(), threading.Event(), threading.Event()
    created = []
    first_result = {}

    def slow_create():
        created.append("first")
        started.set()
        assert release.wait(30)
        return {"id": "thing-1"}

    def first():
        with db.transaction() as session:
            first_result["value"] = run_idempotent(session, "user-1", "key-1", "test.create", {"a": 1}, slow_create)
        done.set()

    worker = threading.Thread(target=first)
    worker.start()
    assert started.wait(30)
    try:
        with pytest.raises(Conflict) as refused:
            with db.transaction() as session:
                run_idempotent(session, "user-1", "key-1", "test.create", {"a": 1},
                               lambda: created.append("second") or {"id": "thing-2"})
        assert refused.value.code == "request_in_progress"
        assert refused.value.retry_after and refused.value.retry_after >= 1
        assert refused.value.status == 409
        # Another key of the same user is not held up.
        with db.transaction() as session:
            assert run_idempotent(session, "user-1", "key-2", "test.create", {"a": 1}, lambda: {"id": "other"}) == \
                {"id": "other"}
    finally:
        release.set()
        worker.join(30)
    assert done.is_set() and first_result["value"] == {"id": "thing-1"}
    # After the first finished: the retry replays its result and creates nothing.
    with db.transaction() as session:
        again = run_idempotent(session, "user-1", "key-1", "test.create", {"a": 1},
                               lambda: created.append("retry") or {"id": "thing-3"})
    assert again == {"id": "thing-1"} and created == ["first"]
    db.engine.dispose()


def test_claim_is_released_when_the_first_request_fails(database_url):
    upgrade("identity", database_url)
    db = Database(make_engine(database_url))

    def failing():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            run_idempotent(session, "user-1", "key-9", "test.create", {"a": 1}, failing)
    with db.transaction() as session:
        assert run_idempotent(session, "user-1", "key-9", "test.create", {"a": 1}, lambda: {"id": "ok"}) == {"id": "ok"}
    db.engine.dispose()
