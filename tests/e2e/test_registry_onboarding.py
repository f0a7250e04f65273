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

    def __init__(self, uri: str):
        self.conn = Connection(uri)
        exchange = Exchange("registry.events", type="topic", durable=True, auto_delete=False)
        self.queue = Queue(f"agency-test.{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="institution.*",
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
           "method_standard": "GB/T 3956-2008", "price_yuan": 650, "cycle_working_days": 5}
    assert api.post(f"{API}/institutions/{mine}/capabilities", token=staff, json=cap).status_code == 201
    assert api.post(f"{API}/institutions/{theirs}/capabilities", token=staff, json=cap).status_code == 403
    assert api.post(f"{API}/institutions/{mine}/capabilities", token=tokens["regulator1"],
                    json=cap).status_code == 403
    caps = api.get(f"{API}/institutions/{mine}/capabilities").json()
    assert any(c["method_standard"] == "GB/T 3956-2008" for c in caps)

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


def test_catalogue_and_demo_data_public(api):
    cats = api.get(f"{API}/catalog/categories").json()
    assert [c["code"] for c in cats] == ["standardization", "metrology", "testing", "certification", "quality",
                                         "brand", "ip", "other"]
    listed = api.get(f"{API}/institutions?limit=200").json()
    assert listed["total"] >= 30
    windows = api.get(f"{API}/windows?kind=park_station")
    assert windows.status_code == 200 and len(windows.json()) == 3
