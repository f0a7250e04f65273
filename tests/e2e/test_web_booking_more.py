"""The booking pages beyond a single booking, in a real browser (tests/e2e/test_web_ui.py's fixtures):
a weekly series previewed (every occurrence with its conflict and cause), booked with conflicts
skipped and one occurrence cancelled alone; a taken time waited for from the instrument's
availability, the offer accepted once the time frees; a private calendar feed created, read and
revoked; an operator publishing an instrument with its rules, hours, prices, a blackout, a
qualification and a withdrawal. Each page: no untranslated key, no console error."""
from __future__ import annotations

import datetime as dt
import os
import random
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.test_web_ui import one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; browser is in conftest)
from tests.e2e.web_checks import assert_clean, pick_option, token, watch_console

if os.environ.get("QI_UI_BASE"):   # iterating against a running platform (see test_web_ui.py)
    from tests.e2e.test_web_ui import platform  # noqa: F401

pytestmark = pytest.mark.e2e
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _instrument(platform, q: str) -> dict:
    return requests.get(platform.gateway_url + "/api/v1/instruments", params={"q": q}, timeout=30).json()["items"][0]


def _free_slot(platform, headers, instrument_id: str) -> dict:
    """A free slot of the instrument in the next two weeks, for the caller (so reruns find a new one)."""
    start = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=3)
    body = requests.get(platform.gateway_url + f"/api/v1/instruments/{instrument_id}/availability", headers=headers,
                        params={"from": start.isoformat(), "to": (start + dt.timedelta(days=14)).isoformat()}, timeout=30).json()
    slots = body["slots"]
    # Two free slots in a row: the instrument's shortest booking is an hour of 30-minute slots.
    free = [dict(a, end=b["end"]) for a, b in zip(slots, slots[1:]) if a["state"] == b["state"] == "free" and a["end"] == b["start"]]
    assert free, "the demo instrument has free hours ahead"
    return random.choice(free)


@one_backend
def test_weekly_series_preview_book_and_cancel_one(ui):  # noqa: F811
    u = ui()
    console = watch_console(u)
    page = u.login("ent-demo", "/instruments")
    page.locator("[data-test=instrument-link]", has_text="洁净工作台").first.click()   # no approval, no qualification
    page.locator("[data-test=to-series]").click()
    page.wait_for_url(re.compile(r"/booking-series\?instrument="))
    day = (dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=random.randint(3, 9)))
    while day.weekday() > 4:
        day += dt.timedelta(days=1)
    page.fill("[data-test=series-date] input", day.isoformat())
    page.keyboard.press("Enter")
    hour = random.choice(["08:30", "09:30", "10:30", "14:30", "15:30"])
    page.fill("[data-test=series-start]", hour)
    page.fill("[data-test=series-end]", f"{int(hour[:2]) + 1:02d}:30")
    page.fill(":is([data-test=series-weeks] input, input[data-test=series-weeks])", "6")
    page.click("[data-test=series-preview]")
    rows = page.locator("[data-test=series-occurrences] .el-table__row")
    rows.first.wait_for()
    assert rows.count() == 6, "one row per week"
    # Six weeks reach past the 20-working-day horizon (or into the New Year holiday): those rows say why.
    for n in range(page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-conflict]").count()):
        row = rows.filter(has=page.locator("[data-test=occ-conflict]")).nth(n)
        assert row.locator("code").count() >= 1, "a conflict names its rule"
    bookable = page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-ok]").count()
    assert bookable >= 1
    assert_clean(page, console)
    u.shot("booking-more-01-series-preview")

    page.click("[data-test=series-book]")
    page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-booked]").first.wait_for()
    assert page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-booked]").count() == bookable, "the bookable ones booked, the conflicts skipped"
    page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-cancel]").first.click()
    page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-cancelled]").wait_for()
    # el-tag fades out: wait for the count rather than read it once.
    expect(page.locator("[data-test=series-occurrences] .el-table__body [data-test=occ-booked]")).to_have_count(bookable - 1, timeout=15000)
    assert_clean(page, console)
    u.shot("booking-more-02-series-booked")


