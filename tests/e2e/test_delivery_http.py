"""Delivery end to end through the gateway (the platform as separate processes, demo data loaded):
public report verification without login, the signed QR checked offline, samples with custody
out of order refused, the enterprise's ledger with .xlsx export and an all-or-nothing import."""
from __future__ import annotations

import base64
import io
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from openpyxl import Workbook

from services.delivery import demo, signing

pytestmark = pytest.mark.e2e
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def enterprise(api):
    return api.login("ent-demo")


def test_public_verification_without_login(api):
    codes = dict(demo.codes())
    first = f"{demo.PREFIX}0001"
    response = api.post(f"/api/v1/reports/{first}/verify", json={"code": codes[first]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "superseded" and body["successor_number"] == f"{demo.PREFIX}0047"
    valid = api.get(f"/api/v1/reports/{demo.PREFIX}0047/verify", params={"code": codes[f"{demo.PREFIX}0047"]})
    assert valid.status_code == 200 and valid.json()["result"] == "valid"
    withdrawn = api.post(f"/api/v1/reports/{demo.PREFIX}0010/verify", json={"code": codes[f"{demo.PREFIX}0010"]})
    assert withdrawn.json()["result"] == "withdrawn" and withdrawn.json()["withdrawn_reason"]
    wrong = api.post(f"/api/v1/reports/{first}/verify", json={"code": "WRONG234"})
    unknown = api.post("/api/v1/reports/NO-SUCH-REPORT/verify", json={"code": codes[first]})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.headers["Content-Type"].startswith(PROBLEM)
    strip = lambda b: {k: v for k, v in b.items() if k != "instance"}   # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json()) and wrong.json()["code"] == "report_not_verified"
    bad = api.post(f"/api/v1/reports/{first}/verify", json={"code": "!"})
    assert bad.status_code == 422 and bad.headers["Content-Type"].startswith(PROBLEM)


def test_wrong_codes_are_throttled_per_network(api):
    other = {"X-Forwarded-For": "198.51.100.77"}
    statuses = [api.post("/api/v1/reports/NO-SUCH-REPORT/verify", json={"code": "ABCD2345"}, headers=other).status_code
                for _ in range(12)]
    assert statuses[:10] == [404] * 10 and statuses[-1] == 429
    elsewhere = api.post("/api/v1/reports/NO-SUCH-REPORT/verify", json={"code": "ABCD2345"},
                         headers={"X-Forwarded-For": "192.0.2.9"})
    assert elsewhere.status_code == 404


def test_the_qr_verifies_offline_and_online(api, enterprise):
    number = f"{demo.PREFIX}0050"
    qr = api.get(f"/api/v1/reports/{number}/qr", token=enterprise)
    assert qr.status_code == 200, qr.text
    key = api.get("/api/v1/verification/public-key").json()
    public = serialization.load_pem_public_key(key["public_key_pem"].encode())
    assert signing.parse_and_verify(qr.json()["payload"], public)[0] == number   # with the published key alone
    online = api.post("/api/v1/verification/qr", json={"payload": qr.json()["payload"]})
    assert online.status_code == 200 and online.json()["signature_valid"] is True
    pdf = base64.b64encode(demo.demo_pdf(number)).decode()
    assert api.post("/api/v1/verification/pdf", json={"pdf_base64": pdf}).json()["number"] == number


def test_samples_custody_and_out_of_order(api, enterprise):
    window = api.login("window1")
    mine = api.get("/api/v1/samples", token=enterprise, params={"limit": 50})
    assert mine.status_code == 200
    assert {"received", "with_carrier", "report_delivered", "rejected"} <= {s["status"] for s in mine.json()["items"]}
    enterprise_id = mine.json()["items"][0]["enterprise_id"]
    lab_id = mine.json()["items"][0]["institution_id"]
    before = api.get("/api/v1/samples", token=window).json()["total"]
    bad = api.post("/api/v1/samples", token=window, json={"enterprise_id": enterprise_id,
                                                          "institution_id": lab_id, "items": []})
    assert bad.status_code == 422 and bad.headers["Content-Type"].startswith(PROBLEM)
    assert api.get("/api/v1/samples", token=window).json()["total"] == before
    made = api.post("/api/v1/samples", token=window, headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "enterprise_id": mine.json()["items"][0]["enterprise_id"], "institution_id": lab_id,
        "items": [{"description": "塑料管材", "quantity": 1, "condition": "intact"}]})
    assert made.status_code == 201, made.text
    early = api.post(f"/api/v1/samples/{made.json()['id']}/report-delivery", token=window,
                     json={"received_by": "王示范", "how": "pickup"})
    assert early.status_code == 409 and early.json()["code"] == "custody_out_of_order"
    assert early.json()["errors"]["expected_step"] == ["packed"]
    label = api.get(f"/api/v1/samples/{made.json()['id']}/label", token=enterprise)
    assert label.status_code == 200 and label.json()["svg"].startswith("<svg")
    clocks = api.get("/api/v1/sla/clocks", token=api.login("operator1"))
    assert clocks.status_code == 200
    assert "delivery.station_dispatch" in {c["rule"] for c in clocks.json()}


def test_the_ledger_exports_and_imports_all_or_nothing(api, enterprise):
    ledger = api.get("/api/v1/ledger/instruments", token=enterprise)
    assert ledger.status_code == 200 and ledger.json()["total"] >= 20
    states = [i["due_state"] for i in ledger.json()["items"]]
    assert "overdue" in states and "due_soon" in states
    assert any(i["status"] == "suspended" for i in ledger.json()["items"])
    exported = api.get("/api/v1/ledger/export", token=enterprise)
    assert exported.status_code == 200 and exported.json()["count"] == ledger.json()["total"]
    book = Workbook()
    sheet = book.active
    sheet.append(["器具名称", "出厂编号", "ABC分类", "检定/校准", "周期(月)"])
    sheet.append(["压力表", "NEW-1", "A", "verification", 6])
    sheet.append(["压力表", "NEW-2", "Z", "verification", 6])
    buffer = io.BytesIO()
    book.save(buffer)
    refused = api.post("/api/v1/ledger/import", token=enterprise,
                       json={"content_base64": base64.b64encode(buffer.getvalue()).decode()})
    assert refused.status_code == 422 and refused.headers["Content-Type"].startswith(PROBLEM)
    assert refused.json()["code"] == "import_rows_invalid" and list(refused.json()["errors"]) == ["row 3"]
    assert api.get("/api/v1/ledger/instruments", token=enterprise).json()["total"] == ledger.json()["total"]
    typed = api.post("/api/v1/ledger/instruments", token=enterprise, json={
        "name": "压力表", "serial": "NEW-9", "abc_class": "A", "control": "verification", "interval_months": 6,
        "next_due": "2030-01-01"})
    assert typed.status_code == 422 and "next_due" in typed.json()["errors"]


def test_send_for_calibration_files_demands_in_matching(api, enterprise):
    sent = api.post("/api/v1/ledger/calibration-requests", token=enterprise, json={},
                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert sent.status_code == 201, sent.text
    bundles = sent.json()["demands"]
    assert bundles and len({b["instrument_type"] for b in bundles}) == len(bundles)   # one demand per type
    demands = api.get("/api/v1/demands", token=enterprise, params={"limit": 200})
    assert demands.status_code == 200
    filed = {d["id"]: d for d in demands.json()["items"]}
    for bundle in bundles:
        assert filed[bundle["demand_id"]]["category"] == "metrology"
        assert filed[bundle["demand_id"]]["title"].startswith("计量器具送")
    ledger = api.get("/api/v1/ledger/instruments", token=enterprise).json()["items"]
    assert {i["demand_id"] for i in ledger if i["id"] in bundles[0]["instrument_ids"]} == {bundles[0]["demand_id"]}
