"""The registry's real events, taken from its outbox, into matching's real index (issue 8.13a).

No hand-made events: an institution is applied for, approved and deregistered with the
registry's own domain functions on a real registry database; the envelopes the registry
wrote into its outbox (exactly what the relay publishes) are handed to the matching
service's own event handlers, chosen by their nameko entrypoint declarations (source
service and event type, as the broker would route them), writing into a real matching
database; search then answers from that index. SQLite and PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from nameko.events import EventHandler
from nameko.testing.services import worker_factory
from sqlalchemy import select

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.outbox import OutboxEvent
from services.matching import search
from services.matching.models import IndexedInstitution
from services.matching.contract.schemas_search import SearchQuery
from services.matching.service import MatchingService
from services.common.schemas import load
from services.registry import applications, deregistration, institutions
from services.registry.contract.schemas_applications import ApplicationIn
from services.registry.tests.helpers import application

APPLICANT = {"user_id": "user-ent-13a", "role": "enterprise"}
OPERATOR = {"user_id": "user-op-13a", "role": "operator"}
AT = dt.datetime(2026, 9, 30, 2, 0)


@pytest.fixture
def databases(backend, tmp_path, pg_databases, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))   # the registry stores attachments there
    made = {}
    for service in ("registry", "matching"):
        url = f"sqlite:///{tmp_path / service}.db" if backend == "sqlite" else pg_databases.create(service)
        upgrade(service, url)
        made[service] = Database(make_engine(url))
    yield made
    for database in made.values():
        database.engine.dispose()


class Outbox:
    """Reads the registry's outbox as the relay would: rows after the last one taken, in order."""

    def __init__(self, db: Database):
        self.db = db
        self.seen = 0

    def take(self) -> list[dict]:
        with self.db.read() as session:
            rows = session.scalars(select(OutboxEvent).where(OutboxEvent.seq > self.seen)
                                   .order_by(OutboxEvent.seq)).all()
            if rows:
                self.seen = rows[-1].seq
            return [json.loads(row.body) for row in rows]


def handlers_by_route() -> dict[tuple[str, str], str]:
    """(source service, event type) -> MatchingService method, from the nameko declarations."""
    routes = {}
    for name in dir(MatchingService):
        for entrypoint in getattr(getattr(MatchingService, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventHandler):
                routes[(entrypoint.source_service, entrypoint.event_type)] = name
    return routes


def deliver(service, envelopes: list[dict]) -> list[str]:
    """Hand each envelope to the handler the broker would route it to; returns the types delivered."""
    routes = handlers_by_route()
    delivered = []
    for envelope in envelopes:
        method = routes.get((envelope["source"], envelope["type"]))
        if method:                  # matching does not subscribe to every registry event
            getattr(service, method)(envelope)
            delivered.append(envelope["type"])
    return delivered


def searchable(matching_db, **params) -> list[str]:
    with matching_db.read() as session:
        return [item["institution_id"] for item in search.search(session, load(SearchQuery, params))["items"]]


def test_deregistered_institution_leaves_search_through_the_real_events(databases):
    registry_db, matching_db = databases["registry"], databases["matching"]
    outbox = Outbox(registry_db)
    matching = worker_factory(MatchingService, db=matching_db)
    assert ("registry", "institution.deregistered") in handlers_by_route()

    payload = application(813)
    with registry_db.transaction() as session:
        app_id = applications.submit_application(session, APPLICANT, load(ApplicationIn, payload),
                                                 at=AT)["application_id"]
    with registry_db.transaction() as session:
        applications.review_application(session, OPERATOR, app_id, "approve", at=AT + dt.timedelta(hours=2))
    delivered = deliver(matching, outbox.take())
    assert "institution.approved" in delivered
    with registry_db.read() as session:
        [institution_id] = [i["institution_id"] for i in institutions.list_institutions(session, None)["items"]]
    name = payload["institution"]["name"]
    assert searchable(matching_db, q=name) == [institution_id]
    assert searchable(matching_db, q="电气安全") == [institution_id]   # a capability's parameter

    with registry_db.transaction() as session:
        deregistration.deregister(session, OPERATOR, institution_id, {"reason": "资质被撤销"},
                                at=AT + dt.timedelta(days=30))
    events = outbox.take()
    assert [e["type"] for e in events] == ["institution.deregistered"]
    assert deliver(matching, events) == ["institution.deregistered"]

    assert searchable(matching_db, q=name) == []
    assert searchable(matching_db, q="电气安全") == []
    assert searchable(matching_db, category="testing") == []
    with matching_db.read() as session:
        row = session.get(IndexedInstitution, institution_id)
        assert row.status == "deregistered"
    # A redelivery of the approval (same envelope) changes nothing: the institution stays out.
    with registry_db.read() as session:
        first = json.loads(session.scalars(select(OutboxEvent).where(OutboxEvent.type == "institution.approved"))
                           .first().body)
    deliver(matching, [first])
    assert searchable(matching_db, q=name) == []
