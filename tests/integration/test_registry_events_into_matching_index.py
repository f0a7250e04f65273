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
from services.matching import index, search
from services.matching.group_commit import GroupCommit
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
    matching = worker_factory(MatchingService, db=matching_db,
                              index_writer=GroupCommit(matching_db, index.apply_registry_event))
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


def rank_rows(session):
    from services.matching.models import RankedInstitution
    columns = [c for c in RankedInstitution.__table__.columns if c.name != "doc"]
    return session.execute(select(*columns).order_by(RankedInstitution.institution_id)).all()


def test_rebuild_from_the_registry_equals_the_index_fed_by_events(databases, backend, pg_databases, tmp_path):
    """The registry's profile pages (its `institution_profiles` RPC) rebuild an index equal to
    the one its events built; a profile page equals the event data; deregistered ones stay out."""
    from services.matching import postings, rebuild
    from services.registry import profiles_feed

    registry_db, matching_db = databases["registry"], databases["matching"]
    outbox = Outbox(registry_db)
    matching = worker_factory(MatchingService, db=matching_db,
                              index_writer=GroupCommit(matching_db, index.apply_registry_event))
    for n in (901, 902, 903):
        with registry_db.transaction() as session:
            app_id = applications.submit_application(session, APPLICANT, load(ApplicationIn, application(n)),
                                                     at=AT)["application_id"]
        with registry_db.transaction() as session:
            applications.review_application(session, OPERATOR, app_id, "approve", at=AT + dt.timedelta(hours=2))
    with registry_db.read() as session:
        ids = sorted(i["institution_id"] for i in institutions.list_institutions(session, None)["items"])
    with registry_db.transaction() as session:
        deregistration.deregister(session, OPERATOR, ids[0], {"reason": "停业"}, at=AT + dt.timedelta(days=3))
    events = outbox.take()
    deliver(matching, events)
    latest = {}
    for envelope in events:
        if envelope["type"] in index.PROFILE_EVENTS:
            latest[envelope["data"]["institution_id"]] = envelope["data"]

    def pages(after, limit):
        with registry_db.read() as session:
            return profiles_feed.profiles_page(session, after=after, limit=limit)
    items = pages(None, 10)["items"]
    assert [i["institution_id"] for i in items] == ids
    for item in items[1:]:
        assert item == latest[item["institution_id"]]
    assert items[0]["snapshot"]["status"] == "deregistered"

    url = f"sqlite:///{tmp_path / 'rebuilt.db'}" if backend == "sqlite" else pg_databases.create("rebuilt")
    upgrade("matching", url)
    rebuilt = Database(make_engine(url))
    try:
        counts = rebuild.rebuild(rebuilt, pages, page_size=2)  # two pages
        assert counts["applied"] == 3 and counts["pages"] == 2
        with matching_db.read() as fed, rebuilt.read() as again:
            assert postings.documents(again) == postings.documents(fed)
            assert set(postings.documents(again)) == set(ids[1:])
            # the rank rows too, their filter facts included (doc is each database's own rowid)
            assert rank_rows(again) == rank_rows(fed)
        assert searchable(rebuilt, category="testing") == searchable(matching_db, category="testing")
        assert (searchable(rebuilt, category="testing", qualification="CMA", price_max="5000")
                == searchable(matching_db, category="testing", qualification="CMA", price_max="5000"))
        # in place again: the same revisions are re-indexed, nothing changes
        assert rebuild.rebuild(rebuilt, pages, page_size=500)["applied"] == 3
        with matching_db.read() as fed, rebuilt.read() as again:
            assert postings.documents(again) == postings.documents(fed)
    finally:
        rebuilt.engine.dispose()
