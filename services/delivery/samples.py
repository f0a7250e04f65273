"""Samples from park stations to labs, and their chain of custody (4.2.1.1).

    received (station) -> packed (manifest to one institution) -> with_carrier (carrier's receipt)
    -> accepted (lab) -> testing -> report_issued -> report_delivered (to the enterprise)
    -> returned | disposed

Each handover is recorded by the side that *receives* (time, place, seal number,
condition) and completes only when that side records it: a station saying "sent" moves
nothing. A step out of order is a 409 naming the step expected. Exceptions (missing
item, broken seal, rejected by the lab with a reason) are kept with the sample, shown to
the enterprise and the station, and published. Time limits are the SLA rules
delivery.station_dispatch, delivery.lab_acceptance, delivery.lab_report and
delivery.report_handover (services/common/data/sla_rules.json, working days).
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import pii, sla
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import access
from .custody_access import as_enterprise_side, as_lab, as_station, named_samples, sample_for, station_for
from .contract.vocabulary import STEP_ZH
from .models import CustodyStep, Manifest, Report, Sample, SampleException, SampleItem

SOURCE = "delivery"
CUSTODY_STEPS = Counter("qi_delivery_custody_steps_total", "Custody steps recorded", ["step"])
CUSTODY_REFUSED = Counter("qi_delivery_custody_out_of_order_total", "Custody steps refused as out of order", ["step"])
# What may follow each state (the receiving side records it).
NEXT = {"received": ("packed",), "packed": ("with_carrier",), "with_carrier": ("accepted", "rejected"),
        "accepted": ("testing",), "testing": ("report_issued",), "report_issued": ("report_delivered",),
        "report_delivered": ("returned", "disposed"), "rejected": ("returned",),
        "returned": (), "disposed": ()}
# The SLA clock each state runs, stopped by the next handover.
CLOCK_OF = {"received": "delivery.station_dispatch", "with_carrier": "delivery.lab_acceptance",
            "accepted": "delivery.lab_report", "report_issued": "delivery.report_handover"}
# Whose time limit a clock is, for the on-time rates of the quarterly statistics (sla.clock_closed):
# the park station's handovers count for its window, the carrier's and the lab's for the institution.
STATION_CLOCKS = ("delivery.station_dispatch", "delivery.report_handover")


def owner_of(rule: str, sample: Sample) -> dict:
    if rule in STATION_CLOCKS:
        return {"window_id": sample.station_id}
    return {"institution_id": sample.institution_id}


def _now(at):
    return at or utcnow()


def expect(sample: Sample, step: str) -> None:
    allowed = NEXT.get(sample.status, ())
    if step not in allowed:
        CUSTODY_REFUSED.labels(step).inc()
        expected = " | ".join(allowed) or "none (custody closed)"
        zh = "、".join(STEP_ZH.get(s, s) for s in allowed) or "无（流转已结束）"
        raise Conflict(f"Sample {sample.label_number} is '{sample.status}': the next step is {expected}, not {step} / "
                       f"样品当前为“{STEP_ZH.get(sample.status, sample.status)}”，下一步应为{zh}",
                       code="custody_out_of_order", errors={"expected_step": list(allowed), "given": [step]})


def _advance(session: Session, principal: dict, sample: Sample, step: str, at: dt.datetime, place: str = "",
             seal_number=None, condition=None, note=None, status: str | None = None, event: str | None = None,
             extra: dict | None = None) -> CustodyStep:
    expect(sample, step)
    old_clock = CLOCK_OF.get(sample.status)
    if old_clock:
        sla.stop_clock(session, (old_clock, "sample", sample.id), at=at, missing_ok=True)
    row = CustodyStep(sample_id=sample.id, step=step, at=at, place=place or "", seal_number=seal_number,
                      condition=condition, note=note, recorded_by=str(principal["user_id"]),
                      recorded_role=principal["role"])
    session.add(row)
    CUSTODY_STEPS.labels(step).inc()
    sample.status = status or step
    sample.location = place or sample.location
    sample.updated_at = at
    new_clock = CLOCK_OF.get(sample.status)
    if new_clock:
        sla.start_clock(session, new_clock, "sample", sample.id, at=at, **owner_of(new_clock, sample))
    if event:
        _event(session, event, sample, step, at, extra or {})
    return row


def _event(session, event_type, sample: Sample, step: str, at, extra: dict) -> None:
    record_event(session, SOURCE, event_type, sample.id, {
        "sample_id": sample.id, "label_number": sample.label_number, "enterprise_id": sample.enterprise_id,
        "station_id": sample.station_id, "institution_id": sample.institution_id, "step": step,
        "manifest_id": sample.manifest_id, "at": iso_utc(at), **extra})


def _label(session: Session, at: dt.datetime) -> str:
    while True:
        label = f"YP{(at + dt.timedelta(hours=8)):%Y%m%d}{secrets.randbelow(10 ** 6):06d}"
        if session.scalar(select(func.count()).select_from(Sample).where(Sample.label_number == label)) == 0:
            return label


# -- steps ------------------------------------------------------------------------------------------
def receive(session: Session, principal: dict, data: dict, at: dt.datetime | None = None) -> Sample:
    """The station receives an enterprise's sample: the first handover, recorded by the station."""
    station_id = station_for(principal, data)
    at = _now(at)
    sample = Sample(label_number=_label(session, at), enterprise_id=data["enterprise_id"], station_id=station_id,
                    institution_id=data["institution_id"], demand_id=data.get("demand_id"),
                    description=data.get("description") or "", status="received", location=data.get("place") or "",
                    created_by=str(principal["user_id"]), created_at=at, updated_at=at)
    session.add(sample)
    session.flush()
    for position, item in enumerate(data["items"], start=1):
        session.add(SampleItem(sample_id=sample.id, position=position, description=item["description"],
                               quantity=item["quantity"], unit=item.get("unit") or "件", condition=item["condition"],
                               photos=json.dumps(item.get("photos") or [])))
    session.add(CustodyStep(sample_id=sample.id, step="received", at=at, place=data.get("place") or "",
                            condition=data["items"][0]["condition"], note=data.get("note"),
                            recorded_by=str(principal["user_id"]), recorded_role=principal["role"]))
    sla.start_clock(session, CLOCK_OF["received"], "sample", sample.id, at=at,
                    **owner_of(CLOCK_OF["received"], sample))
    _event(session, "sample.received", sample, "received", at, {})
    return detail(session, sample)


