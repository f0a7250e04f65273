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
        "standard": "GB/T 3956-2008", "region": "姜堰区", "budget_yuan": "2000", "desired_cycle_working_days": 5})
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


NEW_DEMAND = {"title": "塑料管材静液压试验", "category": "testing", "product": "塑料管材", "region": "姜堰区"}


def test_demand_writes_honour_idempotency_key(api):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    demand = api.post("/api/v1/demands", token=enterprise, json=NEW_DEMAND).json()
    path, key = f"/api/v1/demands/{demand['id']}/responses", uuid.uuid4().hex
    first = api.post(path, token=operator, headers={"Idempotency-Key": key}, json={"message": "已收到"})
    again = api.post(path, token=operator, headers={"Idempotency-Key": key}, json={"message": "已收到"})
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    timeline = api.get(f"/api/v1/demands/{demand['id']}", token=operator).json()["timeline"]
    assert [e["kind"] for e in timeline] == ["response"]
    reused = api.post(path, token=operator, headers={"Idempotency-Key": key}, json={"message": "另一条"})
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"

    close, key = f"/api/v1/demands/{demand['id']}/close", uuid.uuid4().hex
    closed = [api.post(close, token=enterprise, headers={"Idempotency-Key": key}, json={"outcome": "withdrawn"})
              for _ in range(2)]
    assert [r.status_code for r in closed] == [200, 200], closed[1].text  # a retry replays, no demand_closed
    assert closed[1].json() == closed[0].json()


def test_staff_close_an_unanswered_demand_only_as_rejected_or_duplicate(api):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    demand = api.post("/api/v1/demands", token=enterprise, json=NEW_DEMAND).json()
    close = f"/api/v1/demands/{demand['id']}/close"
    refused = api.post(close, token=operator, json={"outcome": "completed"})
    assert refused.status_code == 409 and refused.json()["code"] == "demand_unanswered"
    assert api.post(close, token=operator, json={"outcome": "withdrawn"}).status_code == 422
    assert api.post(close, token=operator, json={"outcome": "rejected"}).status_code == 422  # no reason
    closed = api.post(close, token=operator, json={"outcome": "rejected", "note": "非检验检测需求"})
    assert closed.status_code == 200, closed.text
    states = {c["rule"]: c["state"] for c in closed.json()["sla"]}
    assert states["matching.demand_response"] in {"met", "breached"}  # the dismissal answers it
    assert states["matching.demand_recommendation"] == "cancelled"  # none made, none owed, not yet due


def test_closing_a_responded_demand_without_recommending_does_not_meet_that_clock(api):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    demand = api.post("/api/v1/demands", token=enterprise, json=NEW_DEMAND).json()
    assert api.post(f"/api/v1/demands/{demand['id']}/responses", token=operator,
                    json={"message": "已收到"}).status_code == 201
    closed = api.post(f"/api/v1/demands/{demand['id']}/close", token=operator, json={"outcome": "completed"})
    assert closed.status_code == 200, closed.text
    assert {c["rule"]: c["state"] for c in closed.json()["sla"]} == {
        "matching.demand_response": "met", "matching.demand_recommendation": "cancelled"}


def test_sla_demands_without_a_state_lists_every_running_clock(api):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    demand = api.post("/api/v1/demands", token=enterprise, json=NEW_DEMAND).json()
    listed = api.get("/api/v1/sla/demands", token=operator)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["state"] == "all" and body["total"] == len(body["items"])
    assert {i["clock"]["rule"] for i in body["items"] if i["demand"]["id"] == demand["id"]} == {
        "matching.demand_response", "matching.demand_recommendation"}
    for state in ("due_soon", "overdue"):
        assert api.get("/api/v1/sla/demands", token=operator, params={"state": state}).status_code == 200
    assert api.get("/api/v1/sla/demands", token=operator, params={"state": "late"}).status_code == 422
    assert api.get("/api/v1/sla/demands", token=enterprise).status_code == 403


