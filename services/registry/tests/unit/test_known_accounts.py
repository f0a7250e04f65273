"""Identity's `user.registered` kept as a local account copy: applied once (a redelivery changes
nothing), and a training's participants named by the public nickname; an account the registry
never heard of has none (null), as the response schema dumps it."""
from __future__ import annotations

import uuid

from sqlalchemy import event as sa_event, func, select

from services.common.events import make_envelope
from services.registry import accounts, training
from services.registry.models import KnownAccount

from ..helpers import dumped
from .test_training import OPERATOR, _event, _sign_up


def registered(user_id, nickname, role="enterprise"):
    return make_envelope("identity", "user.registered", user_id, {
        "user_id": user_id, "role": role, "nickname": nickname, "registered_at": "2026-10-01T08:30:00Z",
        "verification_level": "format_checked"})


def apply(db, envelope):
    with db.transaction() as session:
        return accounts.apply_identity_event(session, envelope)


def test_an_account_is_kept_once_and_a_duplicate_is_ignored(db):
    user_id = str(uuid.uuid4())
    envelope = registered(user_id, "示范企业")
    assert apply(db, envelope) == "applied"
    assert apply(db, envelope) == "duplicate"              # a redelivery: the same envelope id
    assert apply(db, make_envelope("identity", "user.verified", user_id, {"user_id": user_id})) == "ignored"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(KnownAccount)) == 1
        row = session.get(KnownAccount, user_id)
        assert (row.role, row.nickname, row.registered_at.isoformat()) == ("enterprise", "示范企业",
                                                                           "2026-10-01T08:30:00")
        assert accounts.nickname_of(session, user_id) == "示范企业"
        assert accounts.nickname_of(session, "never-heard-of") is None


def test_participants_are_listed_by_nickname_in_one_query_and_unknown_accounts_by_null(db):
    event_id = _event(db, capacity=2)["training_id"]
    known, person, stranger = (str(uuid.uuid4()) for _ in range(3))
    apply(db, registered(known, "示范企业"))
    apply(db, registered(person, "示范个人", role="person"))
    mine = _sign_up(db, {"user_id": known, "role": "enterprise"}, event_id)
    assert mine["nickname"] == "示范企业"                  # one's own sign-up names one too
    _sign_up(db, {"user_id": person, "role": "person"}, event_id)
    _sign_up(db, {"user_id": stranger, "role": "enterprise"}, event_id)     # registered before the registry listened
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)
    with db.read() as session:
        engine = session.get_bind()
        sa_event.listen(engine, "before_cursor_execute", seen)
        try:
            listing = training.list_signups(session, OPERATOR, event_id)
        finally:
            sa_event.remove(engine, "before_cursor_execute", seen)
    # No read per row: the nicknames come with the sign-ups, in the one statement that joins them.
    naming = [s for s in statements if "known_account" in s]
    assert len(naming) == 1 and "training_signup" in naming[0]
    shown = dumped("list_training_signups", listing)["items"]
    assert [(s["user_id"], s["nickname"], s["status"]) for s in shown] == [
        (known, "示范企业", "confirmed"), (person, "示范个人", "confirmed"), (stranger, None, "waitlisted")]