def pack(session: Session, principal: dict, data: dict, at: dt.datetime | None = None) -> Manifest:
    """The station packs received samples into one transport manifest (转运单) to one institution."""
    at = _now(at)
    ids = list(dict.fromkeys(data["sample_ids"]))
    samples = named_samples(session, principal, ids)
    for sample in samples:
        as_station(principal, sample)
    stations = {s.station_id for s in samples}
    institutions = {s.institution_id for s in samples}
    if len(institutions) != 1 or len(stations) != 1:
        raise ValidationFailed("A manifest goes from one station to one institution / 一张转运单只发往一个机构",
                               errors={"sample_ids": ["one station and one institution"]})
    for sample in samples:
        expect(sample, "packed")
    manifest = Manifest(number=f"ZY{(at + dt.timedelta(hours=8)):%Y%m%d}{secrets.randbelow(10 ** 6):06d}",
                        station_id=stations.pop(), institution_id=institutions.pop(), status="open",
                        created_by=str(principal["user_id"]), created_at=at)
    session.add(manifest)
    session.flush()
    for sample in samples:
        sample.manifest_id = manifest.id
        _advance(session, principal, sample, "packed", at, place=data.get("place") or sample.location,
                 note=data.get("note"))
    return manifest_detail(session, manifest)


def _manifest(session: Session, principal: dict, manifest_id: str, lock: bool = False) -> Manifest:
    manifest = session.get(Manifest, str(manifest_id), with_for_update=lock)
    ok = manifest is not None and (
        access.is_staff_reader(principal)
        or (principal.get("role") == "window" and str(principal.get("window_id")) == manifest.station_id)
        or (principal.get("role") == "institution" and str(principal.get("institution_id")) == manifest.institution_id))
    if not ok:
        raise access.not_found("manifest", "转运单", "manifest_not_found")
    return manifest


def _manifest_samples(session, manifest: Manifest) -> list[Sample]:
    return list(session.scalars(select(Sample).where(Sample.manifest_id == manifest.id)
                                .order_by(Sample.created_at, Sample.label_number).with_for_update()))


def carrier_receipt(session: Session, principal: dict, manifest_id: str, data: dict,
                    at: dt.datetime | None = None) -> Manifest:
    """The carrier takes the manifest: its receipt (name, seal number) completes the handover."""
    at = _now(at)
    manifest = _manifest(session, principal, manifest_id, lock=True)
    if principal.get("role") == "institution":
        as_lab(principal, manifest.institution_id)        # the lab's own courier collecting
    elif not (principal.get("role") == "window" and str(principal.get("window_id")) == manifest.station_id) \
            and not access.is_operator(principal):
        raise Forbidden("Only the station or the collecting lab records the carrier's receipt / 仅驿站或取样机构可记录",
                        code="not_the_receiver")
    samples = _manifest_samples(session, manifest)
    for sample in samples:
        expect(sample, "with_carrier")
    manifest.status = "with_carrier"
    manifest.carrier = data["carrier"]
    manifest.seal_number = data["seal_number"]
    for sample in samples:
        _advance(session, principal, sample, "with_carrier", at, place=data.get("place") or "",
                 seal_number=data["seal_number"], note=f"carrier: {data['carrier']}", event="sample.dispatched")
    return manifest_detail(session, manifest)


