"""Ratings from feedback (`institution.rated`) reach the ranking: stored on the index rows,
idempotent, newest computation wins, a rating may arrive before the institution is indexed."""
from types import SimpleNamespace

import pytest
from nameko.testing.services import worker_factory

from services.common import parking
from services.matching import ratings, search
from services.matching.models import IndexedInstitution, RankedInstitution
from services.matching.scoring import NEUTRAL_REPUTATION, reputation_points
from services.matching.service import MatchingService

from ..helpers import apply, ids, profile, profile_event, rated_event, run_search


def rate(db, envelope):
    with db.transaction() as session:
        return ratings.apply_rating_event(session, envelope)


def _copy(obj):
    return None if obj is None else SimpleNamespace(**{c.key: getattr(obj, c.key) for c in obj.__table__.columns})


def row(db, institution_id):
    """The index row and the rank row of an institution, read now."""
    with db.read() as session:
        return _copy(session.get(IndexedInstitution, institution_id)), _copy(session.get(RankedInstitution,
                                                                                        institution_id))


def _factor(item, name):
    return next(e for e in item["explain"] if e["factor"] == name)


def test_a_rating_moves_an_institution_up_and_explains_why(db):
    a, b = profile(institution_id="inst-a"), profile(institution_id="inst-b")
    apply(db, profile_event(a))
    apply(db, profile_event(b))
    assert ids(run_search(db, q="电线电缆")) == ["inst-a", "inst-b"]   # equal scores: by id
    neutral = run_search(db, q="电线电缆")["items"][1]
    assert _factor(neutral, "rating")["value"] == 0.5 and _factor(neutral, "on_time")["value"] == 0.5

    assert rate(db, rated_event("inst-b", satisfaction=0.9, on_time_rate=0.8)) == "applied"

    result = run_search(db, q="电线电缆")
    assert ids(result) == ["inst-b", "inst-a"]
    top = result["items"][0]
    assert (top["rating"], top["on_time_rate"]) == (4.5, 0.8)
    assert _factor(top, "rating")["value"] == 0.9 and _factor(top, "on_time")["value"] == 0.8
    assert top["score"] == round(sum(e["contribution"] for e in top["explain"]), 6)
    indexed, ranked = row(db, "inst-b")
    assert (indexed.rating_period, indexed.rating_evaluations) == ("2026-Q3", 12)
    assert ranked.reputation == reputation_points(4.5, 0.8) and ranked.rating == 4.5
    with db.read() as session:
        assert search.get_institution(session, "inst-b")["rating"] == 4.5
    assert [i["institution_id"] for i in run_search(db, rating_min=4)["items"]] == ["inst-b"]


def test_a_redelivery_changes_nothing_and_an_older_computation_is_stale(db):
    apply(db, profile_event(profile(institution_id="inst-c")))
    first = rated_event("inst-c", satisfaction=0.6, computed_at="2026-10-08T02:00:00Z")
    assert rate(db, first) == "applied"
    assert rate(db, first) == "duplicate"
    older = rated_event("inst-c", satisfaction=0.2, period="2026-Q2", computed_at="2026-07-08T02:00:00Z")
    assert rate(db, older) == "stale"
    assert row(db, "inst-c")[0].rating == 3.0
    newer = rated_event("inst-c", satisfaction=0.8, on_time_rate=None, period="2026-Q4",
                        computed_at="2027-01-08T10:00:00+08:00")
    assert rate(db, newer) == "applied"
    indexed, ranked = row(db, "inst-c")
    assert (indexed.rating, indexed.on_time_rate, indexed.rating_period) == (4.0, None, "2026-Q4")
    assert ranked.reputation == reputation_points(4.0, None)   # no on-time record: neutral for that part


def test_a_rating_before_the_institution_is_indexed_waits_for_its_profile(db):
    assert rate(db, rated_event("inst-d", satisfaction=1.0, on_time_rate=1.0)) == "applied"
    indexed, ranked = row(db, "inst-d")
    assert indexed.status == "pending" and ranked is None
    assert run_search(db, q="电线电缆")["items"] == []
    apply(db, profile_event(profile(institution_id="inst-d")))
    indexed, ranked = row(db, "inst-d")
    assert indexed.status == "active" and indexed.rating == 5.0
    assert ranked.reputation == reputation_points(5.0, 1.0) > NEUTRAL_REPUTATION
    assert run_search(db, q="电线电缆")["items"][0]["rating"] == 5.0


@pytest.mark.parametrize("data", [{"satisfaction": 1.5}, {"on_time_rate": -0.1}, {"computed_at": "yesterday"},
                                  {"evaluations": "many"}])
def test_a_malformed_rating_is_parked_not_applied(db, data):
    apply(db, profile_event(profile(institution_id="inst-e")))
    envelope = rated_event("inst-e")
    envelope["data"].update(data)
    service = worker_factory(MatchingService, db=db)
    assert service.on_institution_rated(envelope) is None   # acknowledged, parked
    [parked] = parking.list_parked(db)
    assert parked["consumer"] == "matching.on_institution_rated" and parked["event_id"] == envelope["id"]
    assert row(db, "inst-e")[0].rating is None


def test_other_event_types_are_ignored(db):
    envelope = rated_event("inst-f")
    envelope["type"] = "institution.something_else"
    assert rate(db, envelope) == "ignored"


def test_proposals_for_a_demand_weigh_the_rating(db):
    from services.matching import handling

    from ..helpers import OPERATOR, publish
    apply(db, profile_event(profile(institution_id="inst-g")))
    apply(db, profile_event(profile(institution_id="inst-h")))
    view = publish(db)
    with db.read() as session:
        before = [p["institution_id"] for p in handling.proposals(session, OPERATOR, view["id"])["items"]]
    rate(db, rated_event("inst-h", satisfaction=1.0))
    with db.read() as session:
        after = handling.proposals(session, OPERATOR, view["id"])["items"]
    assert before == ["inst-g", "inst-h"] and [p["institution_id"] for p in after] == ["inst-h", "inst-g"]
    assert _factor(after[0], "rating")["value"] == 1.0