@one_backend
def test_waitlist_join_from_a_taken_slot_and_accept_the_offer(platform, ui):  # noqa: F811
    inst = _instrument(platform, "电子天平")
    ent_headers, _ = token(platform, "ent-demo")
    slot = _free_slot(platform, ent_headers, inst["id"])
    booking = requests.post(platform.gateway_url + "/api/v1/bookings", headers={**ent_headers, "Idempotency-Key": str(uuid.uuid4())},
                            json={"instrument_id": inst["id"], "starts_at": slot["start"], "ends_at": slot["end"]}, timeout=30)
    assert booking.status_code == 201, booking.text

    u = ui()
    console = watch_console(u)
    page = u.login("person-demo", f"/instruments/{inst['id']}")
    day = slot["start_local"][:10]
    page.fill(".toolbar .el-date-editor >> nth=0 >> input", day)
    page.fill(".toolbar .el-date-editor >> nth=1 >> input", day)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="刷新").click()
    page.locator(f"[data-start='{slot['start']}']").click()
    page.locator("[data-test=taken]").wait_for()
    page.locator("[data-test=to-waitlist]").click()
    page.wait_for_url(re.compile(r"/waitlist\?"))
    page.click("[data-test=wl-join]")
    entry = page.locator("[data-test=waitlist] .el-table__row").filter(has_text=inst["name"]).first
    entry.get_by_text("候补中").wait_for()
    assert_clean(page, console)
    u.shot("booking-more-03-waitlist-waiting")

    cancelled = requests.post(platform.gateway_url + f"/api/v1/bookings/{booking.json()['id']}/cancel", headers=ent_headers,
                              json={"reason": "计划变更"}, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    page.get_by_role("button", name="刷新").click()
    offered = page.locator("[data-test=waitlist] .el-table__row", has=page.locator("[data-test=wl-accept]")).first
    offered.locator("[data-test=wl-expires]").wait_for()           # held until ... (Beijing time), time left
    offered.locator("[data-test=wl-accept]").click()
    page.locator("[data-test=waitlist]").get_by_text("已接受").first.wait_for()
    assert_clean(page, console)
    u.shot("booking-more-04-waitlist-accepted")


@one_backend
def test_calendar_feed_created_read_and_revoked(platform, ui):  # noqa: F811
    u = ui()
    console = watch_console(u)
    page = u.login("ent-demo", "/calendar-feeds")
    page.click("[data-test=feed-mine]")
    url_input = page.locator("[data-test=feeds] .el-table__body [data-test=feed-url]").first
    url_input.wait_for()
    url = url_input.input_value()
    assert re.fullmatch(r"https?://[^/]+/api/v1/calendar-feeds/[A-Za-z0-9_-]{20,64}", url)
    feed = requests.get(url, timeout=30)
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    assert_clean(page, console)
    u.shot("booking-more-05-feed")
    page.locator("[data-test=feeds] .el-table__body [data-test=feed-revoke]").first.click()
    page.locator("[data-test=feeds] .el-table__body [data-test=feed-status]").first.get_by_text("已撤销").wait_for()
    assert requests.get(url, timeout=30).status_code in (404, 410), "a revoked feed no longer answers"
    page.reload()
    page.locator("[data-test=feeds] .el-table__body [data-test=feed-status]").first.get_by_text("已撤销").wait_for()   # remembered in this browser
    assert_clean(page, console)


@one_backend
def test_operator_publishes_changes_and_withdraws_an_instrument(platform, ui):  # noqa: F811
    _, ent = token(platform, "ent-demo")
    name = f"界面测试光谱仪 {uuid.uuid4().hex[:6]}"
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/instruments/new")
    pick_option(page, "[data-test=ie-institution]", "泰州市计量测试院")
    page.fill("[data-test=ie-name]", name)
    page.fill("[data-test=ie-hours-6]", "09:00-12:00")          # Saturday mornings too
    page.fill("[data-test=ie-price-enterprise]", "abc")
    page.click("[data-test=ie-save]")
    page.locator("[data-test=problem]").wait_for()              # a price that is not a decimal, refused by the API
    page.locator(".el-form-item__error").first.wait_for()
    assert_clean(page, console)
    u.shot("booking-more-06-instrument-refused")
    page.fill("[data-test=ie-price-enterprise]", "120.50")
    page.fill("[data-test=ie-price-park_member]", "96.40")
    page.click("[data-test=ie-save]")
    page.wait_for_url(re.compile(r"/instruments/[0-9a-f-]{36}/edit$"))
    instrument_id = page.url.rsplit("/", 2)[1]
    body = requests.get(platform.gateway_url + f"/api/v1/instruments/{instrument_id}", timeout=30).json()
    assert {p["price_group"]: p["hourly_rate"] for p in body["prices"]} == {"enterprise": "120.50", "park_member": "96.40"}
    assert body["rules"]["opening_hours"]["6"] == [["09:00", "12:00"]]

    page.fill(":is([data-test=ie-min_minutes] input, input[data-test=ie-min_minutes])", "120")
    page.click("[data-test=ie-save]")
    page.get_by_text("第 2 版").wait_for()
    start = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=10)
    page.fill("[data-test=bo-start]", f"{start.isoformat()}T09:00")
    page.fill("[data-test=bo-end]", f"{start.isoformat()}T12:00")
    page.fill("[data-test=bo-reason]", "年度校准")
    page.click("[data-test=bo-add]")
    page.locator("[data-test=ie-blackouts]").get_by_text("年度校准").wait_for()
    page.locator("[data-test=ie-blackouts]").get_by_text(f"{start.isoformat().replace('-', '/')} 09:00").wait_for()   # Beijing time
    page.fill("[data-test=gr-user]", ent["id"])
    page.click("[data-test=gr-submit]")
    page.locator("[data-test=granted]").wait_for()
    page.fill("[data-test=wd-reason]", "设备报废")
    page.click("[data-test=wd-submit]")
    page.locator("[data-test=ie-withdrawn]", has_text="平台下架").wait_for()
    assert_clean(page, console)
    u.shot("booking-more-07-instrument-edited")
    body = requests.get(platform.gateway_url + f"/api/v1/instruments/{instrument_id}", timeout=30).json()
    assert body["status"] == "withdrawn" and body["rules"]["min_minutes"] == 120 and body["blackouts"][0]["reason"] == "年度校准"