def lab_acceptance(session: Session, principal: dict, manifest_id: str, data: dict,
                   at: dt.datetime | None = None) -> Manifest:
    """The lab accepts (or rejects, with a reason) each sample of a manifest it received."""
    at = _now(at)
    manifest = _manifest(session, principal, manifest_id, lock=True)
    as_lab(principal, manifest.institution_id)
    samples = {s.id: s for s in _manifest_samples(session, manifest)}
    verdicts = {v["sample_id"]: v for v in data.get("samples") or []}
    unknown = sorted(set(verdicts) - set(samples))
    if unknown:
        raise ValidationFailed("Samples not on this manifest / 样品不在该转运单上", errors={"samples": unknown})
    for sample in samples.values():
        expect(sample, "accepted")
    seal_broken = bool(manifest.seal_number) and data["seal_number"] != manifest.seal_number
    rejected_all = True
    for sample in samples.values():
        verdict = verdicts.get(sample.id, {"accepted": True, "condition": "intact"})
        place = data.get("place") or ""
        if seal_broken:
            raise_exception(session, principal, sample, "broken_seal",
                            f"seal {data['seal_number']} received, {manifest.seal_number} sent", at, step="with_carrier")
        for missing in verdict.get("missing_items") or []:
            raise_exception(session, principal, sample, "missing_item", str(missing), at, step="with_carrier")
        if verdict.get("accepted", True):
            rejected_all = False
            _advance(session, principal, sample, "accepted", at, place=place, seal_number=data["seal_number"],
                     condition=verdict.get("condition") or "intact", note=verdict.get("note"),
                     event="sample.accepted")
        else:
            reason = verdict.get("reason")
            if not reason:
                raise ValidationFailed("A rejection needs a reason / 拒收须说明理由",
                                       errors={"samples": {sample.id: {"reason": ["required"]}}})
            _advance(session, principal, sample, "rejected", at, place=place, seal_number=data["seal_number"],
                     condition=verdict.get("condition"), note=reason)
            raise_exception(session, principal, sample, "rejected", reason, at, step="rejected")
    manifest.status = "rejected" if rejected_all and samples else "accepted"
    return manifest_detail(session, manifest)


def lab_step(session: Session, principal: dict, sample_id: str, data: dict, at: dt.datetime | None = None) -> Sample:
    """The lab records testing started, or the report issued (a report it registered for this enterprise)."""
    at = _now(at)
    sample = sample_for(session, principal, sample_id, lock=True)
    as_lab(principal, sample.institution_id)
    step = data["step"]
    expect(sample, step)
    if step == "report_issued":
        number = data.get("report_number")
        report = session.scalars(select(Report).where(Report.number == (number or ""))).first()
        if not number or report is None or report.institution_id != sample.institution_id \
                or report.enterprise_id != sample.enterprise_id:
            raise ValidationFailed("report_number must name a report this institution registered for the sample's "
                                   "enterprise / 报告编号须为本机构为该企业登记的报告",
                                   errors={"report_number": ["registered report of this institution and enterprise"]})
        sample.report_number = number
    _advance(session, principal, sample, step, at, place=data.get("place") or "", note=data.get("note"))
    return detail(session, sample)


def deliver_report(session: Session, principal: dict, sample_id: str, data: dict,
                   at: dt.datetime | None = None) -> Sample:
    """The report reaches the enterprise: the receiver (or its station, with the signature) records it."""
    at = _now(at)
    sample = sample_for(session, principal, sample_id, lock=True)
    as_enterprise_side(principal, sample)
    expect(sample, "report_delivered")
    sample.delivered_to = data["received_by"]
    sample.delivered_to_masked = pii.mask_name(data["received_by"])
    sample.delivered_how = data["how"]
    evaluation = {"service_type": "report_delivery", "service_id": sample.id, "enterprise_id": sample.enterprise_id,
                  "institution_id": sample.institution_id, "window_id": sample.station_id,
                  "handler_id": str(principal["user_id"]), "finished_at": iso_utc(at)}
    _advance(session, principal, sample, "report_delivered", at, place=data.get("place") or "",
             note=f"{data['how']}: {sample.delivered_to_masked}", event="sample.report_delivered",
             extra={"report_number": sample.report_number, "how": data["how"], "evaluation": evaluation})
    return detail(session, sample)


