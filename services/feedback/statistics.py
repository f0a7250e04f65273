"""Quarterly statistics (7.1.3, 7.1.1): per window, per institution and for the platform.

Figures of a quarter (Asia/Shanghai calendar quarter) over the evaluations whose
service finished in it:

    participation rate = evaluated / services finished
        (an invitation that expired unanswered counts as finished, not evaluated)
    satisfaction rate  = (非常满意 + 满意 + 基本满意) / evaluated
        (evaluated = submitted ratings, without those overturned on appeal)

On-time rate per SLA rule: the verdicts of every service's SLA clocks that stopped
in the quarter, met / (met + breached), from `sla.clock_closed` (service_figures);
instrument hours (booked vs used) from `booking.completed`. A quarter cannot
be published while a dissatisfied item lacks its cause analysis (recorded when
the rectification is verified). Publishing stores the figures as published (the
public page never recomputes them), records `statistics.published` and one
`institution.rated` per institution (what matching's ranking reads).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import Conflict, NotFound
from services.common.outbox import record_event
from services.common.workdays import SHANGHAI

from . import service_figures
from .common import SOURCE, iso, now
from .contract.schemas_statistics import CSV, XLSX
from .contract.vocabulary import DIMENSIONS, DISSATISFIED, RATINGS, SATISFIED, SCORE
from .models import Complaint, Evaluation, InstitutionName, Rectification, StatisticsPublication

EXCLUDED_RULES = service_figures.EXCLUDED_RULES
FORMULA = {
    "satisfaction_rate_zh": "满意率 =（非常满意 + 满意 + 基本满意）÷ 有效评价数（不含申诉成立的评价）",
    "satisfaction_rate_en": "Satisfaction rate = (very satisfied + satisfied + basically satisfied) ÷ valid "
                            "evaluations (excluding those overturned on appeal)",
    "participation_rate_zh": "参评率 = 已评价数 ÷ 办结服务数（逾期未评价计入办结服务数）",
    "participation_rate_en": "Participation rate = evaluated ÷ services finished (unanswered invitations count "
                             "as finished, not evaluated)",
    "on_time_rate_zh": "按时率 = 按时完成的时限数 ÷（按时 + 超时）",
    "on_time_rate_en": "On-time rate = clocks met ÷ (met + breached)",
    "instrument_hours_zh": "仪器机时：本季度开始的已完成预约，预约机时与实际使用机时",
    "instrument_hours_en": "Instrument hours: completed bookings whose slot started in the quarter, booked vs used",
}


def period_of(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


def quarter_of(moment: dt.datetime) -> tuple[int, int]:
    local = moment.replace(tzinfo=dt.timezone.utc).astimezone(SHANGHAI)
    return local.year, (local.month - 1) // 3 + 1


def window(year: int, quarter: int) -> tuple[dt.datetime, dt.datetime]:
    start_local = dt.datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=SHANGHAI)
    end_local = dt.datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1, tzinfo=SHANGHAI)
    to_utc = lambda m: m.astimezone(dt.timezone.utc).replace(tzinfo=None)  # noqa: E731
    return to_utc(start_local), to_utc(end_local)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def figures(evaluations: list[Evaluation]) -> dict:
    finished = len(evaluations)
    valid = [e for e in evaluations if e.state == "submitted" and not e.overturned]
    satisfied = sum(1 for e in valid if e.overall in SATISFIED)
    by_rating = {r: sum(1 for e in valid if e.overall == r) for r in RATINGS}
    dims = {}
    for d in DIMENSIONS:
        scores = [SCORE[getattr(e, d)] for e in valid if getattr(e, d)]
        dims[d] = round(sum(scores) / len(scores), 3) if scores else None
    return {
        "services_finished": finished,
        "evaluations": len(valid),
        "not_evaluated": sum(1 for e in evaluations if e.state == "expired"),
        "pending": sum(1 for e in evaluations if e.state == "invited"),
        "overturned": sum(1 for e in evaluations if e.overturned),
        "staff_entered": sum(1 for e in valid if e.channel in ("phone", "sms")),
        "participation_rate": _rate(sum(1 for e in evaluations if e.state == "submitted"), finished),
        "satisfaction_rate": _rate(satisfied, len(valid)),
        "dissatisfied": sum(1 for e in valid if e.overall in DISSATISFIED),
        "by_rating": by_rating,
        "dimension_scores": dims,
    }


def on_time(session: Session, start: dt.datetime, end: dt.datetime, institution_id: str | None = None) -> list[dict]:
    """Per SLA rule, the verdicts of every service's clocks stopped in [start, end) (service_figures)."""
    verdicts = service_figures.verdicts_in(session, start, end)
    if institution_id:
        verdicts = [v for v in verdicts if v.institution_id == institution_id]
    return service_figures.on_time_rows(verdicts)


