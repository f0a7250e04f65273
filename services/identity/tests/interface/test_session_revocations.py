"""Identity's in-memory session check (revocations.py): as strict as its table, without a query per call."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from services.common.db import Database, make_engine
from services.identity import revocations, signin, tokens

from ..helpers import PASSWORD, enterprise_payload, events


@pytest.fixture
def user(service):
    return service.register(enterprise_payload())


@pytest.fixture
def queries(db):
    """Statements this test's database has run since the last `clear()`."""
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def sign_in(db) -> dict:
    with db.transaction() as session:
        return signin.sign_in(session, "acme", PASSWORD)


def log_out(db, user, result) -> None:
    with db.transaction() as session:
        signin.logout(session, {"user_id": user["id"], "role": "enterprise", "sid": result["sid"]})


def test_a_live_session_is_looked_up_once_then_answered_from_memory(db, user, queries):
    result = sign_in(db)
    check = revocations.SessionRevocations(db)
    assert check.is_revoked(result["sid"]) is False
    queries.clear()
    for _ in range(3):
        assert check.is_revoked(result["sid"]) is False
    assert queries == []


def test_a_session_identity_never_opened_is_refused(db, user):
    check = revocations.SessionRevocations(db)
    assert check.is_revoked("5b0c7c1e-0000-4000-8000-000000000000") is True
    assert check.is_revoked(None) is True


def test_a_logout_in_this_process_counts_from_its_commit_without_waiting_for_the_event(db, user):
    result = sign_in(db)
    check = revocations.SessionRevocations(db)
    assert check.is_revoked(result["sid"]) is False    # now cached as live
    log_out(db, user, result)
    assert check.is_revoked(result["sid"]) is True


def test_a_revocation_that_rolls_back_revoked_nothing(db, user):
    result = sign_in(db)
    check = revocations.SessionRevocations(db)
    assert check.is_revoked(result["sid"]) is False

    class Boom(Exception):
        pass
    with pytest.raises(Boom), db.transaction() as session:
        signin.logout(session, {"user_id": user["id"], "role": "enterprise", "sid": result["sid"]})
        raise Boom()
    assert check.is_revoked(result["sid"]) is False
    with db.read() as session:
        assert tokens.session_revoked(session, result["sid"]) is False


def test_another_identity_process_learns_a_revocation_from_the_event_or_at_the_next_reload(db_path, db, user):
    # "Another process": its own engine and Database on the same database, its own memory.
    other_db = Database(make_engine(f"sqlite:///{db_path}"))
    try:
        first, second = sign_in(db), sign_in(db)
        other = revocations.SessionRevocations(other_db, reload_seconds=3600)
        assert other.is_revoked(first["sid"]) is False and other.is_revoked(second["sid"]) is False
        log_out(db, user, first)
        log_out(db, user, second)
        assert other.is_revoked(first["sid"]) is False   # not told yet: the bound is the event's delivery
        # The broadcast this process's outbox publishes (services.identity.service.on_session_revoked):
        envelope = next(e for e in events(db, "user.session_revoked") if e["data"]["sid"] == first["sid"])
        other.add_event(envelope)
        assert other.is_revoked(first["sid"]) is True
        # The second event was lost: the periodic reload from the table still brings it.
        assert other.is_revoked(second["sid"]) is False
        other.revoked.reload_seconds = 0
        assert other.is_revoked(second["sid"]) is True
    finally:
        other_db.engine.dispose()


def test_the_live_set_is_bounded(db, user):
    sids = [sign_in(db)["sid"] for _ in range(3)]
    check = revocations.SessionRevocations(db, live_size=2)
    for sid in sids:
        assert check.is_revoked(sid) is False
    assert list(check.live) == sids[1:]


def test_one_check_per_database(db_path, db):
    other_db = Database(make_engine(f"sqlite:///{db_path}"))
    try:
        assert revocations.for_database(db) is revocations.for_database(db)
        assert revocations.for_database(db) is not revocations.for_database(other_db)
    finally:
        other_db.engine.dispose()
