"""Response schemas shared by several services (the gateway dumps RPC results through them).

A response schema is a filter as much as a description: `routing.dump_response`
keeps only the fields declared here, so a view that gains a field must gain it
here too (services/gateway/tests/test_response_schemas.py checks the views
against their schemas).
"""
from __future__ import annotations

import functools

import marshmallow
from marshmallow import RAISE, ValidationError

from . import errors, fields
from .fields import bilingual


class Schema(marshmallow.Schema):
    """Base of every schema of the platform: unknown fields refused, messages "中文 / English".

    Use it with the fields of services.common.fields (never marshmallow.fields directly):
    they refuse control characters and type JSON strictly (see that module).
    """

    error_messages = {"unknown": bilingual("unknown"), "type": bilingual("schema_type")}

    class Meta:
        unknown = RAISE


class JsonNumber(fields.Number):
    """A JSON number dumped as it is: an int stays an int, a float a float.

    `fields.Float` would turn a price of 800 into 800.0 on the way out (and
    `fields.Integer` would truncate 12.5); the views choose the representation.
    """

    num_type = float

    def _format_num(self, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return float(value)


class SlaClockEventOut(Schema):
    at = fields.String(metadata={"description": "ISO 8601 UTC instant"})
    action = fields.String(metadata={"description": "start, pause, resume, restart, stop, cancel or overdue"})


class DueNoteOut(Schema):
    zh = fields.String()
    en = fields.String()


class SlaClockOut(Schema):
    """`services.common.sla.clock_view`: one SLA clock with its rule and history."""

    id = fields.String()
    rule = fields.String(metadata={"description": "e.g. registry.application_review, matching.demand_response"})
    description_zh = fields.String(allow_none=True)
    description_en = fields.String(allow_none=True)
    limit_working_days = fields.Integer(allow_none=True)
    subject_type = fields.String(metadata={"description": "e.g. application, institution_change, demand"})
    subject_id = fields.String()
    state = fields.String(metadata={"description": "running, paused, met, breached, cancelled, or stopped (stopped "
                                                   "during a calendar gap; met or breached follows once the year "
                                                   "is loaded)"})
    started_at = fields.String()
    due_at = fields.String(allow_none=True, metadata={"description": "UTC; null while the working-day calendar "
                                                                     "lacks the year (see calendar_gap)"})
    due_local = fields.String(allow_none=True, metadata={"description": "due_at in Asia/Shanghai, with offset"})
    calendar_gap = fields.Boolean(metadata={"description": "The working-day calendar lacks a year the limit "
                                                           "reaches; due_at is null until it is loaded"})
    due_state = fields.String(metadata={"description": "on_track, due_soon, overdue, calendar_gap or paused for "
                                                       "an open clock (overdue is computed from due_at and now); "
                                                       "met, breached, cancelled for a closed one; calendar_gap "
                                                       "for a stop awaiting the calendar"})
    due_note = fields.Nested(DueNoteOut, allow_none=True,
                             metadata={"description": "Why there is no due date yet, in Chinese and English (e.g. "
                                                      "the due date follows once the 2027 holiday notice is "
                                                      "loaded); null when due_at is set"})
    paused_at = fields.String(allow_none=True)
    stopped_at = fields.String(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "Past due_at now (or marked by a sweep), whether or not a "
                                                      "sweep has run"})
    due_soon = fields.Boolean(allow_none=True, metadata={"description": "Running and within the rule's warning "
                                                                        "window; null if unknown"})
    restarts = fields.Integer(metadata={"description": "Times the clock restarted in full (resubmissions)"})
    history = fields.List(fields.Nested(SlaClockEventOut))


@functools.lru_cache(maxsize=None)
def instance(schema_cls: type[Schema]) -> Schema:
    """One instance per schema class, reused for every call: building a marshmallow Schema
    (binding and copying its fields) cost more than the dump of a small answer (8 % of a
    service's CPU per GET /me). The platform's schemas keep no state per call (no
    `context`, no fields changed at run time)."""
    return schema_cls()


def load(schema_cls: type[Schema], payload) -> dict:
    """Validate `payload` with `schema_cls`; field errors come back as ValidationFailed.

    Services validate again what the gateway validated: an RPC caller is not trusted.
    """
    if not isinstance(payload, dict):
        raise errors.ValidationFailed("Body must be a JSON object / 请求体必须是 JSON 对象",
                                      errors={"_schema": [bilingual("schema_type")]})
    try:
        return instance(schema_cls).load(payload)
    except ValidationError as exc:
        raise errors.ValidationFailed("Some fields are invalid / 部分字段无效",
                                      errors=exc.normalized_messages()) from None
