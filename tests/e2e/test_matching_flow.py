"""Matching end to end through the gateway: registry events in (plain kombu), search,
lookups, standards, and a demand from publication to closing."""
from __future__ import annotations

import time
import urllib.parse
import uuid

import pytest
import requests
from kombu import Connection, Exchange, Producer

from services.common.events import dumps
from services.matching.tests.helpers import capability, deregistered_event, profile, profile_event, qualification

pytestmark = pytest.mark.e2e


def publish_registry(platform, envelope):
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(platform.env["QI_AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=exchange)
        exchange(producer.channel).declare()
        producer.publish(dumps(envelope), routing_key=envelope["type"], content_type="application/json",
                         content_encoding="utf-8", serializer=None, delivery_mode=2, message_id=envelope["id"])


def ids(response):
    assert response.status_code == 200, response.text
    return [i["institution_id"] for i in response.json()["items"]]


def eventually(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


@pytest.fixture(scope="module")
def indexed(platform, api):
    """A metrology institute and a lab, announced the way the registry announces them."""
    tag = uuid.uuid4().hex[:6]
    q = qualification("LEGAL_METROLOGY")
    metro = profile(name=f"泰州市计量测试院{tag}", kind="metrology", categories=("metrology",), qualifications=[q],
                    capabilities=[capability(category="metrology", item_name="压力表检定", product="一般压力表",
                                             parameter="示值误差", method_standard="JJG 52-2013", price=60, cycle=3,
                                             qualification_id=q["qualification_id"])])
    lab = profile(name=f"泰州市产品质量检验所{tag}", region="姜堰区",
                  qualifications=[qualification("CMA")],
                  capabilities=[capability(product="电线电缆", parameter="导体电阻",
                                           method_standard="GB/T 2828.1-2012;GB/T 3956-2008", price=800, cycle=5)])
    for snap in (metro, lab):
        publish_registry(platform, profile_event(snap, revision=1))
    assert eventually(lambda: lab["institution_id"] in ids(api.get("/api/v1/search/institutions",
                                                                   params={"q": "电线电缆"})))
    assert eventually(lambda: metro["institution_id"] in ids(api.get("/api/v1/search/institutions",
                                                                     params={"q": "计量"})))
    return {"metro": metro, "lab": lab, "tag": tag}


@pytest.mark.parametrize("q", ["计量", "jiliang", "jl", "压力表"])
def test_chinese_pinyin_initials(api, indexed, q):
    assert indexed["metro"]["institution_id"] in ids(api.get("/api/v1/search/institutions", params={"q": q}))
    assert indexed["lab"]["institution_id"] not in ids(api.get("/api/v1/search/institutions", params={"q": q}))


@pytest.mark.parametrize("number", ["GB/T 2828.1-2012", "gb/t2828.1", "GBT 2828.1"])
def test_standard_number_variants(api, indexed, number):
    assert indexed["lab"]["institution_id"] in ids(api.get("/api/v1/search/institutions", params={"q": number}))
    found = ids(api.get("/api/v1/search/institutions", params={"standard": number}))
    assert indexed["lab"]["institution_id"] in found and indexed["metro"]["institution_id"] not in found


def test_filters_explain_and_pagination(api, indexed):
    response = api.get("/api/v1/search/institutions", params={"region": "姜堰区", "price_max": 1000,
                                                              "qualification": "CMA"})
    assert indexed["lab"]["institution_id"] in ids(response)
    item = next(i for i in response.json()["items"] if i["institution_id"] == indexed["lab"]["institution_id"])
    assert {e["factor"] for e in item["explain"]} == {"text", "qualification", "rating", "on_time"}
    assert indexed["lab"]["institution_id"] not in ids(api.get("/api/v1/search/institutions",
                                                               params={"region": "姜堰区", "price_max": 100}))
    seen, cursor = [], None
    for _ in range(50):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/search/institutions", params=params).json()
        seen += [i["institution_id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == body["total"]
    assert api.get("/api/v1/search/institutions", params={"category": "nonsense"}).status_code == 422


def test_lookups(api, indexed):
    assert indexed["metro"]["institution_id"] in ids(api.get("/api/v1/lookups/metrology", params={"q": "压力表"}))
    assert indexed["lab"]["institution_id"] in ids(api.get("/api/v1/lookups/labs", params={"q": "电缆"}))


def test_standard_validity(api):
    body = api.get("/api/v1/standards/" + urllib.parse.quote("GB/T 19001-2008")).json()
    assert body["status"] == "replaced" and body["standard"]["replaced_by"] == "GB/T 19001-2016"
    assert body["current_edition"]["number"] == "GB/T 19001-2016"
    body = api.get("/api/v1/standards", params={"number": "gb/t2828.1"}).json()
    assert body["status"] == "current" and body["standard"]["number"] == "GB/T 2828.1-2012"
    assert api.get("/api/v1/standards", params={"number": "GB/T 99999-2020"}).status_code == 404
    operator = api.login("operator1")
    path = "/api/v1/standards/" + urllib.parse.quote("JJG 4-2015")
    assert api.put(path, json={"title": "钢卷尺", "status": "withdrawn"}).status_code == 401
    assert api.put(path, token=api.login("ent-demo"), json={"title": "钢卷尺", "status": "withdrawn"}).status_code == 403
    changed = api.put(path, token=operator, json={"title": "钢卷尺", "status": "withdrawn"})
    assert changed.status_code == 200, changed.text
    assert api.get(path).json()["status"] == "withdrawn"


def test_demand_from_publication_to_closing(platform, api, indexed):
    enterprise, operator, window = api.login("ent-demo"), api.login("operator1"), api.login("window1")
    lab_id = indexed["lab"]["institution_id"]
    created = api.post("/api/v1/demands", token=enterprise, headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "title": "电线电缆导体电阻检测", "category": "testing", "product": "电线电缆", "parameter": "导体电阻",
        "standard": "GB/T 3956-2008", "region": "姜堰区", "budget_yuan": 2000, "desired_cycle_working_days": 5})
    assert created.status_code == 201, created.text
    demand = created.json()
    assert {c["rule"] for c in demand["sla"]} == {"matching.demand_response", "matching.demand_recommendation"}
    # object level: window staff who did not enter it see nothing; the owner does
    assert api.get(f"/api/v1/demands/{demand['id']}", token=window).status_code == 404
    assert demand["id"] in [d["id"] for d in api.get("/api/v1/demands", token=enterprise).json()["items"]]
    assert api.post(f"/api/v1/demands/{demand['id']}/responses", token=enterprise,
                    json={"message": "x"}).status_code == 403

    soon = api.get("/api/v1/sla/demands", token=operator, params={"state": "due_soon"})
    assert soon.status_code == 200, soon.text
    assert api.post(f"/api/v1/demands/{demand['id']}/responses", token=operator,
                    json={"message": "已收到，正在匹配机构"}).status_code == 201
    proposals = api.get(f"/api/v1/demands/{demand['id']}/recommendations/proposals", token=operator).json()["items"]
    assert proposals and proposals[0]["institution_id"] == lab_id
    recommended = api.post(f"/api/v1/demands/{demand['id']}/recommendations", token=operator,
                           json={"institutions": [{"institution_id": lab_id, "reason": "资质与能力匹配"}]})
    assert recommended.status_code == 201, recommended.text
    assert {c["state"] for c in recommended.json()["sla"]} == {"met"}
    engaged = api.post(f"/api/v1/demands/{demand['id']}/engagements", token=enterprise, json={
        "institution_id": lab_id, "agreed_items": ["导体电阻"], "agreed_cycle_working_days": 5,
        "first_contact_at": "2026-09-15T10:00:00+08:00", "first_contact_notes": "电话对接"})
    assert engaged.status_code == 201, engaged.text
    assert api.post(f"/api/v1/demands/{demand['id']}/follow-ups", token=operator,
                    json={"kind": "coordination", "note": "协调送样时间"}).status_code == 201
    closed = api.post(f"/api/v1/demands/{demand['id']}/close", token=enterprise, json={"outcome": "completed"})
    assert closed.status_code == 200, closed.text
    assert [e["kind"] for e in closed.json()["timeline"]] == [
        "response", "recommendation", "engagement", "follow_up", "closing"]

    port = platform.env["QI_METRICS_PORT_MATCHING"]
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'qi_sla_open_clocks{rule="matching.demand_response"}' in metrics
    assert 'qi_sla_met_total{rule="matching.demand_recommendation"}' in metrics


def test_window_visit_scoped_to_window(api):
    window, regulator = api.login("window1"), api.login("regulator1")
    me = api.get("/api/v1/me", token=api.login("ent-demo")).json()
    visit = api.post("/api/v1/visits", token=window, json={
        "enterprise_name": "泰州某电缆厂", "enterprise_user_id": me["id"], "visited_on": "2026-09-15",
        "demands": [{"title": "包装件跌落试验", "category": "testing", "product": "纸箱",
                     "standard": "GB/T 4857.5-1992"}]})
    assert visit.status_code == 201, visit.text
    assert visit.json()["window_id"] == "demo-window-1" and len(visit.json()["demand_ids"]) == 1
    assert visit.json()["id"] in [v["id"] for v in api.get("/api/v1/visits", token=window).json()["items"]]
    assert visit.json()["id"] in [v["id"] for v in api.get("/api/v1/visits", token=regulator).json()["items"]]
    assert api.get("/api/v1/visits", token=api.login("ent-demo")).status_code == 403


def test_deregistered_institution_vanishes(platform, api, indexed):
    metro_id = indexed["metro"]["institution_id"]
    publish_registry(platform, deregistered_event(metro_id, revision=2))
    assert eventually(lambda: metro_id not in ids(api.get("/api/v1/search/institutions", params={"q": "计量"})))
    # the same approval again (a redelivery, or an old revision) does not bring it back
    publish_registry(platform, profile_event(indexed["metro"], revision=1))
    time.sleep(1.0)
    assert metro_id not in ids(api.get("/api/v1/search/institutions", params={"q": "压力表"}))
