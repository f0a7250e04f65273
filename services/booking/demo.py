"""Booking demo data: 24 shared instruments of 8 registry-demo institutions at 3 park stations (and at
the institutions), with rules, price groups and a blackout; bookings in several states; window
appointment slots for the next 10 working days.

The institutions are the registry demo's: the same deterministic ids (uuid5 of the USCC, see
services/registry/demo.py) and names. Booking learns institutions from registry events; so that the
demo does not depend on the order in which the relay delivers them, it writes the same ids into its
local copy first (revision 0), and the registry's institution.approved events then refresh them.
Idempotent: nothing is added when instruments exist.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from stdnum.cn import uscc as uscc_check

from services.common import workdays
from services.common.db import Database, utcnow

from . import appointments, bookings, institutions, instruments, links
from . import rules as engine
from .models import Instrument

NAMESPACE = uuid.UUID("6f1d0c52-52a4-4e5e-9d0b-2b9f2f0a7c11")   # services/registry/demo.py
SYSTEM = {"user_id": "system-demo", "role": "operator"}
STATIONS = {"泰州医药高新区": "demo-window-1", "海陵工业园区": "ps-hlgy", "姜堰经济开发区": "ps-jyjk"}
WINDOW_ITEMS = {"demo-window-1": ["tst.matching", "met.calibration", "ip.filing", "std.lookup"],
                "ps-hlgy": ["tst.matching", "qm.diagnosis", "brand.trademark"],
                "ps-jyjk": ["met.ledger", "tst.matching", "ip.pledge_financing"],
                "iw-tzzj": ["tst.matching"]}
DEMO_USERS = ("demo-enterprise-a", "demo-enterprise-b", "demo-enterprise-c")


def _uscc(n: int) -> str:
    body = f"12321200MB{n:07d}"[:17]
    return body + uscc_check.calc_check_digit(body)


def institution_id(n: int) -> str:
    """The registry demo's id of its n-th institution (0-based, in its order)."""
    return str(uuid.uuid5(NAMESPACE, _uscc(n + 1)))


# (registry demo index, name, park)
INSTITUTIONS = [
    (0, "泰州市产品质量监督检验所", "海陵工业园区"),
    (1, "泰州市计量测试院", None),
    (4, "泰州医药检测技术有限公司", "泰州医药高新区"),
    (12, "姜堰区检验检测中心", "姜堰经济开发区"),
    (13, "泰州高港电线电缆检测站", None),
    (15, "泰州医药高新区药包材检测中心", "泰州医药高新区"),
    (17, "泰州特种设备检测研究院", None),
    (23, "泰州华测校准技术有限公司", "泰州医药高新区"),
]
WEEKDAYS = {str(d): [["08:30", "12:00"], ["13:30", "17:30"]] for d in range(1, 6)}
LONG_DAYS = {str(d): [["08:00", "20:00"]] for d in range(1, 6)}

