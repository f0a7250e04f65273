"""Delivery demo data: 50 registered reports (some superseded, one withdrawn, one expired, one flagged),
samples at every custody stage (one with exceptions), and a metrology ledger of 24 instruments for
the demo enterprise (some due within 30 working days, one overdue and suspended).

Institutions and the demo enterprise come from the registry's and identity's events (the
local copies `known_institution` and `known_account`), never from their tables: the
services must be running when this runs (deploy/demo.py runs after they start), and the
seed waits for those events (QI_DEMO_WAIT_SECONDS, default 60). Everything goes through
the domain functions, so demo records raise the same events real ones do. Idempotent.

The verification codes are deterministic (`demo_code`), so README lists them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

from sqlalchemy import func, select

from services.common import config

from . import ledger, reports, samples
from .models import Instrument, KnownAccount, KnownInstitution, Report, Sample

PREFIX = "TZDEMO-2026-"
OPERATOR = {"user_id": "system-demo", "role": "operator", "sid": None}
STATION_ID = "demo-window-1"   # the registry demo's first park station, identity's window1
STATION = {"user_id": "system-demo-station", "role": "window", "window_id": STATION_ID}
DEMO_NICKNAME = "示范企业"      # identity's ent-demo
SUPERSEDED = {47: 1, 48: 2, 49: 3, 50: 4}   # corrected report -> the one it replaces
WITHDRAWN = 10
EXPIRED = 30
FLAGGED = 20


def demo_code(number: str) -> str:
    digest = hashlib.sha256(f"qi-demo-report-code:{number}".encode()).digest()
    return "".join(reports.CODE_ALPHABET[b % len(reports.CODE_ALPHABET)] for b in digest[:reports.CODE_LENGTH])


def demo_pdf(number: str) -> bytes:
    return f"%PDF-1.4\n% QI One-Stop demo report {number} (not a real report)\n%%EOF\n".encode()


def _wait(db, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        with db.read() as session:
            labs = list(session.scalars(select(KnownInstitution).where(
                KnownInstitution.status == "active", KnownInstitution.kind.in_(("lab", "metrology")))
                .order_by(KnownInstitution.name)))
            enterprise = session.scalars(select(KnownAccount).where(KnownAccount.role == "enterprise",
                                                                    KnownAccount.nickname == DEMO_NICKNAME)).first()
            session.expunge_all()   # plain snapshots from here on (the read session rolls back)
            if len(labs) >= 4 and enterprise is not None:
                return labs, enterprise.id
        if time.monotonic() > deadline:
            return labs, enterprise.id if enterprise else None
        time.sleep(1)


def _marks(institution: KnownInstitution) -> list[str]:
    types = {q.get("type") for q in json.loads(institution.qualifications or "[]")}
    return [m for m, q in (("CMA", "CMA"), ("CNAS", "CNAS")) if q in types]


def _capability(institution: KnownInstitution) -> dict:
    caps = json.loads(institution.capabilities or "[]")
    return caps[0] if caps else {"product": "产品", "method_standard": "GB/T 2828.1-2012"}


def seed_reports(db, labs, enterprise_id) -> int:
    testing = [i for i in labs if i.kind == "lab"][:6] or labs[:6]
    added = 0
    for n in range(1, 51):
        number = f"{PREFIX}{n:04d}"
        with db.transaction() as session:
            if reports.by_number(session, number) is not None:
                continue
            institution = testing[(n - 1) % len(testing)]
            if n in SUPERSEDED:
                institution = session.get(KnownInstitution,
                                          reports.by_number(session, f"{PREFIX}{SUPERSEDED[n]:04d}").institution_id)
            cap = _capability(institution)
            test_date = dt.date(2026, 1, 6) + dt.timedelta(days=5 * n)
            valid_until = test_date.replace(year=test_date.year + 2)
            if n == EXPIRED:
                test_date, valid_until = dt.date(2024, 3, 1), dt.date(2025, 3, 1)
            pdf = demo_pdf(number)
            body = {"number": number, "institution_id": institution.id, "enterprise_id": enterprise_id,
                    "product": cap.get("product") or "产品", "item": cap.get("parameter"),
                    "standards": ["GB 9999-2099"] if n == FLAGGED else [cap.get("method_standard")],
                    "test_date": test_date, "valid_until": valid_until,
                    "conclusion": "所检项目符合标准要求" if n % 7 else "所检项目中 1 项不符合标准要求",
                    "marks": _marks(institution), "kind": "test", "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                    "supersedes": f"{PREFIX}{SUPERSEDED[n]:04d}" if n in SUPERSEDED else None}
            reports.register(session, OPERATOR, body, code=demo_code(number),
                             at=dt.datetime.combine(test_date, dt.time(2, 0)) + dt.timedelta(days=3))
            added += 1
    with db.transaction() as session:
        withdrawn = reports.by_number(session, f"{PREFIX}{WITHDRAWN:04d}")
        if withdrawn is not None and withdrawn.status == "valid":
            reports.withdraw(session, OPERATOR, withdrawn.number, {"reason": "原始记录核查发现样品编号录入错误，报告撤回"})
    return added


INSTRUMENTS = [  # name, model, range, accuracy, control, interval months, abc, compulsory
    ("压力表", "Y-100", "0-1.6 MPa", "1.6级", "verification", 6, "A", True),
    ("压力表", "Y-150", "0-2.5 MPa", "1.6级", "verification", 6, "A", True),
    ("电子台秤", "TCS-150", "0-150 kg", "III级", "verification", 12, "A", True),
    ("电子天平", "FA2004", "0-200 g", "I级", "calibration", 12, "B", False),
    ("工作用玻璃液体温度计", "0-100℃", "0-100 ℃", "1℃", "calibration", 12, "B", False),
    ("游标卡尺", "0-150mm", "0-150 mm", "0.02 mm", "calibration", 12, "B", False),
    ("外径千分尺", "0-25mm", "0-25 mm", "0.01 mm", "calibration", 12, "B", False),
    ("数字万用表", "UT61E", "0-1000 V", "0.1%", "calibration", 12, "B", False),
    ("扭矩扳手", "TW-200", "40-200 N·m", "±4%", "calibration", 12, "C", False),
    ("恒温恒湿箱", "HWS-250", "5-60 ℃", "±0.5 ℃", "calibration", 12, "B", False),
]


def seed_ledger(db, enterprise_id, metro) -> int:
    with db.read() as session:
        if session.scalar(select(func.count()).select_from(Instrument)
                          .where(Instrument.enterprise_id == enterprise_id)):
            return 0
    principal = {"user_id": enterprise_id, "role": "enterprise"}
    today = ledger.local_today()
    # Days until due: a few within 30 working days, one past due (suspended by the sweep), the rest later.
    offsets = [-3, 5, 12, 20, 35] + [60 + 11 * k for k in range(19)]
    added = 0
    for k, offset in enumerate(offsets):
        name, model, rng, accuracy, control, interval, abc, compulsory = INSTRUMENTS[k % len(INSTRUMENTS)]
        offset = min(offset, interval * 30 - 10)   # the last certificate is always in the past
        due = today + dt.timedelta(days=offset)
        cert_date = ledger.add_months(due, -interval)
        with db.transaction() as session:
            ledger.create(session, principal, {
                "name": name, "model": model, "serial": f"SF-{k + 1:04d}", "measuring_range": rng,
                "accuracy_class": accuracy, "location": ("一车间", "二车间", "质检室", "仓库")[k % 4],
                "custodian": ("张工", "李工", "王工")[k % 3], "abc_class": abc, "compulsory": compulsory,
                "control": control, "interval_months": interval, "cert_number": f"JZ{cert_date:%Y%m}{k + 1:03d}",
                "cert_institution": metro.name if metro else "泰州市计量测试院", "cert_date": cert_date})
        added += 1
    with db.transaction() as session:
        ledger.sweep(session)
    return added


def _lab_principal(institution_id):
    return {"user_id": "system-demo-lab", "role": "institution", "institution_id": institution_id}


def seed_samples(db, enterprise_id, lab_id) -> int:
    with db.read() as session:
        if session.scalar(select(func.count()).select_from(Sample).where(Sample.station_id == STATION_ID)):
            return 0
        own = [r.number for r in session.scalars(select(Report).where(
            Report.institution_id == lab_id, Report.enterprise_id == enterprise_id, Report.status == "valid")
            .order_by(Report.number))]
    lab = _lab_principal(lab_id)
    customer = {"user_id": enterprise_id, "role": "enterprise"}
    stages = ["received", "packed", "with_carrier", "accepted", "testing", "report_issued", "report_delivered",
              "returned", "disposed", "rejected"]
    made = 0
    for k, stage in enumerate(stages):
        with db.transaction() as session:
            sample = samples.receive(session, STATION, {
                "enterprise_id": enterprise_id, "institution_id": lab_id, "description": f"示范样品 {k + 1}",
                "items": [{"description": ("电线电缆 BV2.5", "塑料管材 PE100", "不锈钢餐具", "汽车零部件")[k % 4],
                           "quantity": 2 + k, "unit": "件", "condition": "intact"}],
                "place": "泰州医药高新区质量基础设施服务站"})
            made += 1
            if stage == "received":
                continue
            manifest = samples.pack(session, STATION, {"sample_ids": [sample.id], "place": "服务站样品间"})
            if stage == "packed":
                continue
            samples.carrier_receipt(session, STATION, manifest.id, {"carrier": "泰州同城物流", "seal_number": f"FZ-{k:04d}",
                                                                    "place": "服务站"})
            if stage == "with_carrier":
                continue
            if stage == "rejected":
                samples.lab_acceptance(session, lab, manifest.id, {
                    "seal_number": f"FZ-{k:04d}-X", "place": "实验室收样室",
                    "samples": [{"sample_id": sample.id, "accepted": False, "condition": "damaged",
                                 "reason": "封条破损且样品受潮，无法检测"}]})
                continue
            samples.lab_acceptance(session, lab, manifest.id, {"seal_number": f"FZ-{k:04d}", "place": "实验室收样室"})
            if stage == "accepted":
                continue
            samples.lab_step(session, lab, sample.id, {"step": "testing"})
            if stage == "testing" or not own:
                continue
            samples.lab_step(session, lab, sample.id, {"step": "report_issued", "report_number": own[k % len(own)]})
            if stage == "report_issued":
                continue
            samples.deliver_report(session, customer, sample.id, {"received_by": "王示范", "how": "pickup",
                                                                   "place": "服务站"})
            if stage == "report_delivered":
                continue
            if stage == "returned":
                samples.dispose(session, customer, sample.id, {"kind": "returned"})
            else:
                samples.dispose(session, lab, sample.id, {"kind": "disposed", "retention_rule": "留样 3 个月后销毁"})
    return made


def seed(db) -> str:
    labs, enterprise_id = _wait(db, float(config.env("QI_DEMO_WAIT_SECONDS", "60")))
    if enterprise_id is None or not labs:
        return ("skipped: the registry's institutions and identity's demo enterprise have not arrived "
                "(start the services, then run deploy.demo again)")
    metro = next((i for i in labs if i.kind == "metrology"), None)
    lab = next((i for i in labs if i.kind == "lab"), labs[0])
    added = seed_reports(db, labs, enterprise_id)
    instruments = seed_ledger(db, enterprise_id, metro)
    made = seed_samples(db, enterprise_id, lab.id)
    return f"{added} reports, {instruments} instruments, {made} samples"


def codes() -> list[tuple[str, str]]:
    return [(f"{PREFIX}{n:04d}", demo_code(f"{PREFIX}{n:04d}")) for n in range(1, 51)]


if __name__ == "__main__":
    for number, code in codes():
        print(number, code)
