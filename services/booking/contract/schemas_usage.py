"""Schemas of actual use (start/stop on a booking, walk-in use) and of the in-app notifications."""
from __future__ import annotations

from marshmallow import validate

from services.common import fields
from services.common.schemas import Schema

from .schemas import Utc


class UsageAtIn(Schema):
    at = fields.AwareDateTime(load_default=None, allow_none=True,
                              metadata={"description": "When use started/stopped (with offset); now by default"})


class WalkInIn(UsageAtIn):
    user_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64),
                            metadata={"description": "The user's account id, when known"})
    note = fields.String(load_default="", validate=validate.Length(0, 300))


class UsageRecordQuery(Schema):
    month = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$"),
                          metadata={"description": "YYYY-MM (Asia/Shanghai)"})
    unbooked = fields.Boolean(load_default=None, allow_none=True,
                              metadata={"description": "true: only use without a booking (to reconcile)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class UsageRecordOut(Schema):
    id = fields.String()
    instrument_id = fields.String()
    booking_id = fields.String(allow_none=True)
    user_id = fields.String(allow_none=True)
    reconciliation = fields.String(metadata={"description": "booking (the use served a booking) | unbooked "
                                                            "(walk-in without a booking: flagged)"})
    started_at = Utc()
    stopped_at = Utc(allow_none=True)
    used_minutes = fields.Integer(allow_none=True)
    note = fields.String()


class NotificationOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "waitlist.offered | waitlist.lapsed"})
    subject_id = fields.String(metadata={"description": "The waitlist entry"})
    title = fields.String()
    body = fields.String()
    created_at = Utc()
    read = fields.Boolean()


class NotificationQuery(Schema):
    unread = fields.Boolean(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
