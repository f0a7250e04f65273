"""The feedback pages in a real browser (tests/e2e/test_web_ui.py's fixtures): the public quarterly
statistics without sign-in, an enterprise rating a finished service (the reasons a bad rating needs,
the field errors from the API), a complaint filed online and accepted from the staff queue."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import requests
from kombu import Connection, Exchange, Producer

from services.common.events import dumps, iso_utc, make_envelope
from tests.e2e.test_web_ui import PASSWORD, one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; browser is in conftest)

pytestmark = pytest.mark.e2e


def _publish(platform, envelope):
    exchange = Exchange(f"{envelope['source']}.events", type="topic", durable=True)
    with Connection(platform.env["QI_AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=exchange)
        exchange(producer.channel).declare()
        producer.publish(dumps(envelope), routing_key=envelope["type"], content_type="application/json",
                         content_encoding="utf-8", serializer=None, delivery_mode=2, message_id=envelope["id"])


def _user_id(platform, username):
    response = requests.post(platform.gateway_url + "/api/v1/auth/login",
                             json={"username": username, "password": PASSWORD}, timeout=30)
    return response.json()["user"]["id"]


@one_backend
def test_public_quarterly_statistics_without_sign_in(ui):
    u = ui()
    page = u.open("/statistics")
    page.locator("[data-test=stat-period]", has_text="2026-Q3").wait_for()
    assert re.fullmatch(r"\d+\.\d%", page.locator("[data-test=stat-satisfaction]").inner_text())
    page.locator("[data-test=stat-formula]", has_text="满意率").wait_for()
    u.shot("feedback-01-statistics")


@one_backend
def test_enterprise_rates_a_finished_service(platform, ui):
    service_id = str(uuid.uuid4())
    block = {"service_type": "booking", "service_id": service_id, "enterprise_id": _user_id(platform, "ent-demo"),
             "institution_id": str(uuid.uuid4()), "window_id": None, "handler_id": None,
             "finished_at": iso_utc(dt.datetime.now(dt.timezone.utc))}
    _publish(platform, make_envelope("booking", "booking.completed", service_id, {"booking_id": service_id,
                                                                                 "evaluation": block}))
    u = ui()
    page = u.login("ent-demo", "/evaluations")
    row = page.locator("[data-test=evaluations] tr", has_text=service_id[:8])
    for _ in range(30):
        if row.count():
            break
        page.wait_for_timeout(500)
        page.get_by_role("button", name="刷新").click()
    row.locator("[data-test=rate]").click()
    form = page.locator("[data-test=rate-form]")
    form.locator("[data-test=rate-overall]").get_by_text("不满意", exact=True).click()
    form.locator("[data-test=rate-tags]").get_by_text("办理慢").click()
    page.click("[data-test=rate-submit]")
    page.locator("[data-test=problem]").wait_for()          # the text a bad rating needs, refused by the API
    page.fill("[data-test=rate-text]", "预约后等待时间过长")
    page.click("[data-test=rate-submit]")
    page.locator("[data-test=evaluations] tr", has_text=service_id[:8]).get_by_text("已评价").wait_for()
    u.shot("feedback-02-rated")


@one_backend
def test_complaint_filed_online_and_accepted_by_staff(ui):
    ent = ui()
    page = ent.login("ent-demo", "/complaints")
    from services.feedback.demo import INSTITUTIONS    # a complaint names an approved institution
    page.fill("[data-test=c-institution]", INSTITUTIONS[0])
    page.click("[data-test=c-type]")
    page.get_by_role("option", name="办理时限").click()
    page.fill("[data-test=c-content]", "检测报告超期未出具")
    page.click("[data-test=c-submit]")
    alert = page.locator("[data-test=complaint-number]")
    alert.wait_for()
    number = re.search(r"TS-\d{8}-\d{4}", alert.inner_text()).group(0)
    ent.shot("feedback-03-complaint-filed")
    staff = ui()
    page = staff.login("operator1", "/complaints")
    row = page.locator("[data-test=complaints] tr", has_text=number)
    row.locator("[data-test=c-act]").click()
    page.click("[data-test=c-do]")
    page.locator("[data-test=complaints] tr", has_text=number).get_by_text("已受理").wait_for()
    staff.shot("feedback-04-complaint-queue")
