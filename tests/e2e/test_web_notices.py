"""The notification, usage and training pages, in a real browser (tests/e2e/test_web_ui.py's fixtures):
a waitlist offer listed among the booker's booking notifications and marked read; an escalation
notice listed for operators and marked read; an instrument's availability judged for self or
operator-assisted use; staff starting and stopping use on a booking, and the check-in button shown
only inside its window; an operator recording a training's attendance. Each page: no untranslated
key, no console error."""
from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.e2e.test_web_booking_more import SHANGHAI, _free_slot, _instrument
from tests.e2e.test_web_ui import one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; browser is in conftest)
from tests.e2e.web_checks import assert_clean, token, watch_console

if os.environ.get("QI_UI_BASE"):   # iterating against a running platform (see test_web_ui.py)
    from tests.e2e.test_web_ui import platform  # noqa: F401

pytestmark = pytest.mark.e2e


def _until(check, what: str, tries: int = 60):
    """Polls an eventually consistent read (an event consumed by another service) until it holds."""
    for _ in range(tries):
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"never happened: {what}")


@one_backend
def test_waitlist_offer_is_a_booking_notification_marked_read(platform, ui):  # noqa: F811
    inst = _instrument(platform, "电子天平")
    ent_headers, _ = token(platform, "ent-demo")
    person_headers, _ = token(platform, "person-demo")
    slot = _free_slot(platform, ent_headers, inst["id"])
    booking = requests.post(platform.gateway_url + "/api/v1/bookings", headers={**ent_headers, "Idempotency-Key": str(uuid.uuid4())},
                            json={"instrument_id": inst["id"], "starts_at": slot["start"], "ends_at": slot["end"]}, timeout=30)
    assert booking.status_code == 201, booking.text
    entry = requests.post(platform.gateway_url + "/api/v1/waitlist", headers={**person_headers, "Idempotency-Key": str(uuid.uuid4())},
                          json={"instrument_id": inst["id"], "starts_at": slot["start"], "ends_at": slot["end"]}, timeout=30)
    assert entry.status_code == 201, entry.text
    assert requests.post(platform.gateway_url + f"/api/v1/bookings/{booking.json()['id']}/cancel", headers=ent_headers,
                         json={"reason": "计划变更"}, timeout=30).status_code == 200
    note = _until(lambda: [n for n in requests.get(platform.gateway_url + "/api/v1/booking-notifications", headers=person_headers,
                                                   timeout=30).json() if n["subject_id"] == entry.json()["id"]],
                  "the offer notification")[0]

    unread = len(requests.get(platform.gateway_url + "/api/v1/booking-notifications", params={"unread": "true"},
                              headers=person_headers, timeout=30).json())
    assert unread >= 1

    u = ui()
    console = watch_console(u)
    page = u.login("person-demo", "/")
    badge = page.locator("[data-test=notices-unread]")
    expect(badge).to_be_visible()        # in the bar, not folded into its "more" menu
    expect(badge.locator(".el-badge__content")).to_have_text(str(min(unread, 99)))   # the Notices menu item's count
    u.shot("notices-00-unread-badge")
    page = u.open("/notices")
    row = page.locator("[data-test=booking-notices] .el-table__row", has_text=note["title"]).first
    row.get_by_text("候补释放").wait_for()
    page.locator("[data-test=qualifications]").wait_for()
    assert page.locator("[data-test=escalation-notices]").count() == 0, "escalations are for staff"
    assert_clean(page, console)
    u.shot("notices-01-booking-offer")
    row.locator("[data-test=bn-read]").click()
    page.locator("[data-test=booking-notices] .el-table__row", has_text=note["title"]).first.locator("[data-test=bn-was-read]").wait_for()
    after = requests.get(platform.gateway_url + "/api/v1/booking-notifications", headers=person_headers, timeout=30).json()
    assert [n["read"] for n in after if n["id"] == note["id"]] == [True]
    if unread > 1:      # one fewer at once, without a reload
        expect(badge.locator(".el-badge__content")).to_have_text(str(min(unread - 1, 99)))
    else:
        expect(badge).to_have_count(0)
    assert_clean(page, console)


