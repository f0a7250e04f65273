"""The feedback pages beyond rating and complaints, in a real browser (tests/e2e/test_web_ui.py's
fixtures): an operator changes a supervision rule and reads its history (a regulator only reads);
a callback made from the task list with its question script and found again in the archive; a
failed call reported to support from the error itself (request id filled in), answered by an
operator, the answer seen by the user; an improvement item taken from plan to the public list; a
rectification case moved on one step. Each page: no untranslated key, no console error."""
from __future__ import annotations

import os
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_web_ui import one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; browser is in conftest)
from tests.e2e.web_checks import assert_clean, watch_console

if os.environ.get("QI_UI_BASE"):   # iterating against a running platform (see test_web_ui.py)
    from tests.e2e.test_web_ui import platform  # noqa: F401

pytestmark = pytest.mark.e2e
BODY = ".el-table__body .el-table__row"      # el-table also renders cell templates in hidden columns


@one_backend
def test_operator_changes_a_supervision_rule_and_reads_its_history(ui):  # noqa: F811
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/supervision-rules")
    row = page.locator(f"[data-test=supervision-rules] {BODY}", has_text="其他").first
    row.wait_for()
    version = int(row.locator("td").nth(4).inner_text())
    row.locator("[data-test=sr-edit]").click()
    days = page.locator(":is([data-test=sr-days] input, input[data-test=sr-days])")
    new_days = 7 if days.input_value() != "7" else 8
    days.fill(str(new_days))
    reply = page.locator(":is([data-test=sr-reply-days-input] input, input[data-test=sr-reply-days-input])")
    reply_days = 4 if reply.input_value() != "4" else 6
    reply.fill(str(reply_days))
    page.click("[data-test=sr-save]")
    row = page.locator(f"[data-test=supervision-rules] {BODY}", has_text="其他").first
    row.get_by_text(f"{new_days} 个工作日后升级至").wait_for()
    row.get_by_text(f"{reply_days} 个工作日内").wait_for()      # the type's own reply limit, kept by the PUT
    row.locator("[data-test=sr-history]").click()
    versions = page.locator(f"[data-test=sr-versions] {BODY}")
    versions.first.wait_for()
    assert versions.count() >= 1
    page.locator("[data-test=sr-versions]").get_by_text(f"{new_days} 个工作日后升级至").first.wait_for()
    assert int(row.locator("td").nth(4).inner_text()) == version + 1
    assert_clean(page, console)
    u.shot("feedback-more-01-supervision")

    reg = ui()
    console = watch_console(reg)
    page = reg.login("regulator1", "/supervision-rules")
    page.locator(f"[data-test=supervision-rules] {BODY}").first.wait_for()
    page.get_by_text("只读：监督规则由平台运营人员修改").wait_for()
    assert page.locator(f"[data-test=supervision-rules] {BODY} [data-test=sr-edit]").count() == 0
    assert_clean(page, console)


@one_backend
def test_callback_made_with_its_script_and_found_in_the_archive(ui):  # noqa: F811
    note = f"客户表示满意 {uuid.uuid4().hex[:6]}"
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/callbacks")
    rows = page.locator(f"[data-test=callbacks] {BODY}")
    rows.first.wait_for()
    before = rows.count()
    rows.first.locator("[data-test=cb-open]").click()
    script = page.locator("[data-test=cb-script] li")
    script.first.wait_for()
    assert script.count() >= 2, "the questions to ask"
    assert_clean(page, console)
    u.shot("feedback-more-02-callback-script")
    page.fill("[data-test=cb-notes]", note)
    page.click("[data-test=cb-record]")
    page.get_by_role("dialog").get_by_text("已回访").first.wait_for()
    page.keyboard.press("Escape")
    expect(rows).to_have_count(before - 1, timeout=15000)          # done: off the task list
    page.click("[data-test=cb-tab-done]")
    page.fill("[data-test=cb-q]", note.split()[-1])
    page.click("[data-test=cb-search]")
    found = page.locator(f"[data-test=callbacks] {BODY}", has_text=note)
    found.wait_for()
    expect(page.locator(f"[data-test=callbacks] {BODY}")).to_have_count(1, timeout=15000)
    assert_clean(page, console)
    u.shot("feedback-more-03-callback-archive")