def test_money_is_one_decimal_string_form(api, indexed):
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    created = api.post("/api/v1/demands", token=enterprise, json={**NEW_DEMAND, "budget_yuan": "1999.9"})
    assert created.status_code == 201, created.text
    assert created.json()["budget_yuan"] == "1999.90"
    for bad in (1999.9, "1.234", "-1", "1e3"):
        refused = api.post("/api/v1/demands", token=enterprise, json={**NEW_DEMAND, "budget_yuan": bad})
        assert refused.status_code == 422 and "budget_yuan" in refused.json()["errors"], bad
    found = api.get("/api/v1/search/institutions", params={"q": "电线电缆", "price_max": "800.00"}).json()["items"]
    lab = next(i for i in found if i["institution_id"] == indexed["lab"]["institution_id"])
    assert [c["price_yuan"] for c in lab["matched_capabilities"]] == ["800.00"]
    assert indexed["lab"]["institution_id"] not in ids(api.get(
        "/api/v1/search/institutions", params={"q": "电线电缆", "price_max": "799.99"}))
    second = api.post("/api/v1/demands", token=enterprise, json=NEW_DEMAND).json()
    package = api.post("/api/v1/packages", token=operator, json={
        "title": "塑料管材批量检测", "institution_id": indexed["lab"]["institution_id"], "package_price_yuan": "1000.01",
        "demand_ids": [created.json()["id"], second["id"]]})
    assert package.status_code == 201, package.text
    assert package.json()["package_price_yuan"] == "1000.01"
    assert sorted(m["share_yuan"] for m in package.json()["members"]) == ["500.00", "500.01"]


def test_staff_file_only_for_active_enterprise_accounts(api):
    operator = api.login("operator1")
    enterprise_id = api.get("/api/v1/me", token=api.login("ent-demo")).json()["id"]
    person_id = api.get("/api/v1/me", token=api.login("person-demo")).json()["id"]
    for owner in (str(uuid.uuid4()), person_id):
        refused = api.post("/api/v1/demands", token=operator,
                           json={**NEW_DEMAND, "channel": "phone", "enterprise_user_id": owner})
        assert refused.status_code == 422, refused.text
        assert "enterprise_user_id" in refused.json()["errors"]
    filed = api.post("/api/v1/demands", token=operator,
                     json={**NEW_DEMAND, "channel": "phone", "enterprise_user_id": enterprise_id})
    assert filed.status_code == 201, filed.text


def test_window_cannot_file_for_a_nonexistent_enterprise(api):
    window = api.login("window1")
    refused = api.post("/api/v1/demands", token=window,
                       json={**NEW_DEMAND, "channel": "onsite", "enterprise_user_id": str(uuid.uuid4())})
    assert refused.status_code == 422, refused.text


def test_huge_numbers_are_422(api):
    operator, enterprise = api.login("operator1"), api.login("ent-demo")
    for params in ({"price_max": "1e307"}, {"cycle_max": str(10 ** 20)}, {"limit": "100000"}):
        assert api.get("/api/v1/search/institutions", params=params).status_code == 422, params
    package = api.post("/api/v1/packages", token=operator, json={
        "title": "批量检测", "institution_id": "x", "demand_ids": ["a", "b"], "package_price_yuan": "1" + "0" * 307})
    assert package.status_code == 422 and "package_price_yuan" in package.json()["errors"]
    demand = api.post("/api/v1/demands", token=enterprise, json={**NEW_DEMAND, "budget_yuan": "10000000000"})
    assert demand.status_code == 422 and "budget_yuan" in demand.json()["errors"]


def test_a_malformed_event_is_parked_and_the_index_keeps_going(platform, api):
    """One poison event must neither loop for ever nor stop the events behind it."""
    from services.common.db import Database, make_engine
    from services.common.events import make_envelope
    from services.common.parking import list_parked
    bad = make_envelope("registry", "institution.approved", "broken", {"institution_id": "broken"})  # no revision
    publish_registry(platform, bad)
    good = profile(name="泰州市毒物检测中心停车样例")
    publish_registry(platform, profile_event(good))
    assert eventually(lambda: good["institution_id"] in ids(api.get("/api/v1/search/institutions",
                                                                       params={"q": "毒物"})))
    url = platform.db_urls.get("matching") or f"sqlite:///{platform.data_dir / 'matching.db'}"
    db = Database(make_engine(url))
    try:
        assert eventually(lambda: any(p["event_id"] == bad["id"] for p in list_parked(db)))
    finally:
        db.engine.dispose()


def test_rebuild_command_pages_the_registry_over_rpc(platform, api):
    """`python -m services.matching.index rebuild` against the running platform: it reads the
    registry's institution_profiles RPC, re-indexes every registry institution in place, and takes
    out of search what the registry does not know (this file's hand-made events)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]

    def searchable():
        return set(ids(api.get("/api/v1/search/institutions", params={"limit": 100})))
    listed = api.get("/api/v1/institutions", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    registry_ids = {i["institution_id"] for i in listed.json()["items"]}
    assert registry_ids and registry_ids <= searchable()
    env = {**os.environ, **platform.env, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "services.matching.index", "rebuild", "--page", "3"],
                          env=env, cwd=repo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "index rebuilt from the registry" in done.stdout
    assert searchable() == registry_ids
    assert "毒物" not in str(api.get("/api/v1/search/institutions", params={"q": "毒物"}).json()["items"])
