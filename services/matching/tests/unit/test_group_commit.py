"""The index consumer's group commit: concurrent workers' events in one transaction,
each worker handed its own outcome; a failing event fails alone."""
import eventlet
import pytest
from sqlalchemy import func, select

from services.common.consumer import ProcessedEvent
from services.matching import index
from services.matching.group_commit import GroupCommit
from services.matching.models import RankedInstitution

from ..helpers import profile, profile_event, run_search


class CountingDb:
    """The test database, counting the transactions opened on it."""

    def __init__(self, db):
        self.db, self.transactions = db, 0

    def transaction(self):
        self.transactions += 1
        return self.db.transaction()


def _workers(group, envelopes):
    """Each envelope submitted by a green thread of its own, as nameko's workers do."""
    threads = [eventlet.spawn(group.submit, envelope) for envelope in envelopes]
    results = []
    for thread in threads:
        try:
            results.append(thread.wait())
        except Exception as exc:  # the worker's own exception
            results.append(exc)
    return results


def test_concurrent_events_commit_together_each_with_its_outcome(db):
    counting = CountingDb(db)
    group = GroupCommit(counting, index.apply_registry_event)
    snaps = [profile(name=f"泰州检测中心{i}") for i in range(12)]
    events = [profile_event(s) for s in snaps]
    outcomes = _workers(group, events + [events[0]])  # a redelivery in the same batch
    assert outcomes == ["applied"] * 12 + ["duplicate"]
    assert counting.transactions == 1
    assert run_search(db, q="泰州")["total"] == 12
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 12


def test_a_failing_event_fails_alone_and_the_others_are_applied(db):
    counting = CountingDb(db)

    def apply(session, envelope):
        if envelope["data"]["snapshot"]["name"] == "坏":
            raise ValueError("malformed")
        return index.apply_registry_event(session, envelope)
    group = GroupCommit(counting, apply)
    events = [profile_event(profile(name=name)) for name in ("甲检测所", "坏", "乙检测所")]
    outcomes = _workers(group, events)
    assert outcomes[0] == outcomes[2] == "applied"
    assert isinstance(outcomes[1], ValueError)
    assert counting.transactions == 1 + 3  # the batch, rolled back, then one by one
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RankedInstitution)) == 2


def test_one_event_alone_is_applied_at_once(db):
    group = GroupCommit(db, index.apply_registry_event)
    assert group.submit(profile_event(profile())) == "applied"
    with pytest.raises(KeyError):
        group.submit({"id": "x", "type": "institution.approved", "data": {}})
