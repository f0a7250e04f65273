"""What a complaint names must exist (6.5.2 b, d): the institution and the linked demand, booking,
sample or report.

Chosen: local copies kept from the owning services' public events, not an RPC at filing time.
Filing then depends on no other service being up (a complaint about an outage must still be
accepted), runs in one local transaction, and feedback reads no other database. The cost is
the bus's lag: something created a moment ago may not be known yet; the answer says so
(`complaint_reference_unknown`), and the complaint can be filed without the link.

    institution  institution.approved / .changed / .deregistered (institution_name, status)
    demand       demand.published       (matching: the enterprise)
    booking      booking.requested      (booking: the instrument's institution)
    sample       sample.received        (delivery: enterprise and institution)
    report       report.registered      (delivery: enterprise and institution)

A link must belong to the institution complained about and, when the complainant is an
account that the reference names, to that complainant; otherwise it is refused with the same
code as an unknown one (nobody learns that another's booking exists).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed

from .models import InstitutionName, ServiceReference

# (source, event type) -> (link kind, id field, enterprise field, institution field)
SOURCES = {
    ("matching", "demand.published"): ("demand", "demand_id", "enterprise_user_id", None),
    ("booking", "booking.requested"): ("booking", "booking_id", None, "institution_id"),
    ("delivery", "sample.received"): ("sample", "sample_id", "enterprise_id", "institution_id"),
    ("delivery", "report.registered"): ("report", "report_id", "enterprise_id", "institution_id"),
}
CONSUMERS = {f"on_{kind}_reference": route for route, (kind, *_rest) in SOURCES.items()}


def apply_reference_event(session: Session, envelope: dict) -> bool:
    spec = SOURCES.get((envelope.get("source"), envelope.get("type")))
    if spec is None:
        return False
    kind, id_field, enterprise_field, institution_field = spec
    data = envelope.get("data") or {}
    if not data.get(id_field):
        raise ValueError(f"{envelope.get('type')} without {id_field}")
    row = session.get(ServiceReference, (kind, str(data[id_field])))
    if row is None:
        row = ServiceReference(kind=kind, ref_id=str(data[id_field]))
        session.add(row)
    if enterprise_field and data.get(enterprise_field):
        row.enterprise_id = str(data[enterprise_field])
    if institution_field and data.get(institution_field):
        row.institution_id = str(data[institution_field])
    session.flush()
    return True


def _refuse(field: str, en: str, zh: str) -> None:
    raise ValidationFailed(f"{en} / {zh}", code="complaint_reference_unknown", errors={field: [f"{zh} / {en}"]})


def check(session: Session, data: dict, complainant_id: str | None) -> None:
    """Refuse (422, nothing written) a complaint naming an unknown institution or link."""
    institution = session.get(InstitutionName, str(data["institution_id"]))
    if institution is None or institution.status != "approved":
        _refuse("institution_id", "Not an institution of the platform", "不是平台入驻的技术机构")
    if not data.get("link_type"):
        return
    ref = session.get(ServiceReference, (data["link_type"], str(data["link_id"])))
    if ref is None or (ref.institution_id and ref.institution_id != institution.id) or (
            complainant_id and ref.enterprise_id and ref.enterprise_id != str(complainant_id)):
        _refuse("link_id", f"No such {data['link_type']} of this institution known to the platform (yet)",
                "平台未找到该机构的此项服务记录（如刚刚办理，请稍后再试或不填关联）")