_overall_on_time = service_figures.overall_on_time


def compute(session: Session, year: int, quarter: int) -> dict:
    start, end = window(year, quarter)
    evaluations = list(session.scalars(select(Evaluation).where(Evaluation.finished_at >= start,
                                                                Evaluation.finished_at < end)))
    cases = {r.evaluation_id: r for r in session.scalars(select(Rectification).where(
        Rectification.evaluation_id.in_([e.id for e in evaluations] or [""])))}
    dissatisfied = []
    for e in evaluations:
        if e.state == "submitted" and e.overall in DISSATISFIED:
            case = cases.get(e.id)
            dissatisfied.append({"evaluation_id": e.id, "institution_id": e.institution_id, "window_id": e.window_id,
                                 "overall": e.overall, "overturned": e.overturned,
                                 "overturn_reason": e.overturn_reason,
                                 "rectification_id": case.id if case else None,
                                 "rectification_state": case.state if case else None,
                                 "has_cause_analysis": bool(case and case.cause_analysis),
                                 "cause_analysis": case.cause_analysis if case else None})
    complaints = list(session.scalars(select(Complaint).where(Complaint.created_at >= start,
                                                              Complaint.created_at < end,
                                                              Complaint.state != "merged")))
    by_type: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    for c in complaints:
        by_type[c.type] = by_type.get(c.type, 0) + 1
        key = c.outcome or ("open" if c.state != "closed" else "none")
        by_outcome[key] = by_outcome.get(key, 0) + 1
    rects = list(cases.values())
    verdicts = service_figures.verdicts_in(session, start, end)
    platform_on_time = service_figures.on_time_rows(verdicts)
    hours = service_figures.instrument_hours(session, start, end)
    institutions = []
    # Every institution with a figure: evaluated services, judged clocks or booked instruments.
    ids = sorted({e.institution_id for e in evaluations if e.institution_id}
                 | {v.institution_id for v in verdicts if v.institution_id} | set(hours["institutions"]))
    names = dict(session.execute(select(InstitutionName.id, InstitutionName.name)
                                 .where(InstitutionName.id.in_(ids or [""]))).all())
    for inst in ids:
        rows = service_figures.on_time_rows([v for v in verdicts if v.institution_id == inst])
        institutions.append({"institution_id": inst, "institution_name": names.get(inst),
                             **figures([e for e in evaluations if e.institution_id == inst]),
                             "on_time": rows, "on_time_rate": _overall_on_time(rows),
                             "instrument_hours": hours["institutions"].get(inst) or service_figures.hours_of([])})
    windows = []
    for w in sorted({e.window_id for e in evaluations if e.window_id} | {v.window_id for v in verdicts if v.window_id}):
        rows = service_figures.on_time_rows([v for v in verdicts if v.window_id == w])
        windows.append({"window_id": w, **figures([e for e in evaluations if e.window_id == w]),
                        "on_time": rows, "on_time_rate": _overall_on_time(rows)})
    return {
        "year": year, "quarter": quarter, "period": period_of(year, quarter),
        "starts_at": iso(start), "ends_at": iso(end), "formula": FORMULA,
        "platform": {**figures(evaluations), "on_time": platform_on_time,
                     "on_time_rate": _overall_on_time(platform_on_time), "instrument_hours": hours["platform"]},
        "institutions": institutions, "windows": windows,
        "dissatisfied_items": dissatisfied,
        "missing_cause_analysis": sum(1 for d in dissatisfied if not d["overturned"] and not d["has_cause_analysis"]),
        "complaints": {"total": len(complaints), "by_type": by_type, "by_outcome": by_outcome},
        "rectifications": {"opened": len(rects),
                           "open": sum(1 for r in rects if r.state not in ("closed", "overturned")),
                           "closed": sum(1 for r in rects if r.state == "closed"),
                           "rechecked": sum(1 for r in rects if r.rechecked_at is not None),
                           "overturned": sum(1 for r in rects if r.state == "overturned")},
        "published": False, "published_at": None,
    }


