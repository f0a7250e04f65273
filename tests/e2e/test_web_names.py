"""Names where a person expects them, in a real browser (tests/e2e/test_web_ui.py's fixtures):
a callback says what it is about (the complaint's acceptance number, or the evaluated service's
type) and the institution by name; an improvement item names its owner (an institution by
name, the viewer as "本人") and its institution. No 8-character id shown in their place. And the
top bar at 1366 px keeps a role's main pages in view in English as in Chinese (short bar labels).
A training's participants (registry) are listed by their public nickname, from the registry's copy
of identity's `user.registered` (an account registered before the registry listened has none and
is shown by its id: not reachable here, where the registry starts before the demo accounts)."""
from __future__ import annotations

import datetime as dt
import os
import re
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect

from services.feedback.demo import INSTITUTIONS, NAMES
from tests.e2e.test_web_ui import one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; browser is in conftest)
from tests.e2e.web_checks import assert_clean, token, watch_console

if os.environ.get("QI_UI_BASE"):   # iterating against a running platform (see test_web_ui.py)
    from tests.e2e.test_web_ui import platform  # noqa: F401

pytestmark = pytest.mark.e2e
BODY = ".el-table__body .el-table__row"      # el-table also renders cell templates in hidden columns
SUBJECT = re.compile(r"^(投诉 TS-\d{8}-\d{4,5}|评价 · (需求|窗口办件|仪器预约|窗口预约|报告交付))$")


@one_backend
def test_callbacks_name_their_subject_and_institution(ui, platform):  # noqa: F811
    headers, _user = token(platform, "operator1")
    tasks = requests.get(platform.gateway_url + "/api/v1/callbacks", params={"state": "open"}, headers=headers,
                         timeout=30).json()["items"]
    assert len(tasks) >= 2, "the demo plans callbacks"
    done = requests.post(f"{platform.gateway_url}/api/v1/callbacks/{tasks[-1]['id']}/attempts", headers=headers,
                         json={"result": "reached", "notes": "客户表示满意"}, timeout=30)   # one in the archive
    assert done.status_code == 200, done.text
    # Other tests of the session plan callbacks for institutions feedback never heard of (no
    # registry event): those the API itself cannot name, and the page shows their id.
    unnamed = {c["institution_id"] for state in ("open", "done")
               for c in requests.get(platform.gateway_url + "/api/v1/callbacks", params={"state": state},
                                     headers=headers, timeout=30).json()["items"]
               if c.get("institution_id") and not c.get("institution_name")}
    named = 0
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/callbacks")
    rows = page.locator(f"[data-test=callbacks] {BODY}")
    # The archive first, then the tasks: each click loads that tab, and the rows are read only once
    # the table shows what that answer said (a tab's rows read mid-switch are the other tab's).
    for tab in ("done", "open"):
        items = show_tab(page, tab)
        u.shot(f"names-01-callbacks-{tab}")
        for i in range(rows.count()):
            row = rows.nth(i)
            subject = row.locator("[data-test=cb-subject]").inner_text().strip()
            assert SUBJECT.match(subject), f"callback subject {subject!r} is not a number or a service type"
            assert row.locator("[data-test=cb-subject] code").count() == 0, "no raw id where the API gives a name"
            institution = row.locator("[data-test=cb-institution]").inner_text().strip()
            assert institution in NAMES or institution in unnamed, f"{institution!r}: a named institution shown by id"
            named += institution in NAMES
    assert named, "no callback names its institution"
    # The dialog names the institution as its row does (the tasks may begin with callbacks other
    # tests planned for institutions feedback cannot name: open one that is named).
    at = next((i for i, c in enumerate(items) if c.get("institution_name") in NAMES), None)
    assert at is not None, "no open callback names its institution"
    rows.nth(at).locator("[data-test=cb-open]").click()
    expect(page.locator("[data-test=cb-about]")).to_contain_text(items[at]["institution_name"])
    page.keyboard.press("Escape")
    assert_clean(page, console)


