"""The public event envelope (see shared API.md and docs/asyncapi.yaml).

Events leave the platform as JSON on the topic exchange `<source>.events` with the
event type as routing key. Nothing here may carry an ID number or a phone number.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from kombu import Exchange

ENVELOPE_FIELDS = ("id", "type", "version", "source", "occurred_at", "subject", "data")


def exchange_name(source: str) -> str:
    # Same name and properties nameko uses for `<service>.events`, so nameko
    # event handlers and plain AMQP clients can share the exchange.
    return f"{source}.events"


def exchange(source: str) -> Exchange:
    return Exchange(exchange_name(source), type="topic", durable=True, auto_delete=False, delivery_mode=2)


def iso_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def make_envelope(source: str, event_type: str, subject: str, data: dict, version: int = 1,
                  occurred_at: dt.datetime | None = None, event_id: str | None = None) -> dict:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "source": source,
        "occurred_at": iso_utc(occurred_at or dt.datetime.now(dt.timezone.utc)),
        "subject": str(subject),
        "data": data,
    }


def dumps(envelope: dict) -> str:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
