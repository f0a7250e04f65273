"""The metrology ledger (5.2.3): derived due dates, reminders, suspension, certificates, send for calibration, xlsx."""
from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.delivery import ledger
from services.delivery.models import Instrument
from services.delivery.tests.helpers import (ENTERPRISE, METRO, METRO_ID, OTHER_ENTERPRISE, call, count, events,
                                              know, lab_profile, report_body)

GAUGE = {"name": "压力表", "model": "Y-100", "serial": "P-001", "measuring_range": "0-1.6MPa",
         "accuracy_class": "1.6级", "location": "一车间", "custodian": "李四", "abc_class": "A", "compulsory": True,
         "control": "verification", "interval_months": 6, "cert_number": "JD2026-001",
         "cert_institution": "泰州市计量测试院", "cert_date": "2026-06-15"}


def test_next_due_is_derived_never_typed(db, svc):
    out = call(svc, "create_instrument", ENTERPRISE, payload=GAUGE)
    assert out["next_due"] == "2026-12-15" and out["custodian_masked"] == "李*"
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "serial": "P-002", "next_due": "2030-01-01"})
    assert "next_due" in refused.value.errors
    with pytest.raises(ValidationFailed):
        call(svc, "update_instrument", ENTERPRISE, instrument_id=out["id"], payload={"next_due": "2030-01-01"})
    changed = call(svc, "update_instrument", ENTERPRISE, instrument_id=out["id"], payload={"interval_months": 12})
    assert changed["next_due"] == "2027-06-15"
    assert ledger.add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
    with pytest.raises(Conflict):
        call(svc, "create_instrument", ENTERPRISE, payload=GAUGE)
    assert count(db, Instrument) == 1


def test_reminders_30_7_1_working_days_before_due_then_suspended(db, svc):
    out = call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "cert_date": "2026-05-20"})   # due 11-20
    due = dt.date(2026, 11, 20)
    with db.transaction() as session:
        assert ledger.sweep(session, today=dt.date(2026, 9, 1)) == {"reminded": 0, "suspended": 0}
    with db.transaction() as session:   # 31 working days before (National Day week is not counted)
        assert ledger.sweep(session, today=dt.date(2026, 10, 9))["reminded"] == 0
    with db.transaction() as session:   # 29 working days left: the 30-day reminder
        assert ledger.sweep(session, today=dt.date(2026, 10, 12))["reminded"] == 1
    with db.transaction() as session:   # the same threshold is not sent twice
        assert ledger.sweep(session, today=dt.date(2026, 10, 13))["reminded"] == 0
    with db.transaction() as session:
        assert ledger.sweep(session, today=dt.date(2026, 11, 11))["reminded"] == 1
    with db.transaction() as session:
        assert ledger.sweep(session, today=dt.date(2026, 11, 19))["reminded"] == 1
    thresholds = [e["data"]["threshold"] for e in events(db, "ledger.instrument_due")]
    assert thresholds == [30, 7, 1]
    with db.transaction() as session:
        assert ledger.sweep(session, today=due + dt.timedelta(days=1))["suspended"] == 1
    assert call(svc, "get_instrument", ENTERPRISE, instrument_id=out["id"])["status"] == "suspended"
    [overdue] = events(db, "ledger.instrument_overdue")
    assert overdue["data"]["instrument_id"] == out["id"] and "李" not in str(overdue)
    kinds = [n["kind"] for n in call(svc, "ledger_notifications", ENTERPRISE)]
    assert kinds.count("instrument_due") == 3 and kinds.count("instrument_overdue") == 1


def test_a_calibration_report_registered_for_the_instrument_updates_the_ledger(db, svc):
    out = call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "cert_date": "2025-01-10"})
    with db.transaction() as session:
        ledger.sweep(session)
    assert call(svc, "get_instrument", ENTERPRISE, instrument_id=out["id"])["status"] == "suspended"
    know(db, lab_profile(METRO_ID, kind="metrology", standards=("JJG 52-2013",), category="metrology"))
    report = call(svc, "register_report", METRO, payload=report_body(
        "JD2026-777", kind="verification", instrument_id=out["id"], standards=["JJG 52-2013"],
        test_date="2026-11-25", product="压力表"))
    assert report["scope"] == "in_scope"
    after = call(svc, "get_instrument", ENTERPRISE, instrument_id=out["id"])
    assert after["cert_number"] == "JD2026-777" and after["cert_date"] == "2026-11-25"
    assert after["next_due"] == "2027-05-25" and after["status"] == "active"
    with pytest.raises(ValidationFailed):   # not in the client's ledger
        call(svc, "register_report", METRO, payload=report_body(
            "JD2026-778", kind="calibration", instrument_id=out["id"], enterprise_id=OTHER_ENTERPRISE["user_id"]))


