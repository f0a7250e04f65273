"""Standard validity lookup (5.1.1): is a standard current, replaced (by what) or withdrawn.

The table is loaded from data/standards.csv (a sample) the first time it is
needed and then kept by operators (`upsert`); a loaded row is never overwritten
by the file again, so operators' corrections survive restarts.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import NotFound, ValidationFailed

from services.common.schemas import load

from . import text
from .contract.schemas_standards import StandardQuery
from .contract.vocabulary import STANDARD_STATUSES
from .models import Standard

DATA_FILE = Path(__file__).resolve().parent / "data" / "standards.csv"
STATUSES = STANDARD_STATUSES
_YEAR = re.compile(r"-\s*(\d{4})\s*$")


def canonical_number(number: str) -> str:
    """'gb/t19001-2016' -> 'GB/T 19001-2016' (the spelling stored and shown)."""
    raw = text.normalise(number).strip().upper()
    match = text.STD_RE.fullmatch(raw)
    if not match:
        raise ValidationFailed("Not a standard number / 标准号格式无效", errors={"number": ["e.g. GB/T 19001-2016"]})
    code, kind = match.group("code"), match.group("kind").upper()
    if not kind and not match.group("slash") and len(code) > 2 and code[-1] in "TZ" and code[:2] == "GB":
        code, kind = code[:-1], code[-1]
    head = f"{code}/{kind}" if kind else code
    year = match.group("year")
    return f"{head} {match.group('number')}" + (f"-{year}" if year else "")


def ensure_loaded(session: Session, path: Path = DATA_FILE) -> int:
    """Load the shipped sample into an empty table; returns rows added."""
    if session.scalar(select(func.count()).select_from(Standard)):
        return 0
    added = 0
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            number = canonical_number(row["number"])
            session.add(Standard(number=number, key=text.standard_key(number), title=row["title"].strip(),
                                 status=row["status"].strip(), replaced_by=(row.get("replaced_by") or "").strip() or None,
                                 replaces=(row.get("replaces") or "").strip() or None, updated_by="seed",
                                 updated_at=utcnow()))
            added += 1
    session.flush()
    return added


def lookup(session: Session, number: str) -> dict:
    """All editions known for the standard, the asked edition's status, and the current edition."""
    ensure_loaded(session)
    key = text.standard_key(number)
    if not key:
        raise ValidationFailed("Not a standard number / 标准号格式无效", errors={"number": ["e.g. GB/T 19001-2016"]})
    year_match = _YEAR.search(text.normalise(number))
    editions = list(session.scalars(select(Standard).where(Standard.key == key).order_by(Standard.number.desc())))
    if not editions:
        raise NotFound(f"Standard {number} is not in the platform's list / 未收录该标准", code="standard_not_found")
    asked = None
    if year_match:
        asked = next((e for e in editions if e.number.endswith("-" + year_match.group(1))), None)
        if asked is None:
            raise NotFound(f"Edition {number} is not in the platform's list / 未收录该版本", code="standard_not_found")
    current = next((e for e in editions if e.status == "current"), None)
    subject = asked or current or editions[0]
    verdict = {"current": "现行有效 / current", "replaced": f"已被 {subject.replaced_by} 代替 / replaced",
               "withdrawn": "已废止 / withdrawn"}.get(subject.status, subject.status)
    return {"query": number, "key": key, "status": subject.status, "verdict": verdict, "standard": subject,
            "current_edition": current, "editions": editions}


def lookup_by_path(session: Session, number: str) -> dict:
    """GET /standards/<number>: the path value is checked as the query's `number` is."""
    return lookup(session, load(StandardQuery, {"number": number})["number"])


def upsert(session: Session, principal: dict, number: str, data: dict) -> Standard:
    """Operators maintain a standard's status (PUT /standards/<number>)."""
    load(StandardQuery, {"number": number})
    ensure_loaded(session)
    canonical = canonical_number(number)
    if not _YEAR.search(canonical):
        raise ValidationFailed("Give the edition year / 须含年代号", errors={"number": ["e.g. GB/T 19001-2016"]})
    if data["status"] == "replaced" and not data.get("replaced_by"):
        raise ValidationFailed("A replaced standard names its successor / 被代替须注明代替标准",
                               errors={"replaced_by": ["required when status is replaced"]})
    row = session.get(Standard, canonical)
    if row is None:
        row = Standard(number=canonical, key=text.standard_key(canonical))
        session.add(row)
    row.title = data.get("title") or row.title or ""
    row.status = data["status"]
    row.replaced_by = canonical_number(data["replaced_by"]) if data.get("replaced_by") else None
    if "replaces" in data:
        row.replaces = ";".join(canonical_number(n) for n in data["replaces"]) or None
    row.updated_by = str(principal["user_id"])
    row.updated_at = utcnow()
    session.flush()
    return row