@one_backend
def test_operator_reads_an_escalation_notice(platform, ui):  # noqa: F811
    # An escalation is reached after working days; the set-up writes the notice it would write.
    url = (getattr(platform, "db_urls", None) or {}).get("feedback") or f"sqlite:///{platform.data_dir}/feedback.db"
    message = f"投诉 TS-{uuid.uuid4().hex[:6]} 已转办 5 个工作日未答复，已升级 / Complaint unanswered 5 working days: escalated"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO notification (id, recipient_id, recipient_role, kind, subject_type, subject_id, message, created_at) "
                          "VALUES (:id, NULL, 'operator', 'complaint.escalated', 'complaint', :sid, :m, :at)"),
                     {"id": str(uuid.uuid4()), "sid": str(uuid.uuid4()), "m": message, "at": dt.datetime.utcnow()})
    engine.dispose()

    headers, _ = token(platform, "operator1")
    unread = (len(requests.get(platform.gateway_url + "/api/v1/booking-notifications", params={"unread": "true", "limit": 200},
                               headers=headers, timeout=30).json())
              + len(requests.get(platform.gateway_url + "/api/v1/escalation-notices", params={"unread": "true", "limit": 200},
                                 headers=headers, timeout=30).json()["items"]))
    assert unread >= 1

    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/notices")
    badge = page.locator("[data-test=notices-unread] .el-badge__content")
    expect(badge).to_have_text(str(min(unread, 99)))          # staff: escalation notices count too
    row = page.locator("[data-test=escalation-notices] .el-table__row", has_text=message[:20]).first
    row.get_by_text("投诉升级").wait_for()
    assert_clean(page, console)
    u.shot("notices-02-escalation")
    row.locator("[data-test=en-read]").click()
    page.locator("[data-test=escalation-notices] .el-table__row", has_text=message[:20]).first.locator("[data-test=en-was-read]").wait_for()
    expect(page.locator("[data-test=notices-unread]")).to_have_count(1 if unread > 1 else 0)
    if unread > 1:
        expect(badge).to_have_text(str(min(unread - 1, 99)))
    items = requests.get(platform.gateway_url + "/api/v1/escalation-notices", headers=headers, timeout=30).json()["items"]
    assert [n["read_at"] is not None for n in items if n["message"] == message] == [True]
    assert_clean(page, console)


@one_backend
def test_availability_judged_for_self_or_assisted_use(platform, ui):  # noqa: F811
    # An instrument needing a qualification the user lacks, offering assisted use: free slots only when assisted.
    headers, _ = token(platform, "person-demo")
    today = dt.datetime.now(SHANGHAI).date()
    window = {"from": today.isoformat(), "to": (today + dt.timedelta(days=6)).isoformat()}   # the page's default range

    def free(instrument_id: str, mode: str) -> int:
        body = requests.get(platform.gateway_url + f"/api/v1/instruments/{instrument_id}/availability", headers=headers,
                            params={**window, "mode": mode}, timeout=30).json()
        return sum(1 for slot in body["slots"] if slot["state"] == "free")

    items = requests.get(platform.gateway_url + "/api/v1/instruments", params={"limit": 100}, timeout=30).json()["items"]
    candidates = [i for i in items if i["rules"]["qualification_required"] and i["rules"]["operator_assisted"]]
    inst, counts = next((i, (free(i["id"], "self"), free(i["id"], "assisted"))) for i in candidates
                        if free(i["id"], "self") != free(i["id"], "assisted"))
    u = ui()
    console = watch_console(u)
    page = u.login("person-demo", f"/instruments/{inst['id']}")
    page.locator("[data-test=availability-day]").first.wait_for()
    page.locator("[data-test=av-mode]").wait_for()
    expect(page.locator("[data-test=slot-free]")).to_have_count(counts[0])
    page.locator("[data-test=av-mode-assisted]").click()
    expect(page.locator("[data-test=slot-free]")).to_have_count(counts[1])
    assert_clean(page, console)
    u.shot("notices-03-availability-assisted")
    # In English the rules' working days agree in number ("1 working day", "20 working days").
    page.evaluate("localStorage.setItem('qi.locale', 'en')")
    page.reload()
    for n in (inst["rules"]["notice_working_days"], inst["rules"]["horizon_working_days"]):
        page.locator(".el-descriptions").get_by_text(f"{n} working day{'' if n == 1 else 's'}", exact=True).first.wait_for()
    assert "1 working days" not in page.inner_text("body")
    page.goto(page.url.split("/instruments")[0] + "/notices")
    page.locator("[data-test=qualifications]").wait_for()
    assert_clean(page, console)


