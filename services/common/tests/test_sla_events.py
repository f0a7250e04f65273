"""`sla.clock_closed`: a clock's verdict is recorded on the owning service's outbox, in the
transaction that judged it, with the institution / window it is attributed to."""
import json

from sqlalchemy import select

from services.common import sla
from services.common.outbox import OutboxEvent
from services.common.sla import cancel_clock, start_clock, stop_clock, sweep_overdue
from services.common.tests.test_sla_calendar_gap import REVIEW, caldir, db, load_2027, sh  # noqa: F401


def closed(db):
    with db.read() as s:
        return [json.loads(r.body) for r in s.scalars(select(OutboxEvent).where(OutboxEvent.type == "sla.clock_closed")
                                                      .order_by(OutboxEvent.seq))]


def test_met_and_breached_verdicts_are_announced_with_their_attribution(db):
    with db.transaction() as s:
        met = start_clock(s, REVIEW, "application", "a1", at=sh(2026, 9, 1, 10, 0), institution_id="inst-1")
        late = start_clock(s, "matching.demand_response", "demand", "d1", at=sh(2026, 9, 1, 10, 0),
                           window_id="win-1")
        gone = start_clock(s, REVIEW, "application", "a2", at=sh(2026, 9, 1, 10, 0))
    with db.transaction() as s:
        stop_clock(s, met, at=sh(2026, 9, 2, 10, 0))
        stop_clock(s, (late.rule, "demand", "d1"), at=sh(2026, 9, 8, 10, 0), institution_id="inst-2")
        cancel_clock(s, gone, at=sh(2026, 9, 2, 10, 0))          # neither met nor breached: nothing
    events = closed(db)
    assert [(e["source"], e["data"]["outcome"]) for e in events] == [("registry", "met"), ("matching", "breached")]
    first, second = (e["data"] for e in events)
    assert first["clock_id"] == met.id and first["institution_id"] == "inst-1" and first["window_id"] is None
    assert first["limit_working_days"] == 3 and first["started_at"] == "2026-09-01T02:00:00Z"
    assert first["due_at"] and first["stopped_at"] == "2026-09-02T02:00:00Z"
    # The stop named the institution that answered; the window of the start is kept.
    assert second["institution_id"] == "inst-2" and second["window_id"] == "win-1"


def test_a_rolled_back_stop_announces_nothing(db):
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "a1", at=sh(2026, 9, 1, 10, 0))
    try:
        with db.transaction() as s:
            stop_clock(s, (REVIEW, "application", "a1"), at=sh(2026, 9, 2, 10, 0))
            raise RuntimeError("the business change failed")
    except RuntimeError:
        pass
    assert closed(db) == []


def test_a_pending_stop_is_announced_when_the_year_is_loaded(db, caldir, tmp_path):
    with db.transaction() as s:
        start_clock(s, REVIEW, "application", "late", at=sh(2026, 12, 29, 11, 0), institution_id="inst-1")
    with db.transaction() as s:
        assert stop_clock(s, (REVIEW, "application", "late"), at=sh(2027, 1, 8, 9, 0)).state == sla.STOPPED
    assert closed(db) == []                                     # no verdict yet: nothing announced
    load_2027(caldir, tmp_path)
    with db.transaction() as s:
        sweep_overdue(s, now=sh(2027, 1, 11, 9, 0))
    [event] = closed(db)
    assert event["data"]["outcome"] == "breached" and event["data"]["institution_id"] == "inst-1"
    assert event["data"]["judged_at"] == "2027-01-11T01:00:00Z" and event["data"]["due_at"]