# (institution index in INSTITUTIONS, name, category, model, maker, standard, station park, rate, rules)
INSTRUMENTS = [
    (0, "三坐标测量机", "testing", "Global S 07.10.07", "海克斯康", "GB/T 16857.2-2017", "海陵工业园区", "300", {}),
    (0, "万能材料试验机", "testing", "WDW-100", "济南试金", "GB/T 228.1-2021", "海陵工业园区", "200",
     {"qualification_required": True, "operator_assisted": True}),
    (0, "EMC 电波暗室", "testing", "3m 法", "常州三维", "GB/T 17626.3-2023", None, "1200",
     {"slot_minutes": 60, "min_minutes": 120, "buffer_minutes": 30, "approval_required": True}),
    (0, "盐雾试验箱", "testing", "YWX-750", "无锡苏南", "GB/T 10125-2021", "海陵工业园区", "60",
     {"slot_minutes": 60, "min_minutes": 240, "max_minutes": 600, "opening_hours": LONG_DAYS}),
    (1, "活塞式压力计", "metrology", "YS-600", "西安仪表", "JJG 59-2022", None, "80", {"approval_required": False}),
    (1, "恒温油槽", "metrology", "HWY-300", "北京康斯特", "JJF 1030-2023", None, "50", {}),
    (1, "电子天平（E2 级）", "metrology", "XPR205", "梅特勒-托利多", "JJG 1036-2022", None, "40",
     {"approval_required": False}),
    (2, "ICP-MS 电感耦合等离子体质谱仪", "testing", "7900", "安捷伦", "GB 5009.268-2016", "泰州医药高新区", "800",
     {"qualification_required": True, "operator_assisted": True, "weekly_limit_minutes": 480,
      "qualification_code": "icpms-operation", "qualification_months": 12}),
    (2, "高效液相色谱仪", "testing", "1260 Infinity II", "安捷伦", "中国药典 2020 四部 0512", "泰州医药高新区", "300",
     {"qualification_required": True, "operator_assisted": True, "qualification_code": "hplc-operation",
      "qualification_expiry": "idle_days", "qualification_idle_days": 90}),
    (2, "洁净工作台", "testing", "SW-CJ-2FD", "苏州安泰", "GB 50591-2010", "泰州医药高新区", "30",
     {"approval_required": False}),
    (3, "盐雾腐蚀试验箱（中性/CASS）", "testing", "SH-90", "上海林频", "GB/T 10125-2021", "姜堰经济开发区", "70",
     {"slot_minutes": 60, "min_minutes": 240, "max_minutes": 600, "opening_hours": LONG_DAYS}),
    (3, "高低温交变湿热试验箱", "testing", "GDJS-500", "上海林频", "GB/T 2423.4-2008", "姜堰经济开发区", "90",
     {"slot_minutes": 60, "min_minutes": 240, "max_minutes": 600, "opening_hours": LONG_DAYS}),
    (3, "振动试验台", "testing", "ES-10", "苏州东菱", "GB/T 2423.10-2019", "姜堰经济开发区", "260", {}),
    (4, "导体电阻测试仪", "testing", "DR-3", "上海精科", "GB/T 3956-2008", None, "50", {}),
    (4, "电缆耐压试验装置", "testing", "YD-50", "扬州华电", "GB/T 3048.8-2007", None, "150",
     {"qualification_required": True}),
    (5, "药用玻璃耐水性测定仪", "testing", "NS-121", "天津天大", "YBB 00362004-2015", "泰州医药高新区", "90", {}),
    (5, "紫外可见分光光度计", "testing", "UV-2600i", "岛津", "中国药典 2020 四部 0401", "泰州医药高新区", "120", {}),
    (5, "气相色谱仪", "testing", "GC-2030", "岛津", "GB/T 30431-2020", "泰州医药高新区", "280",
     {"operator_assisted": True, "qualification_required": True}),
    (6, "超声波探伤仪", "testing", "CTS-9006", "汕头超声", "NB/T 47013.3-2015", None, "120", {}),
    (6, "X 射线实时成像系统", "testing", "XYG-3205", "丹东华日", "NB/T 47013.2-2015", None, "600",
     {"qualification_required": True, "operator_assisted": True, "min_minutes": 120}),
    (6, "便携式硬度计", "testing", "TH-170", "北京时代", "GB/T 17394.1-2014", None, "40", {"approval_required": False}),
    (7, "恒温恒湿箱校准系统", "metrology", "KTS-1000", "北京康斯特", "JJF 1101-2019", "泰州医药高新区", "150", {}),
    (7, "多功能校准器", "metrology", "5522A", "福禄克", "JJF 1587-2016", "泰州医药高新区", "110", {}),
    (7, "温湿度巡检仪", "metrology", "RX-8000", "中电科", "JJF 1171-2007", "泰州医药高新区", "45",
     {"approval_required": False}),
]


def _payload(inst_no, name, category, model, maker, standard, park, rate, extra):
    rules = {"notice_working_days": 1, "horizon_working_days": 20, "slot_minutes": 30, "min_minutes": 60,
             "max_minutes": 240, "buffer_minutes": 0, "weekly_limit_minutes": None, "approval_required": True,
             "qualification_required": False, "operator_assisted": False, "opening_hours": WEEKDAYS,
             "calibration_due": None, "minimum_charge": f"{max(50, int(rate) // 2)}.00", "cancel_deadline_hours": 24,
             "no_show_minutes": 15, **extra}
    _, inst_name, inst_park = INSTITUTIONS[inst_no]
    return {"institution_id": institution_id(INSTITUTIONS[inst_no][0]), "name": name, "category": category,
            "model": model, "maker": maker, "specifications": {"型号": model}, "capability_ids": [],
            "standards": [standard], "station_window_id": STATIONS.get(park) if park else None,
            "park": park or inst_park, "location": f"{park}服务站共享实验室" if park else f"{inst_name}实验楼",
            "photo_url": None, "rules": rules,
            "prices": [{"price_group": "enterprise", "hourly_rate": f"{rate}.00"},
                       {"price_group": "park_member", "hourly_rate": f"{int(int(rate) * 0.8)}.00"},
                       {"price_group": "internal", "hourly_rate": f"{int(int(rate) * 0.5)}.00"}]}


