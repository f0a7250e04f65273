"""Events the registry publishes on `registry.events`: one payload schema per type and version.

`record_event` validates every payload against these schemas in the transaction
that writes it; consumers (matching's index, feedback) read them through the
same classes. Shapes are those of docs/asyncapi.yaml (institution profile
snapshots, review decisions, catalogue snapshots); no personal data: the legal
representative is never in an event.
"""
from __future__ import annotations

from services.common import fields, validate
from services.common.evaluation import FinishedService
from services.common.money import Money
from services.common.operations import EventType
from services.common.sla_events import clock_closed_of
from services.common.schemas import Schema
from services.common.vocabulary import CATEGORIES, INSTITUTION_KINDS, QUALIFICATION_TYPES

from . import event_examples as ex
from .vocabulary import QUALIFICATION_STATUSES

UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _utc(**kw):
    return fields.String(validate=validate.Regexp(UTC_PATTERN),
                         metadata={"format": "date-time", "description": "ISO 8601 UTC instant ending in Z"}, **kw)


def _date(**kw):
    return fields.String(validate=validate.Regexp(DATE_PATTERN), metadata={"description": "YYYY-MM-DD"}, **kw)


def _institution_id(**kw):
    return fields.String(validate=validate.Length(min=1), metadata={"description": "Platform institution id"}, **kw)


class PublicQualification(Schema):
    qualification_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(QUALIFICATION_TYPES))
    number = fields.String(required=True)
    issuer = fields.String(required=True)
    valid_from = _date(required=True)
    valid_to = _date(required=True)
    scope = fields.MultilineString(required=True)
    status = fields.String(required=True, validate=validate.OneOf(QUALIFICATION_STATUSES))


class PublicCapability(Schema):
    capability_id = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    item_code = fields.String(required=True)
    item_name = fields.String(required=True)
    product = fields.String(required=True)
    parameter = fields.String(required=True)
    method_standard = fields.String(required=True, metadata={"description": "e.g. GB/T 2828.1-2012"})
    price_yuan = Money(integer_digits=11, required=True)
    cycle_working_days = fields.Integer(required=True, validate=validate.Range(min=1))
    qualification_id = fields.String(required=True, allow_none=True)


class PublicProfile(Schema):
    """The institution's public profile. No personal data (the legal representative is never included)."""

    institution_id = _institution_id(required=True)
    name = fields.String(required=True, metadata={"description": "Registered organisation name"})
    kind = fields.String(required=True, validate=validate.OneOf(INSTITUTION_KINDS))
    uscc = fields.String(required=True, metadata={"description": "Unified social credit code (GB 32100)"})
    region = fields.String(required=True, metadata={"description": "District, e.g. 海陵区"})
    park = fields.String(required=True, allow_none=True, metadata={"description": "Park station name"})
    address = fields.MultilineString(required=True, metadata={"description": "Office address"})
    categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)
    qualifications = fields.List(fields.Nested(PublicQualification), required=True)
    capabilities = fields.List(fields.Nested(PublicCapability), required=True,
                               metadata={"description": "Only capabilities the institution may offer now (none "
                                                        "backed by an expired or revoked qualification)"})
    status = fields.String(required=True, validate=validate.OneOf(("active",)))


class InstitutionProfileData(Schema):
    """institution.approved, institution.changed, capability.published: the whole public profile again."""

    institution_id = _institution_id(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1),
                              metadata={"description": "Increases with every change of the public profile; keep "
                                                       "the highest you saw"})
    snapshot = fields.Nested(PublicProfile, required=True)


class InstitutionAppliedData(Schema):
    application_id = fields.String(required=True)
    institution_id = _institution_id(required=True)
    name = fields.String(metadata={"description": "Organisation name"})
    kind = fields.String(required=True)
    categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)
    submitted_at = _utc(required=True)
    review_due_at = fields.String(required=True, allow_none=True,
                                  metadata={"description": "End of the 3-working-day review limit (UTC), null while "
                                                           "the calendar lacks the year"})
    resubmission = fields.Boolean(required=True)


class InstitutionReviewData(Schema):
    """institution.rejected and institution.returned: the decision and its reasons."""

    application_id = fields.String(required=True)
    institution_id = _institution_id(required=True)
    reasons = fields.List(fields.MultilineString(), required=True)
    rejected_at = _utc()
    returned_at = _utc()