@one_backend
def test_error_reported_to_support_answered_and_seen(ui):  # noqa: F811
    text = f"打开仪器页面时报错 {uuid.uuid4().hex[:6]}"
    ent = ui()
    console = watch_console(ent)
    page = ent.login("ent-demo", "/instruments/00000000-0000-4000-8000-000000000000")
    page.locator("[data-test=problem]").wait_for()
    request_id = page.locator("[data-test=request-id]").inner_text().split(":")[-1].strip()
    assert len(request_id) >= 8
    page.click("[data-test=report-this]")
    page.wait_for_url(lambda url: "/support" in url)
    assert page.locator("[data-test=sp-request-id]").input_value() == request_id
    assert page.locator("[data-test=sp-page]").input_value().startswith("/instruments/")
    page.fill("[data-test=sp-description]", text)
    page.click("[data-test=sp-submit]")
    page.locator("[data-test=support-filed]").wait_for()
    mine = page.locator(f"[data-test=support-requests] {BODY}", has_text=text)
    mine.get_by_text("待处理").wait_for()
    assert request_id in mine.inner_text()
    assert_clean(page, console)
    ent.shot("feedback-more-04-support-filed")

    op = ui()
    console_op = watch_console(op)
    page_op = op.login("operator1", "/support")
    row = page_op.locator(f"[data-test=support-requests] {BODY}", has_text=text)
    row.locator("[data-test=sp-answer-open]").click()
    page_op.fill("[data-test=sp-answer-text]", "已修复链接，请刷新后重试")
    page_op.click("[data-test=sp-answer-send]")
    page_op.locator(f"[data-test=support-requests] {BODY}", has_text=text).get_by_text("已解决").wait_for()
    assert_clean(page_op, console_op)
    op.shot("feedback-more-05-support-queue")

    page.reload()
    mine = page.locator(f"[data-test=support-requests] {BODY}", has_text=text)
    mine.get_by_text("已解决").wait_for()
    mine.get_by_text("已修复链接，请刷新后重试").wait_for()
    assert_clean(page, console)


@one_backend
def test_improvement_from_plan_to_the_public_list(ui):  # noqa: F811
    title = f"缩短检测报告出具周期 {uuid.uuid4().hex[:6]}"
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/improvements")
    page.fill("[data-test=im-title]", title)
    page.click("[data-test=im-submit]")
    row = page.locator(f"[data-test=improvements] {BODY}", has_text=title)
    row.locator("[data-test=im-state]", has_text="进行中").wait_for()
    for text, state in (("已增派检测人员", "已提交证据"), ("抽查 20 份报告均按时出具", "已复查")):
        row.locator("[data-test=im-progress]").click()
        page.fill("[data-test=im-text]", text)
        page.click("[data-test=im-send]")
        row.locator("[data-test=im-state]", has_text=state).wait_for()
    assert_clean(page, console)
    u.shot("feedback-more-06-improvements")

    public = ui()
    console = watch_console(public)
    page = public.open("/improvements")
    page.locator(f"[data-test=improvements-published] {BODY}", has_text=title).get_by_text("抽查 20 份报告均按时出具").wait_for()
    assert page.locator("[data-test=improvements]").count() == 0, "the plan is for staff"
    assert_clean(page, console)


@one_backend
def test_rectification_case_moves_on_a_step(ui):  # noqa: F811
    u = ui()
    console = watch_console(u)
    page = u.login("admin", "/rectifications")      # not operator1: a re-check needs another staff member
    rows = page.locator(f"[data-test=rectifications] {BODY}")
    rows.first.wait_for()
    row = rows.filter(has=page.get_by_role("button", name="办理")).first
    before = row.locator("[data-test=rc-state]").inner_text()
    evaluation = row.locator("code").first.inner_text()
    row.locator("[data-test=rc-open]").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("[data-test=rc-form]").wait_for()
    for area in dialog.locator("textarea").all():     # whatever the first allowed step needs
        area.fill("经核实，检测周期超出承诺时限")
    page.click("[data-test=rc-submit]")
    after = page.locator(f"[data-test=rectifications] {BODY}", has_text=evaluation).locator("[data-test=rc-state]")
    expect(after).not_to_have_text(before, timeout=15000)
    assert_clean(page, console)
    u.shot("feedback-more-07-rectification")


@one_backend
def test_new_booking_and_feedback_pages_fit_a_phone(ui):  # noqa: F811
    """The pages above at 390x844, with test_main_pages_fit_a_phone's layout checks."""
    from tests.e2e.test_web_ui import LAYOUT_FAULTS
    for user, paths in [("ent-demo", ["/booking-series", "/waitlist", "/calendar-feeds", "/support", "/improvements"]),
                        ("operator1", ["/instruments/new", "/supervision-rules", "/callbacks", "/rectifications", "/support"])]:
        u = ui(width=390, height=844)
        console = watch_console(u)
        for n, path in enumerate(paths):
            page = u.login(user, start=path) if n == 0 else u.open(path)
            page.locator("#main .page h1").first.wait_for()
            page.wait_for_timeout(300)       # el-table lays out its columns after the data arrives
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{path} scrolls sideways"
            assert page.evaluate(LAYOUT_FAULTS) == [], f"{path} at 390x844"
            assert_clean(page, console)
            u.shot(f"phone-more-{user}{path.replace('/', '-')}")
