"""The demo data: a published 2026-Q3 with mixed ratings, every dissatisfied item analysed, complaints at every stage."""
from __future__ import annotations

from services.feedback import demo
from services.feedback.tests.helpers import OPERATOR, call, events


def test_demo_publishes_2026_q3_and_runs_twice(db):
    assert demo.seed(db).endswith("2026-Q3 published")
    assert demo.seed(db) == "2026-Q3 already published"
    page = call(db, "quarterly_statistics", None, query={"year": "2026", "quarter": "3"})
    platform = page["platform"]
    assert platform["services_finished"] == len(demo.PATTERN) and platform["not_evaluated"] > 0
    assert len({r for r, n in platform["by_rating"].items() if n}) >= 4     # a mix of ratings
    assert platform["staff_entered"] > 0 and platform["on_time_rate"] is not None
    assert page["missing_cause_analysis"] == 0 and page["rectifications"]["overturned"] == 1
    assert {i["institution_id"] for i in page["institutions"]} == set(demo.INSTITUTIONS)
    states = {c["state"] for c in call(db, "list_complaints", OPERATOR, query={"limit": 500})["items"]}
    assert states >= {"received", "accepted", "investigated", "forwarded", "returned", "answered", "decided", "told",
                      "closed", "merged"}
    assert events(db, "statistics.published") and events(db, "institution.rated")


def test_demo_institutions_are_the_registry_demo_ids():
    import uuid

    from services.registry.demo import NAMESPACE, _uscc   # a test may read the registry's demo code
    assert demo.INSTITUTIONS == [str(uuid.uuid5(NAMESPACE, _uscc(n))) for n in (1, 2, 3)]