def _at(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=engine.SHANGHAI)


def seed(db: Database) -> dict:
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(Instrument)):
            return {"instruments": 0, "note": "already seeded"}
        for n, name, park in INSTITUTIONS:
            institutions.upsert_known(session, institution_id(n), name, park=park, kind="lab")
    made = []
    with db.transaction() as session:
        for spec in INSTRUMENTS:
            made.append(instruments.publish(session, SYSTEM, _payload(*spec)))
    now = utcnow()
    today = workdays.local_date(now)
    summary = {"instruments": len(made), "institutions": len(INSTITUTIONS), "bookings": 0, "appointment_slots": 0}
    try:
        soon = workdays.add_working_days(today, 2)
        later = workdays.add_working_days(today, 3)
    except Exception:   # the calendar lacks next year's notice: no dated demo rows
        return summary
    with db.transaction() as session:
        ems = made[2]["id"]
        instruments.add_blackout(session, SYSTEM, made[0]["id"], {
            "kind": "calibration", "starts_at": _at(later, 8), "ends_at": _at(later, 18),
            "reason": "年度校准 / annual calibration"})
        instruments.add_blackout(session, SYSTEM, ems, {
            "kind": "maintenance", "starts_at": _at(soon, 13, 30), "ends_at": _at(soon, 17, 30),
            "reason": "暗室吸波材料检修 / absorber maintenance"})
    user = {"user_id": DEMO_USERS[0], "role": "enterprise"}
    other = {"user_id": DEMO_USERS[1], "role": "enterprise"}

    def req(session, who, inst, day, start, end, at=None, **extra):
        return bookings.request_booking(session, who, {"instrument_id": inst["id"], "starts_at": _at(day, *start),
                                                       "ends_at": _at(day, *end), "mode": extra.get("mode", "self"),
                                                       "price_group": extra.get("group", "enterprise"),
                                                       "purpose": "演示数据 / demo"}, now=at)
    with db.transaction() as session:
        req(session, user, made[0], soon, (9, 0), (11, 0))                                       # requested
        b = req(session, other, made[3], soon, (9, 0), (13, 0), group="park_member")
        bookings.approve(session, SYSTEM, b["id"], {})                                           # confirmed
        req(session, user, made[7], later, (14, 0), (16, 0), mode="assisted")                    # requested
        summary["bookings"] += 3
    # A past booking used and settled, and one cancelled: played at past moments.
    past_now = now - dt.timedelta(days=14)
    try:
        past_day = workdays.add_working_days(workdays.local_date(past_now), 2)
        with db.transaction() as session:
            b = req(session, user, made[1], past_day, (9, 0), (11, 0), at=past_now, mode="assisted")
            bookings.approve(session, SYSTEM, b["id"], {}, now=past_now)
            start = _at(past_day, 9).astimezone(dt.timezone.utc).replace(tzinfo=None)
            bookings.check_in(session, SYSTEM, b["id"], {}, now=start)
            bookings.complete(session, SYSTEM, b["id"], {"actual_start": _at(past_day, 9, 5),
                                                         "actual_end": _at(past_day, 10, 40)},
                              now=start + dt.timedelta(hours=3))
            fee = bookings.get_row(session, b["id"]).fee
            bookings.settle(session, SYSTEM, b["id"], {"payment_source": "innovation_voucher", "amount": fee,
                                                      "voucher_number": "TZCXQ-2026-00017"},
                            now=start + dt.timedelta(days=1))
            c = req(session, other, made[5], past_day, (14, 0), (15, 0), at=past_now)
            bookings.cancel(session, other, c["id"], {"reason": "计划调整"}, now=past_now + dt.timedelta(hours=1))
            summary["bookings"] += 2
    except Exception:   # a past date the calendar cannot judge: skip the history rows
        pass
    with db.transaction() as session:
        for k in range(1, 11):
            day = workdays.add_working_days(today, k)
            for window_id, items in WINDOW_ITEMS.items():
                # Demo bootstrap, like the institutions: the registry's window.services_changed refreshes it.
                links.set_window(session, window_id, items)
                out = appointments.publish_slots(session, SYSTEM, {
                    "window_id": window_id, "date": day, "times": ["09:00", "10:00", "14:00", "15:30"],
                    "minutes": 30 if window_id != "iw-tzzj" else 60, "capacity": 3, "service_items": items})
                summary["appointment_slots"] += len(out)
    return summary


def main() -> None:
    from services.common.db import engine_for

    print(seed(Database(engine_for("booking"))))


if __name__ == "__main__":
    main()
