"""What every "finished service" event carries so feedback opens exactly one evaluation.

demand.closed (matching), a closed window case (registry), booking.completed and
appointment.completed (booking), sample.report_delivered (delivery) and
complaint.closed (feedback) put this block in their payload under `evaluation`;
feedback keys its invitation on (service_type, service_id), so a redelivered or
replayed event opens nothing twice. Ids only: no personal data travels.
"""
from __future__ import annotations

from marshmallow import validate

from . import fields
from .schemas import Schema

SERVICE_TYPES = ("demand", "window_case", "booking", "appointment", "report_delivery", "complaint")


class FinishedService(Schema):
    service_type = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES),
                                 metadata={"description": "What was served: " + ", ".join(SERVICE_TYPES)})
    service_id = fields.String(required=True, metadata={"description": "Id of the demand, case, booking..."})
    enterprise_id = fields.String(required=True, metadata={"description": "Account id of the served customer"})
    institution_id = fields.String(required=True, allow_none=True)
    window_id = fields.String(required=True, allow_none=True)
    handler_id = fields.String(required=True, allow_none=True,
                               metadata={"description": "Account id of the staff member who handled it"})
    finished_at = fields.String(required=True, metadata={"description": "ISO 8601 UTC instant"})
