"""Operators see every open time limit of the platform in one list (registry reviews and
demand response/recommendation), soonest due first; others may not."""
from __future__ import annotations

import uuid

from services.registry.tests.helpers import application


def test_all_open_time_limits_in_one_list(api):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    serial = uuid.uuid4().int % 9_000_000 + 1_000_000
    applied = api.post("/api/v1/applications", token=enterprise, json=application(serial))
    assert applied.status_code == 201, applied.text
    demand = api.post("/api/v1/demands", token=enterprise, json={"title": "电线电缆导体电阻检测",
                                                                 "category": "testing", "product": "电线电缆"})
    assert demand.status_code == 201, demand.text

    clocks = api.get("/api/v1/sla/clocks", token=operator)
    assert clocks.status_code == 200, clocks.text
    by_subject = {(c["subject_id"], c["rule"]) for c in clocks.json()}
    assert (applied.json()["application_id"], "registry.application_review") in by_subject
    assert (demand.json()["id"], "matching.demand_response") in by_subject
    assert (demand.json()["id"], "matching.demand_recommendation") in by_subject
    due = [c["due_at"] for c in clocks.json() if c["due_at"]]
    assert due == sorted(due)
    assert all(c["state"] in ("running", "paused") for c in clocks.json())
    assert api.get("/api/v1/sla/clocks", token=api.login("regulator1")).status_code == 200
    assert api.get("/api/v1/sla/clocks", token=enterprise).status_code == 403
    assert api.get("/api/v1/sla/clocks?overdue=maybe", token=operator).status_code == 422