@one_backend
def test_staff_start_and_stop_use_and_check_in_only_in_its_window(platform, ui):  # noqa: F811
    op_headers, _ = token(platform, "operator1")
    ent_headers, _ = token(platform, "ent-demo")
    institution = requests.get(platform.gateway_url + "/api/v1/instruments", params={"limit": 1}, timeout=30).json()["items"][0]["institution_id"]
    name = f"上机测试台 {uuid.uuid4().hex[:6]}"
    made = requests.post(platform.gateway_url + "/api/v1/instruments", headers=op_headers, json={
        "institution_id": institution, "name": name, "category": "testing",
        "rules": {"notice_working_days": 0, "slot_minutes": 15, "min_minutes": 15, "max_minutes": 60, "approval_required": False,
                  "opening_hours": {str(d): [["00:00", "23:45"]] for d in range(1, 8)}},
        "prices": [{"price_group": "enterprise", "hourly_rate": "60.00"}]}, timeout=30)
    assert made.status_code == 201, made.text
    inst_id = made.json()["id"]
    now = dt.datetime.now(dt.timezone.utc)
    if now.astimezone(SHANGHAI).hour == 23:
        pytest.skip("too close to midnight in Beijing for a booking starting soon")
    start = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0) + dt.timedelta(minutes=15)   # the next quarter
    soon = requests.post(platform.gateway_url + "/api/v1/bookings", headers={**ent_headers, "Idempotency-Key": str(uuid.uuid4())},
                         json={"instrument_id": inst_id, "starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(minutes=15)).isoformat()}, timeout=30)
    assert soon.status_code == 201, soon.text
    opens = dt.datetime.fromisoformat(soon.json()["check_in_opens_at"].replace("Z", "+00:00"))
    assert opens == start - dt.timedelta(minutes=30), "the page offers check-in from the moment the API names"
    later_start = start + dt.timedelta(days=7)
    later = requests.post(platform.gateway_url + "/api/v1/bookings", headers={**ent_headers, "Idempotency-Key": str(uuid.uuid4())},
                          json={"instrument_id": inst_id, "starts_at": later_start.isoformat(),
                                "ends_at": (later_start + dt.timedelta(minutes=15)).isoformat()}, timeout=30)
    assert later.status_code == 201, later.text

    u = ui()
    console = watch_console(u)
    page = u.login("ent-demo", "/bookings")
    rows = page.locator(".el-table__body .el-table__row", has_text=name)
    rows.first.wait_for()
    assert rows.count() == 2
    assert page.locator(".el-table__body .el-table__row", has_text=name).locator("[data-test=check-in]").count() == 1, \
        "check-in only for the booking whose window is open, not the one a week ahead"
    assert_clean(page, console)

    u2 = ui()
    console2 = watch_console(u2)
    page = u2.login("operator1", "/bookings")
    row = page.locator(".el-table__body .el-table__row", has=page.locator("[data-test=usage-start]")).filter(has_text=name)
    row.first.locator("[data-test=usage-start]").click()
    page.locator(".el-table__body .el-table__row", has_text=name).locator("[data-test=usage-stop]").first.wait_for()
    assert_clean(page, console2)
    u2.shot("notices-04-usage-started")
    assert requests.get(platform.gateway_url + f"/api/v1/bookings/{soon.json()['id']}", headers=op_headers, timeout=30).json()["status"] == "checked_in"
    # Use is recorded to the minute and stops after it starts: wait for the next minute.
    started = requests.get(platform.gateway_url + f"/api/v1/instruments/{inst_id}/usage-records", headers=op_headers, timeout=30).json()[0]
    started_at = dt.datetime.fromisoformat(started["started_at"].replace("Z", "+00:00"))
    while dt.datetime.now(dt.timezone.utc) < started_at + dt.timedelta(minutes=1, seconds=1):
        time.sleep(1)
    page.locator(".el-table__body .el-table__row", has_text=name).locator("[data-test=usage-stop]").first.click()
    done = page.locator(".el-table__body .el-table__row", has_text=name).locator("[data-test=status-completed]").first
    page.locator("[data-test=problem]").or_(done).first.wait_for()
    assert page.locator("[data-test=problem]").count() == 0, page.locator("[data-test=problem]").inner_text()
    assert_clean(page, console2)
    records = requests.get(platform.gateway_url + f"/api/v1/instruments/{inst_id}/usage-records", headers=op_headers, timeout=30).json()
    assert [(r["booking_id"], r["stopped_at"] is not None) for r in records] == [(soon.json()["id"], True)]


@one_backend
def test_operator_records_training_attendance(platform, ui):  # noqa: F811
    op_headers, _ = token(platform, "operator1")
    ent_headers, ent = token(platform, "ent-demo")
    starts = dt.datetime.now(SHANGHAI) + dt.timedelta(seconds=4)
    title = f"ICP-MS 上机培训 {uuid.uuid4().hex[:6]}"
    made = requests.post(platform.gateway_url + "/api/v1/trainings", headers=op_headers, json={
        "category_code": "testing", "title": title, "starts_at": starts.isoformat(), "mode": "onsite", "venue": "泰州市计量测试院",
        "capacity": 5, "qualification_code": "icpms-operation"}, timeout=30)
    assert made.status_code == 201, made.text
    training_id = made.json()["training_id"]
    signed = requests.post(platform.gateway_url + f"/api/v1/trainings/{training_id}/signups", headers=ent_headers, timeout=30)
    assert signed.status_code == 201, signed.text

    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/trainings")
    page.locator("[data-test=trainings]").wait_for()
    assert_clean(page, console)
    while dt.datetime.now(SHANGHAI) <= starts:     # attendance is recorded once the training started
        time.sleep(0.5)
    page.fill(":is([data-test=tr-id] input, input[data-test=tr-id])", training_id)
    page.click("[data-test=tr-open-id]")
    page.locator("[data-test=tr-title]", has_text=title).wait_for()
    page.locator(f"[data-test=tr-user-{ent['id']}]").click()
    page.click("[data-test=tr-record]")
    page.locator("[data-test=tr-attended]").wait_for()
    assert_clean(page, console)
    u.shot("notices-05-training-attendance")
    signups = requests.get(platform.gateway_url + f"/api/v1/trainings/{training_id}/signups", headers=op_headers, timeout=30).json()["items"]
    assert [s["attended_at"] is not None for s in signups if s["user_id"] == ent["id"]] == [True]

    # Attendance grants the qualification on the instrument needing icpms-operation: the user sees it.
    _until(lambda: [q for q in requests.get(platform.gateway_url + "/api/v1/booking-qualifications", headers=ent_headers,
                                            timeout=30).json() if q["training_id"] == training_id], "the qualification granted")
    u2 = ui()
    console2 = watch_console(u2)
    page = u2.login("ent-demo", "/notices")
    page.locator("[data-test=qualifications] .el-table__row", has_text="培训取得").first.get_by_text("有效").wait_for()
    assert_clean(page, console2)
    u2.shot("notices-06-qualification")
