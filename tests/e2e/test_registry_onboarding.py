"""Registry through the gateway's HTTP, on the whole platform (sqlite and postgresql):
onboarding with return/resubmit/approve, the review clock, the event on the bus for a
plain AMQP subscriber, attachment checks, object-level authorisation, guides."""
from __future__ import annotations

import base64
import socket
import uuid

import pytest
from kombu import Connection, Exchange, Queue

from services.common import contracts
from services.registry.tests.helpers import EXE, PDF, application, attachment

pytestmark = pytest.mark.e2e
API = "/api/v1"


def _serial() -> int:
    return uuid.uuid4().int % 9_000_000 + 1_000_000


def _files(platform) -> int:
    root = platform.data_dir / "registry-files"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


@pytest.fixture(scope="module")
def tokens(api):
    return {name: api.login(name) for name in ("ent-demo", "person-demo", "operator1", "regulator1", "admin")}


class Subscriber:
    """An outside agency: kombu, its own durable queue bound to registry.events (not nameko)."""

    def __init__(self, uri: str, routing_key: str = "institution.*"):
        self.conn = Connection(uri)
        exchange = Exchange("registry.events", type="topic", durable=True, auto_delete=False)
        self.queue = Queue(f"agency-test.{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key=routing_key,
                           durable=True, auto_delete=False)
        self.queue(self.conn.default_channel).declare()
        self.received: list[dict] = []

    def wait_for(self, event_type: str, subject: str, timeout: float = 20) -> dict:
        def on_message(body, message):
            self.received.append(body)
            message.ack()
        with self.conn.Consumer(self.queue, callbacks=[on_message], accept=["json"]):
            import time
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for event in self.received:
                    if event["type"] == event_type and event["subject"] == subject:
                        return event
                try:
                    self.conn.drain_events(timeout=1)
                except socket.timeout:
                    pass
        raise AssertionError(f"{event_type} for {subject} not received; got {[e['type'] for e in self.received]}")

    def close(self):
        self.queue(self.conn.default_channel).delete()
        self.conn.release()