def show_tab(page, tab):
    """Click a callbacks tab; return the items its answer listed, once the table shows them."""
    with page.expect_response(lambda r: "/api/v1/callbacks?" in r.url and f"state={tab}" in r.url) as answer:
        page.click(f"[data-test=cb-tab-{tab}]")
    items = answer.value.json()["items"]
    shown = [c.get("institution_name") or c.get("institution_id") for c in items]
    expect(page.locator(f"[data-test=callbacks] {BODY}")).to_have_count(len(items))
    expect(page.locator(f"[data-test=callbacks] {BODY} [data-test=cb-institution]")).to_have_text([s for s in shown if s])
    return items


@one_backend
def test_improvements_name_their_owner_and_institution(ui, platform):  # noqa: F811
    mark = uuid.uuid4().hex[:6]
    headers, _user = token(platform, "operator1")
    by_institution = requests.post(platform.gateway_url + "/api/v1/improvements", headers=headers, timeout=30, json={
        "kind": "plan_item", "source": "complaint", "title": f"缩短投诉答复时间 {mark}", "owner_id": INSTITUTIONS[1],
        "institution_id": INSTITUTIONS[1], "due_working_days": 10})
    assert by_institution.status_code == 201, by_institution.text
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/improvements")
    mine = f"缩短检测报告出具周期 {mark}"
    owner = page.locator(":is([data-test=im-owner-input] input, input[data-test=im-owner-input])")
    assert owner.input_value() == "", "no account id put in the form: blank is the operator"
    page.fill("[data-test=im-title]", mine)
    page.click("[data-test=im-submit]")
    row = page.locator(f"[data-test=improvements] {BODY}", has_text=mine)
    assert row.locator("[data-test=im-owner]").inner_text().strip() == "本人"
    row = page.locator(f"[data-test=improvements] {BODY}", has_text=f"缩短投诉答复时间 {mark}")
    assert row.locator("[data-test=im-owner]").inner_text().strip() == NAMES[1]
    assert row.locator("[data-test=im-institution]").inner_text().strip() == NAMES[1]
    assert_clean(page, console)
    u.shot("names-02-improvements")
    page.click("[data-test=language]")                    # the same in English
    page.get_by_role("option", name="English").click()
    row = page.locator(f"[data-test=improvements] {BODY}", has_text=mine)
    row.locator("[data-test=im-owner]", has_text="Me").wait_for()
    assert_clean(page, console)


def publish_training(platform, headers, title, category, venue, *, days, capacity) -> str:
    """An onsite training `days` from now, published by the operator whose headers these are; its id."""
    made = requests.post(platform.gateway_url + "/api/v1/trainings", headers=headers, timeout=30, json={
        "category_code": category, "title": title, "mode": "onsite", "venue": venue, "capacity": capacity,
        "starts_at": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).isoformat()})
    assert made.status_code == 201, made.text
    return made.json()["training_id"]


@one_backend
def test_training_participants_are_named_by_nickname(ui, platform):  # noqa: F811
    op_headers, _op = token(platform, "operator1")
    title = f"计量器具管理台账培训 {uuid.uuid4().hex[:6]}"
    training_id = publish_training(platform, op_headers, title, "metrology", "泰州医药高新区服务站 3 楼培训室", days=3,
                                   capacity=5)
    people = {}
    # identity's demo nicknames (person-demo may have become an institution's staff in other tests: not it)
    for username, nickname in (("ent-demo", "示范企业"),):
        headers, user = token(platform, username)
        signed = requests.post(f"{platform.gateway_url}/api/v1/trainings/{training_id}/signups", headers=headers,
                               timeout=30)
        assert signed.status_code == 201, signed.text
        people[user["id"]] = nickname
    # The registry got the demo accounts' user.registered over the bus: the API names them.
    deadline = time.monotonic() + 30
    while True:
        items = requests.get(f"{platform.gateway_url}/api/v1/trainings/{training_id}/signups", headers=op_headers,
                             timeout=30).json()["items"]
        if {s["user_id"]: s["nickname"] for s in items} == people or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {s["user_id"]: s["nickname"] for s in items} == people, "the registry knows the demo accounts' nicknames"
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/trainings")
    page.fill(":is([data-test=tr-id] input, input[data-test=tr-id])", training_id)
    page.click("[data-test=tr-open-id]")
    page.locator("[data-test=tr-title]", has_text=title).wait_for()
    for user_id, nickname in people.items():
        name = page.locator(f"[data-test=tr-user-{user_id}] [data-test=tr-name]")
        expect(name).to_have_text(nickname)
        assert name.get_attribute("title") == f"用户账号 ID {user_id}", "the id stays at hand, on hover"
    shown = page.locator("[data-test=tr-participants]").inner_text()
    assert not [u for u in people if u in shown], "no account id shown in place of a nickname"
    assert_clean(page, console)
    u.shot("names-05-training-participants")


