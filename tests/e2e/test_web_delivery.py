"""The delivery pages in a real browser (same platform and fixtures as tests/e2e/test_web_ui.py):
a visitor verifies a demo report without signing in and follows it to its successor; the demo
enterprise follows its samples and opens one's chain of custody; its ledger shows due and
suspended instruments, and a bad .xlsx import lists the row and column and imports nothing."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from services.delivery import demo
from tests.e2e.test_web_ui import one_backend, shots, ui, web_dist  # noqa: F401 (fixtures; `browser` is conftest's)

pytestmark = pytest.mark.e2e


@one_backend
def test_public_verification_page(ui):
    codes = dict(demo.codes())
    u = ui()
    page = u.open("/reports/verify")
    page.fill("#dv-number", f"{demo.PREFIX}0001")
    page.fill("#dv-code", codes[f"{demo.PREFIX}0001"])
    page.click("[data-test=verify-submit]")
    page.locator("[data-test=verify-result]", has_text="已被替代").wait_for()
    page.click("[data-test=verify-successor]")
    assert page.input_value("#dv-number") == f"{demo.PREFIX}0047"
    page.fill("#dv-code", codes[f"{demo.PREFIX}0047"])
    page.click("[data-test=verify-submit]")
    page.locator("[data-test=verify-result]", has_text="有效").wait_for()
    u.shot("40-report-verified")
    page.fill("#dv-code", "WRONG234")
    page.click("[data-test=verify-submit]")
    page.locator("[data-test=problem]", has_text="report_not_verified").wait_for()


@one_backend
def test_samples_and_ledger_pages(ui, tmp_path):
    u = ui()
    page = u.login("ent-demo", start="/samples")
    rows = page.locator("[data-test=samples] .el-table__body tr")
    rows.first.wait_for()
    assert rows.count() >= 10
    page.locator("[data-test=sample-exception]").first.wait_for()   # the rejected sample's exceptions
    rows.first.click()
    page.locator(".el-timeline-item").first.wait_for()
    u.shot("41-samples")

    page = u.open("/ledger")
    ledger = page.locator("[data-test=ledger] .el-table__body tr")
    ledger.first.wait_for()
    before = ledger.count()
    assert before >= 20
    page.locator("[data-test=ledger-suspended]").first.wait_for()
    u.shot("42-ledger")
    book = Workbook()
    sheet = book.active
    sheet.append(["器具名称", "出厂编号", "ABC分类", "检定/校准", "周期(月)"])
    sheet.append(["压力表", "UI-1", "A", "verification", 6])
    sheet.append(["压力表", "UI-2", "Q", "verification", 6])
    path = tmp_path / "bad.xlsx"
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    page.set_input_files("[data-test=ledger-import]", str(path))
    page.locator("[data-test=ledger-import-errors]", has_text="row 3").wait_for()
    page = u.open("/ledger")   # nothing of the bad import was written
    page.locator("[data-test=ledger] .el-table__body tr").first.wait_for()
    assert page.locator("[data-test=ledger] .el-table__body tr").count() == before