def test_apply_return_resubmit_approve_and_event_on_the_bus(api, platform, tokens):
    subscriber = Subscriber(platform.env["QI_AMQP_URI"])
    try:
        serial = _serial()
        created = api.post(f"{API}/applications", token=tokens["ent-demo"], json=application(serial),
                           headers={"Idempotency-Key": f"apply-{serial}"})
        assert created.status_code == 201, created.text
        app = created.json()
        app_id, inst_id = app["application_id"], app["institution_id"]
        assert app["review_clock"]["state"] == "running" and app["review_clock"]["restarts"] == 0
        # the same key returns the same application, not a second one
        again = api.post(f"{API}/applications", token=tokens["ent-demo"], json=application(serial),
                         headers={"Idempotency-Key": f"apply-{serial}"})
        assert again.status_code == 201 and again.json()["application_id"] == app_id

        returned = api.post(f"{API}/applications/{app_id}/review", token=tokens["operator1"],
                            json={"decision": "return", "reasons": ["营业执照扫描件不清晰"]})
        assert returned.status_code == 200, returned.text
        assert returned.json()["review_clock"]["state"] == "paused"

        payload = application(serial)
        # resubmission may reference files already stored instead of uploading them again
        payload["attachments"]["application_form"] = {"file_id": app["attachments"]["application_form"]["file_id"]}
        resubmitted = api.put(f"{API}/applications/{app_id}", token=tokens["ent-demo"], json=payload)
        assert resubmitted.status_code == 200, resubmitted.text
        clock = api.get(f"{API}/applications/{app_id}", token=tokens["ent-demo"]).json()["review_clock"]
        assert clock["state"] == "running" and clock["restarts"] == 1
        assert [h["action"] for h in clock["history"]] == ["start", "pause", "restart"]
        clocks = api.get(f"{API}/sla/registry/clocks", token=tokens["operator1"])
        assert clocks.status_code == 200 and any(c["subject_id"] == app_id for c in clocks.json())

        approved = api.post(f"{API}/applications/{app_id}/review", token=tokens["operator1"],
                            json={"decision": "approve"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved" and approved.json()["review_clock"]["state"] == "met"

        event = subscriber.wait_for("institution.approved", inst_id)
        assert contracts.validate_envelope(event) == "institution.approved"
        assert event["data"]["snapshot"]["capabilities"][0]["method_standard"] == "GB 4706.1-2005"
        assert event["data"]["snapshot"]["capabilities"][0]["price_yuan"] == "3200.00"  # money: one JSON form

        public = api.get(f"{API}/institutions/{inst_id}")
        assert public.status_code == 200 and public.json()["status"] == "active"
        assert "legal_representative" not in public.json()
        caps = api.get(f"{API}/institutions/{inst_id}/capabilities")
        assert caps.status_code == 200 and caps.json()[0]["cycle_working_days"] == 10

        notes = api.get(f"{API}/notifications", token=tokens["ent-demo"]).json()["items"]
        assert {"application.returned", "application.approved"} <= {n["kind"] for n in notes}
    finally:
        subscriber.close()


def _broken(mutate):
    payload = application(_serial())
    mutate(payload)
    return payload


@pytest.mark.parametrize("case,field", [
    ("no application form", "application_form"),
    ("no business licence", "business_licence"),
    ("no qualifications", "qualifications"),
    ("no integrity pledge", "integrity_pledge"),
    ("no capabilities", "capabilities"),
    ("expired certificate", "valid_to"),
    ("wrong file type", "business_licence"),
    ("oversized file", "integrity_pledge"),
])
def test_incomplete_or_bad_applications_are_refused_naming_the_field(api, platform, tokens, case, field):
    mutate = {
        "no application form": lambda p: p["attachments"].pop("application_form"),
        "no business licence": lambda p: p["attachments"].pop("business_licence"),
        "no qualifications": lambda p: p.pop("qualifications"),
        "no integrity pledge": lambda p: p["attachments"].pop("integrity_pledge"),
        "no capabilities": lambda p: p.pop("capabilities"),
        "expired certificate": lambda p: p["qualifications"][0].update(valid_to="2020-12-31", valid_from="2018-01-01"),
        "wrong file type": lambda p: p["attachments"].update(business_licence=attachment(EXE, "licence.pdf")),
        "oversized file": lambda p: p["attachments"].update(
            integrity_pledge=attachment(PDF + b"0" * (10 * 1024 * 1024))),
    }[case]
    files_before = _files(platform)
    listed_before = api.get(f"{API}/applications", token=tokens["ent-demo"]).json()["total"]
    response = api.post(f"{API}/applications", token=tokens["ent-demo"], json=_broken(mutate))
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert field in response.text and response.json()["code"] == "validation_error"
    assert _files(platform) == files_before
    assert api.get(f"{API}/applications", token=tokens["ent-demo"]).json()["total"] == listed_before


def _approve_new(api, tokens, applicant="ent-demo") -> str:
    app = api.post(f"{API}/applications", token=tokens[applicant], json=application(_serial()))
    assert app.status_code == 201, app.text
    done = api.post(f"{API}/applications/{app.json()['application_id']}/review", token=tokens["operator1"],
                    json={"decision": "approve"})
    assert done.status_code == 200, done.text
    return app.json()["institution_id"]


def test_object_level_authorisation(api, tokens):
    app = api.post(f"{API}/applications", token=tokens["ent-demo"], json=application(_serial())).json()
    # another applicant cannot read it; a regulator can read but not decide
    assert api.get(f"{API}/applications/{app['application_id']}", token=tokens["person-demo"]).status_code == 404
    assert api.get(f"{API}/applications/{app['application_id']}", token=tokens["regulator1"]).status_code == 200
    assert api.post(f"{API}/applications/{app['application_id']}/review", token=tokens["regulator1"],
                    json={"decision": "approve"}).status_code == 403

    mine, theirs = _approve_new(api, tokens), _approve_new(api, tokens)
    username = f"inst{uuid.uuid4().hex[:8]}"
    user = api.post(f"{API}/users", token=tokens["admin"], json={
        "username": username, "password": "Passw0rd!2026", "role": "institution", "nickname": "机构员工",
        "institution_id": mine})
    assert user.status_code == 201, user.text
    staff = api.login(username)
    cap = {"category": "testing", "item_code": "tst.matching", "product": "电线电缆", "parameter": "导体电阻",
           "method_standard": "GB/T 3956-2008", "price_yuan": "650", "cycle_working_days": 5}  # money: a string
    assert api.post(f"{API}/institutions/{mine}/capabilities", token=staff, json=cap).status_code == 201
    # Idempotency-Key: a retried publish returns the first capability, a reused key with another body is a 409
    key = {"Idempotency-Key": f"cap-{uuid.uuid4().hex}"}
    keyed = {**cap, "product": "光伏组件"}
    first = api.post(f"{API}/institutions/{mine}/capabilities", token=staff, json=keyed, headers=key)
    retried = api.post(f"{API}/institutions/{mine}/capabilities", token=staff, json=keyed, headers=key)
    assert first.status_code == 201 and retried.status_code == 201 and retried.json() == first.json()
    reused = api.post(f"{API}/institutions/{mine}/capabilities", token=staff, json={**keyed, "price_yuan": "1"},
                      headers=key)
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert api.post(f"{API}/institutions/{theirs}/capabilities", token=staff, json=cap).status_code == 403
    assert api.post(f"{API}/institutions/{mine}/capabilities", token=tokens["regulator1"],
                    json=cap).status_code == 403
    caps = api.get(f"{API}/institutions/{mine}/capabilities").json()
    assert any(c["method_standard"] == "GB/T 3956-2008" for c in caps)
    assert len([c for c in caps if c["product"] == "光伏组件"]) == 1

    # forced deregistration: gone from public view at once, history readable by regulators
    out = api.post(f"{API}/institutions/{theirs}/deregistration", token=tokens["operator1"],
                   json={"reason": "资质被撤销"})
    assert out.status_code == 200, out.text
    assert api.get(f"{API}/institutions/{theirs}").status_code == 404
    history = api.get(f"{API}/institutions/{theirs}/history", token=tokens["regulator1"])
    assert history.status_code == 200 and history.json()[-1]["action"] == "deregistered"


def test_guides_public_versioned_operator_only(api, tokens):
    current = api.get(f"{API}/guides/met.calibration")
    assert current.status_code == 200, current.text
    version = current.json()["version"]
    body = {"title": "计量检定校准服务对接办事指南", "acceptance_conditions": "已实名注册的企业",
            "materials": ["营业执照", "计量器具清单"], "process_steps": ["提交", "对接", "检定"],
            "time_limit_working_days": 3, "fees": "按机构公示价格", "channels": ["线上", "园区服务站"]}
    for who in ("regulator1", "ent-demo"):
        assert api.put(f"{API}/guides/met.calibration", token=tokens[who], json=body).status_code == 403
    assert api.put(f"{API}/guides/met.calibration", json=body).status_code == 401
    published = api.put(f"{API}/guides/met.calibration", token=tokens["operator1"], json=body)
    assert published.status_code == 201 and published.json()["version"] == version + 1
    versions = api.get(f"{API}/guides/met.calibration/versions").json()
    assert versions[0]["current"] and not versions[1]["current"]
    assert api.get(f"{API}/guides/met.calibration/versions/{version}").json()["version"] == version


def test_a_catalogue_update_that_changes_nothing_publishes_nothing(api, platform, tokens):
    """Issue 8 point 12: PUT with the item's current values answers the item and writes no event."""
    path = f"{API}/catalog/items/std.training"
    item = next(i for i in api.get(f"{API}/catalog/items").json() if i["code"] == "std.training")
    subscriber = Subscriber(platform.env["QI_AMQP_URI"], routing_key="catalogue.*")
    try:
        same = api.put(path, token=tokens["operator1"], json={"name_zh": item["name_zh"], "name_en": item["name_en"]})
        assert same.status_code == 200, same.text
        assert same.json()["name_zh"] == item["name_zh"]
        changed = api.put(path, token=tokens["operator1"], json={"name_en": item["name_en"] + " (e2e)"})
        assert changed.status_code == 200 and changed.json()["name_en"].endswith("(e2e)")
        subscriber.wait_for("catalogue.changed", "catalogue")
        # In order on one queue: had the no-change PUT published, its event would have come first.
        assert [e["type"] for e in subscriber.received] == ["catalogue.changed"]
        names = [i["name_en"] for c in subscriber.received[0]["data"]["categories"] for i in c["items"]
                 if i["code"] == "std.training"]
        assert names == [item["name_en"] + " (e2e)"]
    finally:
        subscriber.close()
        api.put(path, token=tokens["operator1"], json={"name_en": item["name_en"]})


def test_catalogue_and_demo_data_public(api):
    cats = api.get(f"{API}/catalog/categories").json()
    assert [c["code"] for c in cats] == ["standardization", "metrology", "testing", "certification", "quality",
                                         "brand", "ip", "other"]
    listed = api.get(f"{API}/institutions?limit=200").json()
    assert listed["total"] >= 30
    windows = api.get(f"{API}/windows?kind=park_station")
    assert windows.status_code == 200 and len(windows.json()) == 3


# -- issue 4 follow-ups: changes like applications, training, windows, enterprise cases --------

def _account(api, tokens, role, **binding) -> tuple[str, str]:
    """A new staff account (admin-created); returns (user id, access token)."""
    username = f"{role[:4]}{uuid.uuid4().hex[:8]}"
    created = api.post(f"{API}/users", token=tokens["admin"], json={
        "username": username, "password": "Passw0rd!2026", "role": role, "nickname": "测试账号", **binding})
    assert created.status_code == 201, created.text
    return created.json()["id"], api.login(username)


def _me(api, token) -> str:
    return api.get(f"{API}/me", token=token).json()["id"]


def test_change_is_returned_and_resubmitted_like_an_application(api, tokens):
    inst_id = _approve_new(api, tokens)
    _, staff = _account(api, tokens, "institution", institution_id=inst_id)
    body = {"address": "泰州市海陵区迁址路 8 号", "change_date": "2026-01-05",
            "attachments": {"business_licence": attachment(), "supporting": []}}
    change = api.post(f"{API}/institutions/{inst_id}/changes", token=staff, json=body)
    assert change.status_code == 201, change.text
    change_id = change.json()["change_id"]
    assert change.json()["review_clock"]["rule"] == "registry.change_review"

    review = f"{API}/institutions/{inst_id}/changes/{change_id}/review"
    assert api.post(review, token=tokens["regulator1"], json={"decision": "return", "reasons": ["x"]}).status_code == 403
    assert api.post(review, token=tokens["operator1"], json={"decision": "return"}).status_code == 422
    returned = api.post(review, token=tokens["operator1"], json={"decision": "return", "reasons": ["缺少租赁合同"]})
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "returned" and returned.json()["review_clock"]["state"] == "paused"

    body["attachments"]["supporting"] = [attachment(PDF + b"lease")]
    again = api.put(f"{API}/institutions/{inst_id}/changes/{change_id}", token=staff, json=body)
    assert again.status_code == 200, again.text
    assert again.json()["submissions"] == 2 and again.json()["review_clock"]["restarts"] == 1
    assert api.put(f"{API}/institutions/{inst_id}/changes/{change_id}", token=staff, json=body).status_code == 409

    approved = api.post(review, token=tokens["operator1"], json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    one = api.get(f"{API}/institutions/{inst_id}/changes/{change_id}", token=tokens["regulator1"]).json()
    assert [h["action"] for h in one["history"]] == ["submitted", "returned", "resubmitted", "approved"]
    assert api.get(f"{API}/institutions/{inst_id}/changes/{change_id}", token=tokens["person-demo"]).status_code == 403
    assert api.get(f"{API}/institutions/{inst_id}").json()["address"] == "泰州市海陵区迁址路 8 号"


def test_training_sign_up_waiting_list_and_cancellation(api, tokens):
    import datetime as dt
    starts = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=30)).replace(microsecond=0)
    body = {"category_code": "ip", "title": f"专利检索实务培训 {uuid.uuid4().hex[:6]}", "starts_at": starts.isoformat(),
            "mode": "onsite", "venue": "泰州市知识产权服务中心 2 楼", "capacity": 1}
    assert api.post(f"{API}/trainings", json=body).status_code == 401
    assert api.post(f"{API}/trainings", token=tokens["regulator1"], json=body).status_code == 403
    key = {"Idempotency-Key": f"training-{uuid.uuid4().hex}"}
    created = api.post(f"{API}/trainings", token=tokens["operator1"], json=body, headers=key)
    assert created.status_code == 201, created.text
    training_id = created.json()["training_id"]
    assert api.post(f"{API}/trainings", token=tokens["operator1"], json=body,
                    headers=key).json()["training_id"] == training_id

    public = api.get(f"{API}/trainings?category=ip&limit=200")
    assert public.status_code == 200 and training_id in [t["training_id"] for t in public.json()["items"]]
    assert training_id not in [t["training_id"] for t in api.get(f"{API}/trainings?category=brand").json()["items"]]

    signups = f"{API}/trainings/{training_id}/signups"
    first = api.post(signups, token=tokens["ent-demo"])
    assert first.status_code == 201 and first.json()["status"] == "confirmed", first.text
    repeat = api.post(signups, token=tokens["ent-demo"])
    assert repeat.status_code == 200 and repeat.json()["signup_id"] == first.json()["signup_id"]
    waiting = api.post(signups, token=tokens["person-demo"])
    assert waiting.status_code == 201 and waiting.json()["status"] == "waitlisted"
    assert waiting.json()["waitlist_position"] == 1
    assert api.post(signups, token=tokens["operator1"]).status_code == 403
    assert api.get(signups, token=tokens["ent-demo"]).status_code == 403
    assert api.get(f"{API}/trainings/{training_id}").json()["seats_left"] == 0

    cancelled = api.request("DELETE", f"{signups}/mine", token=tokens["ent-demo"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    mine = api.get(f"{signups}/mine", token=tokens["person-demo"])
    assert mine.status_code == 200 and mine.json()["status"] == "confirmed"
    listing = api.get(signups, token=tokens["operator1"])
    assert listing.status_code == 200
    assert [s["status"] for s in listing.json()["items"]] == ["confirmed", "cancelled"]
    notes = api.get(f"{API}/notifications", token=tokens["person-demo"]).json()["items"]
    assert any(n["kind"] == "training.confirmed" and n["subject_id"] == training_id for n in notes)


def test_window_identity_and_enterprise_case_object_level(api, tokens):
    code = f"EW-{uuid.uuid4().hex[:6].upper()}"
    window = api.post(f"{API}/windows", token=tokens["operator1"], json={
        "kind": "enterprise", "code": code, "name": "重点项目企业服务窗口", "region": "高港区",
        "address": "泰州市高港区示范路 1 号", "contact": "0523-86000010", "opening_hours": "预约", "public": False})
    assert window.status_code == 201, window.text
    wid = window.json()["window_id"]
    edit = {"name": "重点项目企业服务窗口（二期）", "contact": "0523-86000011", "opening_hours": "工作日 9:00-17:00"}
    for who in ("regulator1", "ent-demo"):
        assert api.request("PATCH", f"{API}/windows/{wid}", token=tokens[who], json=edit).status_code == 403
    edited = api.request("PATCH", f"{API}/windows/{wid}", token=tokens["operator1"], json=edit)
    assert edited.status_code == 200 and edited.json()["name"] == edit["name"], edited.text

    expert_id, expert = _account(api, tokens, "institution", institution_id=str(uuid.uuid4()))
    owner_id = _me(api, tokens["ent-demo"])
    case = api.post(f"{API}/windows/{wid}/cases", token=tokens["operator1"], json={
        "title": "新能源开关柜研制", "enterprise_user_id": owner_id, "members": [{"user_id": expert_id, "role": "expert"}]})
    assert case.status_code == 201, case.text
    path = f"{API}/windows/{wid}/cases/{case.json()['case_id']}"
    assert api.post(f"{path}/log", token=expert, json={"kind": "instrument_selection",
                                                        "summary": "推荐局放检测仪"}).status_code == 201
    assert api.post(f"{path}/log", token=tokens["ent-demo"], json={"kind": "technical_problem",
                                                                   "summary": "温升试验未通过"}).status_code == 201
    for token, relation in ((tokens["ent-demo"], "enterprise"), (expert, "member"), (tokens["operator1"], "operator")):
        seen = api.get(path, token=token)
        assert seen.status_code == 200 and seen.json()["my_relation"] == relation, seen.text
        assert [e["kind"] for e in seen.json()["log"]] == ["instrument_selection", "technical_problem"]
    window1 = api.login("window1")
    for token in (tokens["person-demo"], tokens["regulator1"], window1):
        assert api.get(path, token=token).status_code == 404
        assert api.get(f"{API}/windows/{wid}/cases", token=token).json() == []
        assert api.post(f"{path}/log", token=token, json={"kind": "other", "summary": "x"}).status_code == 404
    assert api.get(path).status_code == 401
    assert api.put(f"{path}/team", token=tokens["ent-demo"], json={"members": []}).status_code == 403
    # Closing is the operators'; the closed case takes no more log entries (case.closed: feedback evaluates it).
    assert api.post(f"{path}/close", token=tokens["ent-demo"]).status_code == 403
    closed = api.post(f"{path}/close", token=tokens["operator1"])
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    assert api.post(f"{path}/close", token=tokens["operator1"]).json()["status"] == "closed"
    late = api.post(f"{path}/log", token=tokens["ent-demo"], json={"kind": "other", "summary": "x"})
    assert late.status_code == 409 and late.json()["code"] == "case_closed", late.text