VISIBLE_MENU = """[...document.querySelectorAll('nav .el-menu--horizontal > .el-menu-item, nav .el-menu--horizontal > .el-sub-menu')]
  .filter((e) => e.offsetParent !== null && !e.classList.contains('el-sub-menu__hide-arrow')).map((e) => e.innerText.trim())"""


# The bar's first items at 1366 px, each role in both languages: the role's own work in view, not
# folded into "…" after five English labels (as before the bar got its short labels).
MAIN = {
    "operator1": (["首页", "机构检索", "标准查询", "消息通知", "共享仪器", "我的预约", "审核队列", "执照审核", "时限看板"],
                  ["Home", "Institutions", "Standards", "Notices", "Instruments", "Bookings", "Reviews", "Licences", "SLA"]),
    "ent-demo": (["首页", "机构检索", "标准查询", "消息通知", "共享仪器", "我的预约", "窗口预约", "我的需求", "我的机构"],
                 ["Home", "Institutions", "Standards", "Notices", "Instruments", "Bookings", "Appointments", "Demands",
                  "Institution"]),
    "window1": (["首页", "机构检索", "标准查询", "消息通知", "共享仪器", "窗口预约", "走访记录", "代企业填报"],
                ["Home", "Institutions", "Standards", "Notices", "Instruments", "Appointments", "Visits", "File demand"]),
}


@one_backend
def test_the_main_menu_items_stay_in_view_in_both_languages(ui):  # noqa: F811
    for user, by_language in MAIN.items():
        u = ui()
        console = watch_console(u)
        page = u.login(user, "/")
        for language, main in zip(("中文", "English"), by_language):
            page.click("[data-test=language]")
            page.get_by_role("option", name=language).click()
            page.get_by_role("menuitem", name=main[1]).wait_for()
            page.wait_for_timeout(300)     # the menu measures its items after the labels change
            shown = [label.split("\n")[0] for label in page.evaluate(VISIBLE_MENU)]   # less the unread count
            assert shown[:len(main)] == main, f"{user} in {language} at 1366 px: {shown}"
            assert_clean(page, console)
            u.shot(f"names-03-menu-{user}-{'en' if language == 'English' else 'zh'}")


@one_backend
def test_an_escalated_rectification_names_the_limit_not_the_rule_id(ui, platform):  # noqa: F811
    """The demo's Q3 cases are long past their limits: feedback's sweep (every 60 s) escalates one;
    its step reads 超时督办 with the limit's description, not `feedback.rectification_…`."""
    import time
    headers, _user = token(platform, "admin")
    deadline, case = time.monotonic() + 150, None
    while case is None and time.monotonic() < deadline:
        cases = requests.get(platform.gateway_url + "/api/v1/rectifications", params={"limit": 200}, headers=headers,
                             timeout=30).json()
        case = next((c for c in cases if any(s["action"] == "escalate" for s in c["steps"])), None)
        if case is None:
            time.sleep(5)
    assert case is not None, "no demo rectification escalated within 150 s"
    u = ui()
    console = watch_console(u)
    page = u.login("admin", "/rectifications")
    row = page.locator(f"[data-test=rectifications] {BODY}", has_text=case["evaluation_id"][:8]).first
    row.locator("[data-test=rc-open]").click()
    steps = page.locator("[data-test=rc-steps]")
    steps.get_by_text("超时督办").first.wait_for()
    assert "feedback.rectification" not in steps.inner_text()
    assert_clean(page, console)
    u.shot("names-04-rectification-escalated")