def test_send_for_calibration_files_one_demand_per_type(db, svc):
    call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "cert_date": "2026-06-01"})
    call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "serial": "P-002", "cert_date": "2026-06-02"})
    call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "name": "电子台秤", "serial": "S-1",
                                                         "control": "calibration", "cert_date": "2026-06-03"})
    call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "name": "温度计", "serial": "T-1",
                                                         "cert_date": "2026-11-01"})   # not due
    out = call(svc, "request_calibration", ENTERPRISE, payload={}, idempotency_key="cal-1")
    assert [(d["instrument_type"], len(d["instrument_ids"])) for d in out["demands"]] == [("压力表", 2), ("电子台秤", 1)]
    [(gauges, key), (scales, _)] = svc.published
    assert gauges["category"] == "metrology" and "P-001" in gauges["description"] and key == "cal-1:压力表"
    assert scales["title"].startswith("计量器具送校准")
    assert call(svc, "list_instruments", ENTERPRISE)["items"][0]["demand_id"] == "demand-1"
    with pytest.raises(Forbidden):
        call(svc, "request_calibration", {**ENTERPRISE, "role": "operator"}, payload={})
    with pytest.raises(ValidationFailed):   # nothing due for another enterprise: no demand filed
        call(svc, "request_calibration", OTHER_ENTERPRISE, payload={})
    assert len(svc.published) == 2


def _xlsx(rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def test_xlsx_round_trip(db, svc):
    call(svc, "create_instrument", ENTERPRISE, payload=GAUGE)
    exported = call(svc, "export_ledger", ENTERPRISE)
    assert exported["count"] == 1 and exported["filename"].endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(base64.b64decode(exported["content_base64"]))).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][2] == "出厂编号 serial" and rows[1][2] == "P-001"
    rows[1][10] = 12   # interval changed in Excel
    rows.append(["万用表", "UT39", "M-9", "", "", "实验室", "", "B", "否", "calibration", 12, None, None, None])
    out = call(svc, "import_ledger", ENTERPRISE, payload={"content_base64": _xlsx([r[:14] for r in rows])})
    assert out == {"created": 1, "updated": 1}
    items = {i["serial"]: i for i in call(svc, "list_instruments", ENTERPRISE)["items"]}
    assert items["P-001"]["next_due"] == "2027-06-15" and items["M-9"]["due_state"] == "no_certificate"


def test_a_bad_row_is_reported_by_row_and_column_and_nothing_is_written(db, svc):
    header = ["器具名称", "型号规格", "出厂编号", "ABC分类", "检定/校准", "周期(月)", "证书日期"]
    content = _xlsx([header,
                     ["压力表", "Y-100", "P-1", "A", "verification", 6, "2026-06-01"],
                     ["压力表", "Y-100", "P-2", "D", "verification", 6, "2026-06-01"],
                     ["压力表", "Y-100", "P-3", "A", "verification", "半年", "2026-06-01"],
                     ["压力表", "Y-100", "P-1", "A", "verification", 6, "2026-06-01"]])
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "import_ledger", ENTERPRISE, payload={"content_base64": content})
    errors = refused.value.errors
    assert refused.value.code == "import_rows_invalid"
    assert set(errors) == {"row 3", "row 4", "row 5"}
    assert list(errors["row 3"]) == ["D abc_class"] and list(errors["row 4"]) == ["F interval_months"]
    assert list(errors["row 5"]) == ["C serial"]
    assert count(db, Instrument) == 0
    with pytest.raises(ValidationFailed):
        call(svc, "import_ledger", ENTERPRISE, payload={"content_base64": base64.b64encode(b"not excel").decode()})
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "import_ledger", ENTERPRISE, payload={"content_base64": _xlsx([["名称"], ["x"]])})
    assert "row 1" in refused.value.errors


def test_the_ledger_is_the_enterprises_own(db, svc):
    from services.common.errors import NotFound
    out = call(svc, "create_instrument", ENTERPRISE, payload=GAUGE)
    with pytest.raises(NotFound):
        call(svc, "get_instrument", OTHER_ENTERPRISE, instrument_id=out["id"])
    assert call(svc, "list_instruments", OTHER_ENTERPRISE)["total"] == 0
    with pytest.raises(Forbidden):
        call(svc, "create_instrument", METRO, payload=GAUGE)


def test_a_certificate_dated_in_the_future_is_refused(db, svc):
    future = (ledger.local_today() + dt.timedelta(days=3)).isoformat()
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "create_instrument", ENTERPRISE, payload={**GAUGE, "cert_date": future})
    assert "cert_date" in refused.value.errors and count(db, Instrument) == 0
    content = _xlsx([["器具名称", "出厂编号", "ABC分类", "检定/校准", "周期(月)", "证书日期"],
                     ["压力表", "F-1", "A", "verification", 6, future]])
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "import_ledger", ENTERPRISE, payload={"content_base64": content})
    assert refused.value.errors == {"row 2": {"F cert_date": ["not after today / 不得晚于今天"]}}