def preview(session: Session, year: int, quarter: int) -> dict:
    body = compute(session, year, quarter)
    found = _publication(session, year, quarter)
    if found is not None:
        body["published"], body["published_at"] = True, iso(found.published_at)
    return body


def _publication(session: Session, year: int, quarter: int) -> StatisticsPublication | None:
    return session.scalars(select(StatisticsPublication).where(StatisticsPublication.year == year,
                                                               StatisticsPublication.quarter == quarter)).first()


def publish(session: Session, principal: dict, data: dict) -> dict:
    year, quarter = data["year"], data["quarter"]
    if _publication(session, year, quarter) is not None:
        raise Conflict("This quarter is published already / 该季度已公示", code="statistics_published")
    body = compute(session, year, quarter)
    if body["missing_cause_analysis"]:
        raise Conflict(f"{body['missing_cause_analysis']} dissatisfied item(s) lack a cause analysis / "
                       f"{body['missing_cause_analysis']} 条差评尚无原因分析，不能公示", code="cause_analysis_missing")
    at = now()
    body["published"], body["published_at"] = True, iso(at)
    session.add(StatisticsPublication(year=year, quarter=quarter, published_at=at,
                                      published_by=str(principal["user_id"]),
                                      body=json.dumps(body, ensure_ascii=False)))
    session.flush()
    platform = body["platform"]
    record_event(session, SOURCE, "statistics.published", body["period"], {
        "year": year, "quarter": quarter, "period": body["period"],
        "services_finished": platform["services_finished"], "evaluations": platform["evaluations"],
        "satisfaction_rate": platform["satisfaction_rate"], "published_at": iso(at)})
    for inst in body["institutions"]:
        _rated(session, inst["institution_id"], inst, body["period"], at)
    return body


def published(session: Session, year: int, quarter: int) -> dict:
    found = _publication(session, year, quarter)
    if found is None:
        raise NotFound("This quarter is not published / 该季度尚未公示", code="statistics_not_published")
    body = json.loads(found.body)
    # Names are not figures: the current public name, whenever the registry's event arrived.
    ids = [i["institution_id"] for i in body["institutions"]]
    names = dict(session.execute(select(InstitutionName.id, InstitutionName.name)
                                 .where(InstitutionName.id.in_(ids or [""]))).all())
    for inst in body["institutions"]:
        inst["institution_name"] = names.get(inst["institution_id"]) or inst.get("institution_name")
    return body


def list_published(session: Session) -> list[dict]:
    rows = session.scalars(select(StatisticsPublication).order_by(StatisticsPublication.year.desc(),
                                                                  StatisticsPublication.quarter.desc()))
    return [{"year": r.year, "quarter": r.quarter, "period": period_of(r.year, r.quarter),
             "published_at": iso(r.published_at)} for r in rows]