class InstitutionDeregisteredData(Schema):
    institution_id = _institution_id(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    reason = fields.MultilineString(required=True)
    forced = fields.Boolean(required=True,
                            metadata={"description": "true = deregistered by the platform (qualification revoked)"})
    deregistered_at = _utc(required=True)


class QualificationExpiringData(Schema):
    institution_id = _institution_id(required=True)
    qualification_id = fields.String(required=True)
    type = fields.String(required=True)
    number = fields.String(required=True)
    valid_to = _date(required=True)
    days_left = fields.Integer(required=True, validate=validate.Range(min=0))


class CatalogueItemData(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)


class CatalogueCategoryData(Schema):
    code = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
    items = fields.List(fields.Nested(CatalogueItemData), required=True)


class CatalogueChangedData(Schema):
    categories = fields.List(fields.Nested(CatalogueCategoryData), required=True)


class CaseClosedData(Schema):
    """A point-to-point case of an enterprise window was closed: a finished service to evaluate."""

    case_id = fields.String(required=True)
    window_id = fields.String(required=True)
    enterprise_user_id = fields.String(required=True, metadata={"description": "Account the case served"})
    closed_at = _utc(required=True)
    evaluation = fields.Nested(FinishedService, required=True)


class CaseOpenedData(Schema):
    """A point-to-point case was opened for an enterprise (booking links window appointments to it)."""

    case_id = fields.String(required=True)
    window_id = fields.String(required=True)
    enterprise_user_id = fields.String(required=True, metadata={"description": "Account the case serves"})
    opened_at = _utc(required=True)


class WindowServicesData(Schema):
    """The service items (catalogue codes) a window serves, whole (R-4.2.2.4)."""

    window_id = fields.String(required=True)
    kind = fields.String(required=True)
    institution_id = fields.String(required=True, allow_none=True)
    services = fields.List(fields.String(), required=True)
    changed_at = _utc(required=True)


class TrainingAttendedData(Schema):
    """A participant's attendance at a training was recorded (pseudonymous account id; no name or phone)."""

    training_id = fields.String(required=True)
    user_id = fields.String(required=True, validate=validate.Length(min=1),
                            metadata={"description": "Platform account id (pseudonymous)"})
    category_code = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    qualification_code = fields.String(required=True, allow_none=True,
                                       metadata={"description": "The instrument qualification it grants, if any"})
    attended_on = _date(required=True)


# Summaries and descriptions as docs/asyncapi.yaml states them; examples in event_examples.py.
EVENTS = (
    EventType("institution.applied", InstitutionAppliedData, "An institution applied to join (技术机构提交入驻申请).",
              description="Also published on resubmission after a return (`resubmission: true`); the review clock "
                          "then restarts.", example=ex.INSTITUTION_APPLIED),
    EventType("institution.approved", InstitutionProfileData,
              "An institution was approved and is active (入驻审核通过).",
              description="Carries the full public profile; consumers index it (matching).",
              example=ex.INSTITUTION_APPROVED),
    EventType("institution.rejected", InstitutionReviewData, "An application was rejected with reasons (入驻申请驳回).",
              example=ex.INSTITUTION_REJECTED),
    EventType("institution.returned", InstitutionReviewData, "An application was returned for supplement (退回补正).",
              example=ex.INSTITUTION_RETURNED),
    EventType("institution.changed", InstitutionProfileData,
              "The public profile of an institution changed (机构信息变更).",
              description="Published for an approved change, a new qualification, or a qualification that expired. "
                          "Keep the highest `revision`.", example=ex.INSTITUTION_CHANGED),
    EventType("institution.deregistered", InstitutionDeregisteredData, "An institution was deregistered (机构注销).",
              description="Remove it from search and matching at once.", example=ex.INSTITUTION_DEREGISTERED),
    EventType("qualification.expiring", QualificationExpiringData,
              "A qualification expires within 30 days (资质即将到期).", description="Published once per qualification.",
              example=ex.QUALIFICATION_EXPIRING),
    EventType("capability.published", InstitutionProfileData,
              "An institution published a new capability (发布服务能力).",
              description="Carries the full public profile with the new capability.",
              example=ex.CAPABILITY_PUBLISHED),
    EventType("catalogue.changed", CatalogueChangedData, "The service catalogue changed (服务目录变更).",
              description="Carries the whole catalogue; replace your copy.", example=ex.CATALOGUE_CHANGED),
    EventType("case.closed", CaseClosedData,
              "A point-to-point case of an enterprise window was closed (企业点对点服务案例结束).",
              description="A finished service: `evaluation` (services.common.evaluation.FinishedService) lets "
                          "feedback invite the enterprise to evaluate it, once per case. Published once, when an "
                          "operator closes the case.", example=ex.CASE_CLOSED),
    EventType("case.opened", CaseOpenedData, "A point-to-point case was opened (企业点对点服务案例建立).",
              description="Booking keeps a copy so a window appointment can link only the enterprise's own case.",
              example=ex.CASE_OPENED),
    EventType("window.services_changed", WindowServicesData,
              "The service items a window serves were set (窗口服务事项).",
              description="Published when a window is created and when its service list changes; carries the whole "
                          "list (replace your copy). Booking checks appointment slots against it.",
              example=ex.WINDOW_SERVICES_CHANGED),
    EventType("training.attended", TrainingAttendedData,
              "A participant's attendance at a training was recorded (培训出勤登记).",
              description="One per participant and training, when staff record attendance. Booking grants "
                          "`qualification_code` on every instrument requiring it.", example=ex.TRAINING_ATTENDED),
)
EVENTS += (clock_closed_of("registry"),)   # every service: services.common.sla_events
