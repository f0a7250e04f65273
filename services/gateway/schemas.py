"""Gateway-level schemas: problem documents and common query parameters."""
from services.common import fields, validate
from services.common.schemas import Schema


class ProblemSchema(Schema):
    type = fields.String(metadata={"description": "URI naming the problem type"})
    title = fields.String(metadata={"description": "中文 / English title"})
    title_zh = fields.String()
    title_en = fields.String()
    status = fields.Integer()
    code = fields.String(metadata={"description": "Stable machine-readable code, e.g. validation_error"})
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "field -> messages, for validation errors"})
    retry_after = fields.Integer(metadata={"description": "Seconds to wait before retrying (429/503); the same "
                                                          "value is sent as the Retry-After header"})
    required_level = fields.String(metadata={"description": "verification_level_required: the level the action "
                                                             "needs"})
    current_level = fields.String(allow_none=True, metadata={"description": "verification_level_required: the "
                                                                            "caller's level"})
    action = fields.String(metadata={"description": "verification_level_required: the action refused"})


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, allow_none=True)


class HealthSchema(Schema):
    status = fields.String()
    services = fields.Dict(keys=fields.String(), values=fields.String())


class SlaClockQuery(Schema):
    overdue = fields.Boolean(load_default=None, allow_none=True,
                             metadata={"description": "true: only clocks past their due time"})
    due_soon = fields.Boolean(load_default=None, allow_none=True,
                              metadata={"description": "true: only running clocks inside their rule's warning window"})
    calendar_gap = fields.Boolean(load_default=None, allow_none=True,
                                  metadata={"description": "true: only clocks without a due date because the "
                                                           "working-day calendar lacks a year (due_state calendar_gap)"})