def dispose(session: Session, principal: dict, sample_id: str, data: dict, at: dt.datetime | None = None) -> Sample:
    """Returned (received back by the enterprise's side) or disposed of (by the lab, under its retention rule)."""
    at = _now(at)
    sample = sample_for(session, principal, sample_id, lock=True)
    kind = data["kind"]
    if kind == "returned":
        as_enterprise_side(principal, sample)
    else:
        as_lab(principal, sample.institution_id)
        if not data.get("retention_rule"):
            raise ValidationFailed("A disposal names the retention rule / 处置须注明留样规则",
                                   errors={"retention_rule": ["required"]})
        sample.retention_rule = data["retention_rule"]
    _advance(session, principal, sample, kind, at, place=data.get("place") or "", note=data.get("note"),
             event="sample.disposed", extra={"disposition": kind})
    return detail(session, sample)


def raise_exception(session: Session, principal: dict, sample: Sample, kind: str, reason: str,
                    at: dt.datetime, step: str | None = None) -> SampleException:
    row = SampleException(sample_id=sample.id, kind=kind, reason=reason, step=step or sample.status,
                          raised_by=str(principal["user_id"]), raised_role=principal["role"], at=at)
    session.add(row)
    session.flush()
    sample.open_exceptions += 1
    _event(session, "sample.exception", sample, step or sample.status, at, {"kind": kind, "exception_id": row.id})
    return row


def report_exception(session: Session, principal: dict, sample_id: str, data: dict,
                     at: dt.datetime | None = None) -> Sample:
    at = _now(at)
    sample = sample_for(session, principal, sample_id, lock=True)
    role = principal.get("role")
    if role == "institution":
        as_lab(principal, sample.institution_id)
    elif role != "window" and not access.is_operator(principal):
        raise Forbidden("Only the station or the lab reports exceptions / 仅驿站或机构可登记异常")
    if sample.status in ("returned", "disposed"):
        raise Conflict("Custody is closed / 样品流转已结束", code="custody_closed",
                       errors={"expected_step": []})
    raise_exception(session, principal, sample, data["kind"], data["reason"], at)
    return detail(session, sample)


# -- reads ---------------------------------------------------------------------------------------------
def detail(session: Session, sample: Sample) -> Sample:
    sample.items = list(session.scalars(select(SampleItem).where(SampleItem.sample_id == sample.id)
                                        .order_by(SampleItem.position)))
    sample.steps = list(session.scalars(select(CustodyStep).where(CustodyStep.sample_id == sample.id)
                                        .order_by(CustodyStep.seq)))
    sample.exceptions = list(session.scalars(select(SampleException).where(SampleException.sample_id == sample.id)
                                             .order_by(SampleException.at)))
    sample.next_steps = list(NEXT.get(sample.status, ()))
    sample.status_zh = STEP_ZH.get(sample.status, sample.status)
    return sample


def manifest_detail(session: Session, manifest: Manifest) -> Manifest:
    manifest.samples = [detail(session, s) for s in session.scalars(
        select(Sample).where(Sample.manifest_id == manifest.id).order_by(Sample.created_at, Sample.label_number))]
    return manifest


def get_sample(session: Session, principal: dict, sample_id: str) -> Sample:
    return detail(session, sample_for(session, principal, sample_id))


def get_manifest(session: Session, principal: dict, manifest_id: str) -> Manifest:
    return manifest_detail(session, _manifest(session, principal, manifest_id))


def list_samples(session: Session, principal: dict, status=None, limit: int = 50, offset: int = 0) -> dict:
    query = select(Sample)
    role = principal.get("role")
    if role == "window":
        query = query.where(Sample.station_id == access.station_of(principal))
    elif role == "institution":
        query = query.where(Sample.institution_id == access.institution_of(principal))
    elif not access.is_staff_reader(principal):
        query = query.where(Sample.enterprise_id == str(principal["user_id"]))
    if status:
        query = query.where(Sample.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = [detail(session, s) for s in session.scalars(
        query.order_by(Sample.updated_at.desc(), Sample.label_number).limit(limit).offset(offset))]
    return {"items": items, "total": total}


def label(session: Session, principal: dict, sample_id: str) -> dict:
    import segno
    sample = sample_for(session, principal, sample_id)
    return {"label_number": sample.label_number, "svg": segno.make(sample.label_number, error="m").svg_inline(scale=4)}


def open_clocks(session: Session, principal: dict, overdue=None, calendar_gap=None) -> list:
    if not access.is_staff_reader(principal):
        raise Forbidden("Staff only / 仅限平台工作人员")
    rules = [r for r in CLOCK_OF.values()]
    return [sla.clock_view(c) for c in sla.list_clocks(session, state=list(sla.OPEN_STATES), overdue=overdue,
                                                       calendar_gap=calendar_gap)
            if c.rule in rules]
