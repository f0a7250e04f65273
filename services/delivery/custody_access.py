"""Who may record which custody step: the side that receives (object-level rules of `samples`)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common.errors import Forbidden, ValidationFailed

from . import access
from .models import Sample


def station_for(principal: dict, data: dict | None = None) -> str:
    if principal.get("role") == "window":
        return access.station_of(principal)
    if access.is_operator(principal) and data and data.get("station_id"):
        return str(data["station_id"])
    if access.is_operator(principal):
        raise ValidationFailed("station_id is required when staff record / 运营人员代录须指明驿站",
                               errors={"station_id": ["required"]})
    raise Forbidden("Only park station staff do this / 仅园区驿站人员可执行")


def visible(principal: dict, sample: Sample) -> bool:
    role = principal.get("role")
    if access.is_staff_reader(principal):
        return True
    if role == "window":
        return str(principal.get("window_id")) == sample.station_id
    if role == "institution":
        return str(principal.get("institution_id")) == sample.institution_id
    return str(principal.get("user_id")) == sample.enterprise_id


def sample_for(session: Session, principal: dict, sample_id: str, lock: bool = False) -> Sample:
    sample = session.get(Sample, str(sample_id), with_for_update=lock)
    if sample is None or not visible(principal, sample):
        raise access.not_found("sample", "样品", "sample_not_found")
    return sample


def named_samples(session: Session, principal: dict, ids: list[str]) -> list[Sample]:
    """Samples named in a body: one that does not exist (for this caller) is a 422 naming it."""
    found, unknown = [], []
    for sid in ids:
        try:
            found.append(sample_for(session, principal, sid, lock=True))
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                raise
            unknown.append(sid)
    if unknown:
        raise ValidationFailed("Unknown samples / 样品不存在", errors={"sample_ids": unknown})
    return found


def as_station(principal: dict, sample: Sample) -> None:
    if principal.get("role") == "window" and str(principal.get("window_id")) == sample.station_id:
        return
    if access.is_operator(principal):
        return
    raise Forbidden("Only the sample's park station does this / 仅该样品的驿站可执行", code="not_the_receiver")


def as_lab(principal: dict, institution_id: str) -> None:
    if principal.get("role") == "institution" and str(principal.get("institution_id")) == institution_id:
        return
    raise Forbidden("Only the receiving institution records this / 仅接收机构可记录", code="not_the_receiver")


def as_enterprise_side(principal: dict, sample: Sample) -> None:
    """The enterprise receives (itself, or through its station, which records the recipient's signature)."""
    if str(principal.get("user_id")) == sample.enterprise_id and principal.get("role") == "enterprise":
        return
    if principal.get("role") == "window" and str(principal.get("window_id")) == sample.station_id:
        return
    raise Forbidden("Only the enterprise (or its station for it) records this / 仅企业或驿站可记录",
                    code="not_the_receiver")
