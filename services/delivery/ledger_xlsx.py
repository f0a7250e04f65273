""".xlsx import and export of the metrology ledger (enterprises keep it in Excel today).

An import is all or nothing: every bad row is reported by row and column (422
`import_rows_invalid`) and nothing of that import is written; a serial already in the
ledger is updated (an exported sheet edited in Excel imports back).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import io

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import ValidationFailed

from .contract.schemas_ledger import InstrumentFields
from .ledger import COLUMNS, _enterprise, _set_fields, check_cert_date, list_instruments
from .models import Instrument

def export_xlsx(session: Session, principal: dict, enterprise_id=None) -> dict:
    from openpyxl import Workbook
    rows = list_instruments(session, principal, enterprise_id=enterprise_id, limit=100000)["items"]
    book = Workbook()
    sheet = book.active
    sheet.title = "计量器具台账"
    sheet.append([f"{zh} {name}" for name, zh in COLUMNS] + ["下次到期 next_due", "状态 status"])
    for i in rows:
        values = []
        for name, _ in COLUMNS:
            value = getattr(i, name)
            if name == "compulsory":
                value = "是" if value else "否"
            values.append(value)
        sheet.append(values + [i.next_due, i.status])
    buffer = io.BytesIO()
    book.save(buffer)
    return {"filename": "instruments.xlsx",
            "media_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "content_base64": base64.b64encode(buffer.getvalue()).decode("ascii"), "count": len(rows)}


def _header_field(cell) -> str | None:
    text = str(cell or "").strip()
    for name, zh in COLUMNS:
        if text in (name, zh, f"{zh} {name}") or text.endswith(f" {name}"):
            return name
    return None


def _cell(value):
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def import_xlsx(session: Session, principal: dict, data: dict) -> dict:
    """All rows or nothing: every bad row and column is reported (422) and nothing is written."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    enterprise_id = _enterprise(principal, data)
    try:
        book = load_workbook(io.BytesIO(base64.b64decode(data["content_base64"], validate=True)),
                             read_only=True, data_only=True)
    except (binascii.Error, ValueError, KeyError, OSError, Exception) as exc:   # not an xlsx at all
        raise ValidationFailed("The file is not an .xlsx workbook / 文件不是 .xlsx 工作簿",
                               errors={"content_base64": [type(exc).__name__]}) from None
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise ValidationFailed("The sheet is empty / 工作表为空", errors={"content_base64": ["empty"]})
    header = [_header_field(c) for c in rows[0]]
    missing = [name for name in ("name", "serial", "abc_class", "control", "interval_months") if name not in header]
    if missing:
        raise ValidationFailed("Required columns are missing / 缺少必需的列",
                               errors={"row 1": {name: ["column missing / 缺少该列"] for name in missing}})
    errors: dict = {}
    loaded = []
    seen: dict[str, int] = {}
    for number, values in enumerate(rows[1:], start=2):
        if values is None or all(v in (None, "") for v in values):
            continue
        record, columns = {}, {}
        for index, field in enumerate(header):
            if field is None or index >= len(values):
                continue
            value = _cell(values[index])
            if field == "compulsory" and isinstance(value, str):
                value = value in ("是", "Y", "y", "yes", "true", "TRUE", "1")
            if field in ("serial", "model", "cert_number", "accuracy_class", "measuring_range") \
                    and value is not None:
                value = str(value)
            if value is not None:
                record[field] = value
            columns[field] = get_column_letter(index + 1)
        try:
            row = InstrumentFields().load(record)
        except ValidationError as exc:
            errors[f"row {number}"] = {f"{columns.get(f, '?')} {f}": m for f, m in exc.normalized_messages().items()}
            continue
        try:
            check_cert_date(row)
        except ValidationFailed as exc:
            errors[f"row {number}"] = {f"{columns.get('cert_date', '?')} cert_date": exc.errors["cert_date"]}
            continue
        if row["serial"] in seen:
            errors[f"row {number}"] = {f"{columns['serial']} serial": [f"duplicate of row {seen[row['serial']]} / "
                                                                       f"与第 {seen[row['serial']]} 行重复"]}
            continue
        seen[row["serial"]] = number
        loaded.append(row)
    if errors:
        raise ValidationFailed(f"{len(errors)} rows are invalid: nothing was imported / {len(errors)} 行有误，未导入任何数据",
                               code="import_rows_invalid", errors=errors)
    created = updated = 0
    for row in loaded:
        existing = session.scalars(select(Instrument).where(Instrument.enterprise_id == enterprise_id,
                                                            Instrument.serial == row["serial"])).first()
        if existing is None:
            instrument = Instrument(enterprise_id=enterprise_id, status="active", reminders_sent="[]",
                                    created_at=utcnow())
            _set_fields(instrument, row)
            session.add(instrument)
            created += 1
        else:
            _set_fields(existing, row)
            updated += 1
    session.flush()
    return {"created": created, "updated": updated}