def apply_institution_event(session: Session, envelope: dict) -> bool:
    """Keep an institution's public name and status from registry's institution.approved / .changed /
    .deregistered: the public statistics show the name, a complaint must name an approved one."""
    data = envelope.get("data") or {}
    snapshot = data.get("snapshot") or {}
    institution_id, revision = data.get("institution_id"), data.get("revision")
    deregistered = envelope.get("type") == "institution.deregistered"
    name = snapshot.get("name")
    if not institution_id or not isinstance(revision, int) or not (name or deregistered):
        raise ValueError("institution event without institution_id, snapshot.name or revision")
    status = "deregistered" if deregistered else ("approved" if snapshot.get("status") in (None, "active", "approved")
                                                  else str(snapshot["status"])[:20])
    row = session.get(InstitutionName, str(institution_id))
    if row is None:
        session.add(InstitutionName(id=str(institution_id), name=str(name or institution_id)[:200], revision=revision,
                                    status=status))
    elif revision >= row.revision:
        row.name, row.revision, row.status = str(name or row.name)[:200], revision, status
    else:
        return False
    return True


def _rated(session: Session, institution_id: str, fig: dict, period: str, at: dt.datetime) -> None:
    if fig["satisfaction_rate"] is None:
        return   # nothing rated: matching keeps its neutral value
    record_event(session, SOURCE, "institution.rated", institution_id, {
        "institution_id": institution_id, "satisfaction": float(fig["satisfaction_rate"]),
        "on_time_rate": None if fig.get("on_time_rate") is None else float(fig["on_time_rate"]),
        "evaluations": int(fig["evaluations"]), "period": period, "computed_at": iso(at)})


def announce_rating(session: Session, institution_id: str, finished_at: dt.datetime, at: dt.datetime) -> None:
    """After each evaluation: the institution's figures of the quarter the service finished in."""
    session.flush()
    year, quarter = quarter_of(finished_at)
    start, end = window(year, quarter)
    evaluations = list(session.scalars(select(Evaluation).where(Evaluation.institution_id == institution_id,
                                                                Evaluation.finished_at >= start,
                                                                Evaluation.finished_at < end)))
    fig = figures(evaluations)
    fig["on_time_rate"] = _overall_on_time(on_time(session, start, end, institution_id))
    _rated(session, institution_id, fig, period_of(year, quarter), at)


# -- exports -----------------------------------------------------------------------------------
COLUMNS = ("scope", "id", "services_finished", "evaluations", "not_evaluated", "participation_rate",
           "satisfaction_rate", "dissatisfied", "overturned", "on_time_rate", "booked_hours", "used_hours")


def _cells(scope: dict) -> list:
    # Instrument hours are nested in the figures (platform and institutions; a window has none).
    flat = {**scope, **(scope.get("instrument_hours") or {})}
    return [flat.get(c) for c in COLUMNS[2:]]


def _rows(body: dict) -> list[list]:
    rows = [["platform", "", *_cells(body["platform"])]]
    rows += [["institution", i["institution_id"], *_cells(i)] for i in body["institutions"]]
    rows += [["window", w["window_id"], *_cells(w)] for w in body["windows"]]
    return rows


def export(session: Session, principal: dict | None, year: int, quarter: int, format: str) -> dict:
    """The published quarter (or, for staff, the live preview) as a CSV or .xlsx file (Operation.files)."""
    from .common import is_staff
    found = _publication(session, year, quarter)
    if found is not None:
        body = json.loads(found.body)
    elif is_staff(principal):
        body = compute(session, year, quarter)
    else:
        raise NotFound("This quarter is not published / 该季度尚未公示", code="statistics_not_published")
    rows = _rows(body)
    name = f"quarterly-statistics-{body['period']}"
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        content, mime = ("\ufeff" + buffer.getvalue()).encode("utf-8"), CSV
    else:
        from openpyxl import Workbook
        book = Workbook()
        sheet = book.active
        sheet.title = body["period"]
        sheet.append(list(COLUMNS))
        for row in rows:
            sheet.append(row)
        items = book.create_sheet("dissatisfied")
        items.append(["evaluation_id", "institution_id", "overall", "overturned", "cause_analysis"])
        for d in body["dissatisfied_items"]:
            items.append([d["evaluation_id"], d["institution_id"], d["overall"], d["overturned"],
                          d["cause_analysis"]])
        out = io.BytesIO()
        book.save(out)
        content, mime = out.getvalue(), XLSX
    return {"filename": f"{name}.{format}", "content_type": mime, "content": content}
