"""A registry event the index cannot apply is parked, not looped; transient failures redeliver."""
from __future__ import annotations

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.exc import OperationalError

from services.common import parking
from services.common.events import make_envelope
from services.matching import index
from services.matching.group_commit import GroupCommit
from services.matching.service import MatchingService


def test_malformed_event_is_parked_and_acknowledged(db):
    service = worker_factory(MatchingService, db=db, index_writer=GroupCommit(db, index.apply_registry_event))
    bad = make_envelope("registry", "institution.approved", "i-1", {"institution_id": "i-1"})  # no revision
    assert service.on_institution_approved(bad) is None          # acknowledged: no exception for nameko
    service.on_institution_approved(bad)                         # a redelivery parks it once
    [parked] = parking.list_parked(db)
    assert parked["event_id"] == bad["id"] and parked["consumer"] == "matching.on_institution_approved"
    assert "revision" in parked["error"] and parked["replayed_at"] is None


def test_transient_failure_is_redelivered_not_parked(db, monkeypatch):
    service = worker_factory(MatchingService, db=db)
    good = make_envelope("registry", "institution.approved", "i-2", {"institution_id": "i-2", "revision": 1})

    def database_down(envelope):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(service, "_apply", database_down)
    with pytest.raises(OperationalError):
        service.on_institution_approved(good)
    assert parking.list_parked(db) == []
