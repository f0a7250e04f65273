"""The booking pages in a real browser (the fixtures of tests/e2e/test_web_ui.py): a visitor
finds the demo's shared instruments and reads an instrument's availability with its reasons;
the demo enterprise picks two free slots, books (or is told every rule it breaks), and finds the
request in "My bookings". Institution approvals are covered through HTTP (test_booking_http.py):
the identity demo has no institution account to sign in with."""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_web_ui import one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; browser is in conftest)

pytestmark = pytest.mark.e2e


@one_backend
def test_visitor_finds_instruments_and_enterprise_books(ui):  # noqa: F811
    u = ui()
    page = u.open("/instruments")
    rows = page.locator("[data-test=instrument-list] .el-table__row")
    rows.first.wait_for()
    assert rows.count() >= 20
    page.fill("[data-test=instrument-q]", "盐雾")
    page.click("[data-test=instrument-search]")
    page.locator("[data-test=instrument-link]", has_text="盐雾").first.wait_for()
    u.shot("booking-01-instruments")

    ent = ui()
    page = ent.login("ent-demo")
    page = ent.open("/instruments")
    page.locator("[data-test=instrument-link]", has_text="三坐标测量机").first.click()
    page.wait_for_url(re.compile(r"/instruments/"))
    page.locator("[data-test=instrument-name]", has_text="三坐标测量机").wait_for()
    page.locator("[data-test=availability-day]").first.wait_for()
    assert page.locator("[data-test=slot-closed]").count() > 0       # weekends, notice, the calibration blackout
    free = page.locator("[data-test=slot-free]")
    free.first.wait_for()
    free.nth(0).click()
    free.nth(1).click()
    page.click("[data-test=book]")
    page.locator("[data-test=booked], [data-test=problem]").first.wait_for()
    ent.shot("booking-02-instrument")
    if page.locator("[data-test=booked]").count():
        page = ent.open("/bookings")
        page.locator("[data-test=booking-list] .el-table__row", has_text="三坐标测量机").first.wait_for()
        ent.shot("booking-03-mine")
    else:                      # refused (e.g. the weekly limit after reruns): every rule id is listed
        assert page.locator("[data-test=refused-rules] li").count() >= 1


@one_backend
def test_enterprise_books_a_window_appointment_and_staff_check_it_in(ui):  # noqa: F811
    ent = ui()
    ent.login("ent-demo")
    page = ent.open("/appointments")
    page.click("[data-test=window-select]")       # window1 (the identity demo) serves this park station
    page.locator(".el-select-dropdown__item", has_text="泰州医药高新区质量基础设施服务站").click()
    # The page clears the first window's slots on the change, so these rows are the station's.
    page.locator("[data-test=appointment-slots] .el-table__row").first.wait_for()   # the demo's next 10 working days
    page.locator("[data-test=book-appointment]").first.click()
    # The new appointment, at this station.
    page.locator("[data-test=my-appointments] .el-table__row", has_text="泰州医药高新区质量基础设施服务站").first.wait_for()
    ent.shot("booking-04-appointments")

    staff = ui()
    staff.login("window1")
    page = staff.open("/appointments")
    # The page once offered the first window's slots until the chosen station's arrived, so the
    # click above could book the lab window and this list stayed empty (web/tests/appointments.test.ts).
    row = page.locator("[data-test=my-appointments] .el-table__row", has_text="已预约").first
    row.wait_for()
    row.get_by_role("button", name="签到").click()
    page.locator("[data-test=my-appointments] .el-table__row", has_text="已签到").first.wait_for()
    staff.shot("booking-05-window-appointments")