@one_backend
def test_the_sla_board_names_what_each_clock_is_about_in_both_languages(ui, platform):  # noqa: F811
    """Each open clock names its subject's kind in the reader's language (样品, 投诉, ... / Sample,
    Complaint, ...), never the code word (`sample`, `rectification`), and links to the page where
    that kind is handled."""
    headers, _user = token(platform, "operator1")
    clocks = requests.get(platform.gateway_url + "/api/v1/sla/clocks", headers=headers, timeout=30).json()
    kinds = {c["subject_type"] for c in clocks}
    assert len(kinds) >= 3, f"the demo has clocks of several kinds: {kinds}"
    u = ui()
    console = watch_console(u)
    page = u.login("operator1", "/sla")
    for language in ("中文", "English"):
        page.click("[data-test=language]")
        page.get_by_role("option", name=language).click()
        subjects = page.locator("[data-test=sla-clocks] .el-table__body [data-test=sla-subject]")
        subjects.first.wait_for()
        expect(page.locator("h1")).to_have_text("时限看板" if language == "中文" else re.compile(r"[A-Za-z]"))
        shown = [s.strip() for s in subjects.all_inner_texts()]   # (other tests' timers may add or close clocks)
        assert not kinds & set(shown), f"code words shown in {language}: {sorted(kinds & set(shown))}"
        if language == "中文":
            assert all(re.search(r"[\u4e00-\u9fff]", s) for s in shown), shown
        links = page.locator("[data-test=sla-clocks] .el-table__body a[data-test=sla-subject]")
        assert links.count() == len(shown), "every kind an operator handles links to its page"
        assert_clean(page, console)
        u.shot(f"names-06-sla-{'en' if language == 'English' else 'zh'}")


@one_backend
def test_an_enterprise_signs_up_for_a_training_and_gives_the_place_up_on_the_page(ui, platform):  # noqa: F811
    """The trainings page for an enterprise: sign up from the list, see the place (已报名), cancel
    after a confirmation, and the sign-up button is back; the operator's list follows."""
    op_headers, _op = token(platform, "operator1")
    title = f"检验检测机构资质认定宣贯 {uuid.uuid4().hex[:6]}"
    training_id = publish_training(platform, op_headers, title, "certification", "泰州市市场监管局 5 楼会议室", days=20,
                                   capacity=30)
    _headers, ent = token(platform, "ent-demo")
    u = ui()
    console = watch_console(u)
    page = u.login("ent-demo", "/trainings")
    mine = page.locator(f"[data-test=tr-mine-{training_id}]")
    mine.locator("[data-test=tr-sign-up]").click()
    expect(mine.locator("[data-test=tr-status]")).to_have_text("已报名")
    u.shot("names-07-training-signed-up")

    def signups():
        return requests.get(f"{platform.gateway_url}/api/v1/trainings/{training_id}/signups", headers=op_headers,
                            timeout=30).json()["items"]
    assert [(s["user_id"], s["status"]) for s in signups()] == [(ent["id"], "confirmed")]
    mine.locator("[data-test=tr-cancel]").click()
    page.locator(".el-message-box").get_by_role("button", name="取消报名").click()
    expect(mine.locator("[data-test=tr-sign-up]")).to_be_visible()
    assert [(s["user_id"], s["status"]) for s in signups()] == [(ent["id"], "cancelled")]
    assert_clean(page, console)
