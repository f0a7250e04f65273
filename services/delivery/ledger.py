"""The metrology ledger (5.2.3): an enterprise's measuring instruments and their cycles.

The next due date is always derived, `last certificate date + interval`, never typed in.
A daily sweep reminds 30, 7 and 1 working days before due (a notification and
`ledger.instrument_due`), and suspends (停用) an instrument past due
(`ledger.instrument_overdue`). A calibration or verification certificate registered in the
report registry for an instrument updates it by itself (`apply_certificate`, in the
registering transaction). "Send for calibration" files demands in matching, one per
instrument type. The ledger imports and exports .xlsx (`ledger_xlsx`); an import with a bad row writes
nothing and names every bad row and column.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import OrderedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import pii, workdays
from services.common.db import utcnow
from services.common.errors import CalendarYearMissing, Conflict, Forbidden, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import access
from .contract.vocabulary import REMINDER_DAYS
from .models import Instrument, Notification

SOURCE = "delivery"
# Columns of the spreadsheet: field, Chinese header.
COLUMNS = (("name", "器具名称"), ("model", "型号规格"), ("serial", "出厂编号"), ("measuring_range", "测量范围"),
           ("accuracy_class", "准确度等级"), ("location", "使用地点"), ("custodian", "保管人"),
           ("abc_class", "ABC分类"), ("compulsory", "强检"), ("control", "检定/校准"),
           ("interval_months", "周期(月)"), ("cert_number", "证书编号"), ("cert_institution", "检定/校准机构"),
           ("cert_date", "证书日期"))
EDITABLE = tuple(name for name, _ in COLUMNS)


def local_today() -> dt.date:
    return (utcnow() + dt.timedelta(hours=8)).date()


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due(cert_date: dt.date | None, interval_months: int) -> dt.date | None:
    return add_months(cert_date, interval_months) if cert_date else None


def working_days_left(today: dt.date, due: dt.date) -> tuple[int, bool]:
    """(working days from today to due, estimated?): weekdays when the calendar lacks a year."""
    try:
        return workdays.working_days_between(today, due), False
    except CalendarYearMissing:
        sign, first, last = (1, today, due) if due >= today else (-1, due, today)
        days = sum(1 for i in range(1, (last - first).days + 1) if (first + dt.timedelta(days=i)).weekday() < 5)
        return sign * days, True


def _enterprise(principal: dict, data: dict | None = None) -> str:
    if principal.get("role") == "enterprise":
        return str(principal["user_id"])
    if access.is_operator(principal) and data and data.get("enterprise_id"):
        return str(data["enterprise_id"])
    raise Forbidden("The ledger is the enterprise's own / 计量台账仅限企业本人维护")


def _annotate(instrument: Instrument, today: dt.date | None = None) -> Instrument:
    today = today or local_today()
    if instrument.next_due is None:
        instrument.due_state, instrument.working_days_left, instrument.calendar_estimate = "no_certificate", None, False
        return instrument
    left, estimate = working_days_left(today, instrument.next_due)
    instrument.working_days_left, instrument.calendar_estimate = left, estimate
    if instrument.next_due < today:
        instrument.due_state = "overdue"
    elif left <= REMINDER_DAYS[0]:
        instrument.due_state = "due_soon"
    else:
        instrument.due_state = "on_track"
    return instrument


def _set_fields(instrument: Instrument, data: dict) -> None:
    for name in EDITABLE:
        if name in data and name != "custodian":
            setattr(instrument, name, data[name] if data[name] is not None or name.startswith("cert_") else "")
    if "custodian" in data:
        instrument.custodian = data["custodian"] or None
        instrument.custodian_masked = pii.mask_name(data["custodian"]) if data["custodian"] else None
    due = next_due(instrument.cert_date, instrument.interval_months)
    if due != instrument.next_due:
        instrument.next_due = due
        instrument.reminders_sent = "[]"
        if due is not None and due >= local_today():
            instrument.status = "active"
    instrument.updated_at = utcnow()


def check_cert_date(data: dict) -> None:
    """A certificate is dated in the past (today at the latest): the due date follows from it."""
    if data.get("cert_date") and data["cert_date"] > local_today():
        raise ValidationFailed("The certificate date is in the future / 证书日期晚于今天",
                               errors={"cert_date": ["not after today / 不得晚于今天"]})


def _serial_taken(session, enterprise_id: str, serial: str, other_than: str | None = None) -> bool:
    query = select(func.count()).select_from(Instrument).where(Instrument.enterprise_id == enterprise_id,
                                                                 Instrument.serial == serial)
    if other_than:
        query = query.where(Instrument.id != other_than)
    return session.scalar(query) > 0


def create(session: Session, principal: dict, data: dict) -> Instrument:
    enterprise_id = _enterprise(principal, data)
    check_cert_date(data)
    if _serial_taken(session, enterprise_id, data["serial"]):
        raise Conflict(f"Serial {data['serial']} is in the ledger already / 出厂编号已在台账中",
                       code="instrument_serial_taken")
    instrument = Instrument(enterprise_id=enterprise_id, status="active", reminders_sent="[]", created_at=utcnow())
    _set_fields(instrument, data)
    session.add(instrument)
    session.flush()
    return _annotate(instrument)


def _get(session: Session, principal: dict, instrument_id: str, lock: bool = False) -> Instrument:
    instrument = session.get(Instrument, str(instrument_id), with_for_update=lock)
    if instrument is None or not (access.is_staff_reader(principal)
                                  or str(principal.get("user_id")) == instrument.enterprise_id):
        raise access.not_found("instrument", "计量器具", "instrument_not_found")
    return instrument


def get(session: Session, principal: dict, instrument_id: str) -> Instrument:
    return _annotate(_get(session, principal, instrument_id))


def update(session: Session, principal: dict, instrument_id: str, data: dict) -> Instrument:
    instrument = _get(session, principal, instrument_id, lock=True)
    if principal.get("role") != "enterprise" and not access.is_operator(principal):
        raise Forbidden("The ledger is the enterprise's own / 计量台账仅限企业本人维护")
    check_cert_date(data)
    if "serial" in data and _serial_taken(session, instrument.enterprise_id, data["serial"], other_than=instrument.id):
        raise Conflict(f"Serial {data['serial']} is in the ledger already / 出厂编号已在台账中",
                       code="instrument_serial_taken")
    _set_fields(instrument, data)
    return _annotate(instrument)


def list_instruments(session: Session, principal: dict, enterprise_id=None, due_within=None, status=None,
                     limit: int = 200, offset: int = 0) -> dict:
    query = select(Instrument)
    if access.is_staff_reader(principal):
        if enterprise_id:
            query = query.where(Instrument.enterprise_id == enterprise_id)
    else:
        query = query.where(Instrument.enterprise_id == str(principal["user_id"]))
    if status:
        query = query.where(Instrument.status == status)
    rows = [_annotate(i) for i in session.scalars(query.order_by(Instrument.next_due.is_(None), Instrument.next_due,
                                                                 Instrument.serial))]
    if due_within is not None:
        rows = [i for i in rows if i.working_days_left is not None and i.working_days_left <= due_within]
    return {"items": rows[offset:offset + limit], "total": len(rows)}


# -- certificates from the report registry -------------------------------------------------------
def instrument_for_certificate(session: Session, instrument_id: str, enterprise_id: str) -> Instrument:
    instrument = session.get(Instrument, str(instrument_id), with_for_update=True)
    if instrument is None or instrument.enterprise_id != str(enterprise_id):
        raise ValidationFailed("instrument_id is not in the client enterprise's ledger / 该器具不在委托企业的台账中",
                               errors={"instrument_id": ["not in the enterprise's ledger"]})
    return instrument


def apply_certificate(session: Session, instrument: Instrument, report, at: dt.datetime | None = None) -> None:
    """A calibration/verification report registered for the instrument is its new last certificate."""
    if instrument.cert_date is not None and report.test_date < instrument.cert_date:
        return   # an older certificate registered late changes nothing
    _set_fields(instrument, {"cert_number": report.number, "cert_institution": report.institution_name or
                             report.institution_id, "cert_date": report.test_date})
    if instrument.next_due and instrument.next_due >= local_today():
        instrument.status = "active"


# -- reminders and suspension -------------------------------------------------------------------------
def sweep(session: Session, today: dt.date | None = None, at: dt.datetime | None = None) -> dict:
    """Remind 30/7/1 working days before due; suspend what is past due. Idempotent per due date."""
    today = today or local_today()
    at = at or utcnow()
    reminded = suspended = 0
    for instrument in session.scalars(select(Instrument).where(Instrument.status == "active",
                                                                Instrument.next_due.isnot(None))
                                      .with_for_update()):
        due = instrument.next_due
        if due < today:
            instrument.status = "suspended"
            instrument.updated_at = at
            record_event(session, SOURCE, "ledger.instrument_overdue", instrument.id, {
                "instrument_id": instrument.id, "enterprise_id": instrument.enterprise_id,
                "next_due": due.isoformat(), "suspended_at": iso_utc(at), "compulsory": instrument.compulsory})
            session.add(Notification(kind="instrument_overdue", account_id=instrument.enterprise_id,
                                     subject_id=instrument.id, created_at=at,
                                     text_zh=f"计量器具 {instrument.name}（{instrument.serial}）已超过有效期 {due}，已停用",
                                     text_en=f"Instrument {instrument.name} ({instrument.serial}) is past due "
                                             f"({due}) and suspended"))
            suspended += 1
            continue
        left, _estimate = working_days_left(today, due)
        sent = json.loads(instrument.reminders_sent or "[]")
        reached = [t for t in REMINDER_DAYS if left <= t and t not in sent]
        if not reached:
            continue
        threshold = min(reached)
        instrument.reminders_sent = json.dumps(sorted(set(sent) | set(reached), reverse=True))
        record_event(session, SOURCE, "ledger.instrument_due", instrument.id, {
            "instrument_id": instrument.id, "enterprise_id": instrument.enterprise_id, "next_due": due.isoformat(),
            "working_days_left": left, "threshold": threshold, "compulsory": instrument.compulsory})
        session.add(Notification(kind="instrument_due", account_id=instrument.enterprise_id, subject_id=instrument.id,
                                 created_at=at,
                                 text_zh=f"计量器具 {instrument.name}（{instrument.serial}）将于 {due} 到期，"
                                         f"还有 {left} 个工作日，请及时送检",
                                 text_en=f"Instrument {instrument.name} ({instrument.serial}) is due on {due}, "
                                         f"{left} working days left"))
        reminded += 1
    return {"reminded": reminded, "suspended": suspended}


def notifications(session: Session, principal: dict, limit: int = 50) -> list:
    return list(session.scalars(select(Notification).where(Notification.account_id == str(principal["user_id"]))
                                .order_by(Notification.created_at.desc()).limit(limit)))


# -- send for calibration -------------------------------------------------------------------------------
def request_calibration(session: Session, principal: dict, data: dict, publish_demand,
                        idempotency_key: str | None = None) -> dict:
    """One matching demand per instrument type (name) for the chosen, or all due, instruments."""
    if principal.get("role") != "enterprise":
        raise Forbidden("An enterprise sends its own instruments / 仅企业可送检本企业器具")
    enterprise_id = str(principal["user_id"])
    if data.get("instrument_ids"):
        chosen, unknown = [], []
        for instrument_id in dict.fromkeys(data["instrument_ids"]):
            row = session.get(Instrument, str(instrument_id))
            if row is None or row.enterprise_id != enterprise_id:
                unknown.append(instrument_id)
            else:
                chosen.append(_annotate(row))
        if unknown:
            raise ValidationFailed("Unknown instruments / 器具不存在", errors={"instrument_ids": unknown})
    else:
        chosen = [i for i in list_instruments(session, principal, limit=10000)["items"]
                  if i.due_state in ("due_soon", "overdue")]
    if not chosen:
        raise ValidationFailed("No instrument is due / 没有需要送检的器具", errors={"instrument_ids": ["none due"]})
    bundles: OrderedDict[str, list[Instrument]] = OrderedDict()
    for instrument in chosen:
        bundles.setdefault(instrument.name, []).append(instrument)
    out = []
    for name, members in bundles.items():
        serials = "、".join(f"{i.model} {i.serial}".strip() for i in members)
        control = "检定" if any(i.control == "verification" for i in members) else "校准"
        payload = {"title": f"计量器具送{control}：{name} ×{len(members)}"[:200],
                   "description": (f"{data.get('note') or ''}\n器具：{serials}").strip()[:4000],
                   "category": "metrology", "product": name[:200], "item_code": "met.calibration"}
        key = f"{idempotency_key}:{name}" if idempotency_key else None
        demand = publish_demand(payload, key)
        for instrument in members:
            instrument.demand_id = str(demand.get("id"))
            instrument.updated_at = utcnow()
        out.append({"demand_id": str(demand.get("id")), "instrument_type": name,
                    "instrument_ids": [i.id for i in members]})
    return {"demands": out}
