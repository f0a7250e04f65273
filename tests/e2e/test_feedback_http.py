"""Feedback end to end through the gateway: the public quarterly page without login, a finished
service (published on the broker as matching publishes demand.closed) rated by the enterprise,
a complaint filed with an Idempotency-Key and seen in the staff queue."""
from __future__ import annotations

import datetime as dt
import re
import time
import uuid

import pytest
from kombu import Connection, Exchange, Producer

from services.common.events import dumps, iso_utc, make_envelope

pytestmark = pytest.mark.e2e
PROBLEM = "application/problem+json"


def eventually(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def publish(platform, envelope):
    exchange = Exchange(f"{envelope['source']}.events", type="topic", durable=True)
    with Connection(platform.env["QI_AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=exchange)
        exchange(producer.channel).declare()
        producer.publish(dumps(envelope), routing_key=envelope["type"], content_type="application/json",
                         content_encoding="utf-8", serializer=None, delivery_mode=2, message_id=envelope["id"])


def test_public_quarterly_page_answers_without_login(api):
    response = api.get("/api/v1/statistics/quarterly", params={"year": 2026, "quarter": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == "2026-Q3" and body["published"] is True
    assert body["platform"]["services_finished"] > 0 and "满意率" in body["formula"]["satisfaction_rate_zh"]
    bad = api.get("/api/v1/statistics/quarterly", params={"year": 2026, "quarter": 9})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    # The exports are the files themselves, named by Content-Disposition.
    export = api.get("/api/v1/statistics/quarterly/export", params={"year": 2026, "quarter": 3, "format": "xlsx"})
    assert export.status_code == 200
    assert export.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="quarterly-statistics-2026-Q3.xlsx"' in export.headers["content-disposition"]
    assert export.content[:2] == b"PK"                                   # a zip: the .xlsx itself
    csv_file = api.get("/api/v1/statistics/quarterly/export", params={"year": 2026, "quarter": 3, "format": "csv"})
    assert csv_file.status_code == 200 and csv_file.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_file.headers["content-disposition"].startswith("attachment;")
    text = csv_file.content.decode("utf-8-sig")
    assert text.startswith("scope,id,services_finished") and "\nplatform," in text


def test_enterprise_rates_a_finished_demand_once(platform, api):
    login = api.post("/api/v1/auth/login", json={"username": "ent-demo", "password": "Passw0rd!2026"}).json()
    token, user_id = login["access_token"], login["user"]["id"]
    demand_id = str(uuid.uuid4())
    block = {"service_type": "demand", "service_id": demand_id, "enterprise_id": user_id,
             "institution_id": str(uuid.uuid4()), "window_id": None, "handler_id": None,
             "finished_at": iso_utc(dt.datetime.now(dt.timezone.utc))}
    publish(platform, make_envelope("matching", "demand.closed", demand_id, {"demand_id": demand_id,
                                                                            "evaluation": block}))

    def mine():
        items = api.get("/api/v1/evaluations", token=token, params={"state": "invited"}).json()["items"]
        return [e for e in items if e["service_id"] == demand_id]
    found = eventually(mine)
    assert found, "no invitation"
    path = f"/api/v1/evaluations/{found[0]['id']}/submission"
    bad = api.post(path, token=token, json={"overall": "dissatisfied", "process": "basic", "efficiency": "basic",
                                            "attitude": "basic"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    assert bad.json()["code"] == "validation_error" and "text" in bad.json()["errors"]
    assert api.post(path, json={"overall": "satisfied"}).status_code == 401
    good = {"overall": "satisfied", "process": "satisfied", "efficiency": "very_satisfied", "attitude": "satisfied"}
    done = api.post(path, token=token, json=good)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "submitted"
    again = api.post(path, token=token, json=good)
    assert again.status_code == 409 and again.json()["code"] == "evaluation_closed"


def test_complaint_filed_once_per_key_and_queued_for_staff(api):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    from services.feedback.demo import INSTITUTIONS    # an approved institution (registry's demo)
    payload = {"institution_id": INSTITUTIONS[0], "type": "time_limit", "content": "报告超期未出具"}
    key = {"Idempotency-Key": f"complaint-{uuid.uuid4()}"}
    first = api.post("/api/v1/complaints", token=enterprise, json=payload, headers=key)
    assert first.status_code == 201, first.text
    assert re.fullmatch(r"TS-\d{8}-\d{4}", first.json()["number"])
    again = api.post("/api/v1/complaints", token=enterprise, json=payload, headers=key)
    assert again.json()["number"] == first.json()["number"]
    bad = api.post("/api/v1/complaints", token=enterprise, json={**payload, "type": "nope"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    unknown = api.post("/api/v1/complaints", token=enterprise, json={**payload, "institution_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["code"] == "complaint_reference_unknown"
    linked = api.post("/api/v1/complaints", token=enterprise,
                      json={**payload, "link_type": "booking", "link_id": str(uuid.uuid4())})
    assert linked.status_code == 422 and linked.json()["errors"]["link_id"]
    queue = api.get("/api/v1/complaints", token=operator, params={"state": "received", "limit": 500})
    assert queue.status_code == 200
    assert first.json()["id"] in [c["id"] for c in queue.json()["items"]]
    assert api.get("/api/v1/complaints", params={}).status_code == 401
