"""The registry's event contract: one payload schema per event type, each example valid against it,
and every type the registry records declared (record_event refuses an undeclared one)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.common import contracts
from services.registry.contract import CONTRACT

PACKAGE = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("event", CONTRACT.events, ids=lambda e: e.type)
def test_every_example_is_valid_against_its_payload_schema(event):
    assert event.example and event.payload().validate(event.example) == {}


def test_every_recorded_type_is_declared_and_every_declared_type_is_recorded():
    recorded = set()
    for path in PACKAGE.glob("*.py"):
        recorded |= set(re.findall(r'record_event\(session, SOURCE, "([a-z_.]+)"', path.read_text(encoding="utf-8")))
        recorded |= set(re.findall(r'bump\(session, \w+, "([a-z_.]+)"', path.read_text(encoding="utf-8")))
    # sla.clock_closed is recorded by the shared SLA code (services.common.sla_clock.announce).
    assert recorded | {"sla.clock_closed"} == {e.type for e in CONTRACT.events}


@pytest.mark.parametrize("event", [e for e in CONTRACT.events if e.type in contracts.event_types()],
                         ids=lambda e: e.type)
def test_the_documented_events_keep_their_document_shape(event):
    envelope = {"id": "0b6c3f6e-8a52-4f5e-9d1c-0c5b7a2e4f11", "type": event.type, "version": event.version,
                "source": "registry", "occurred_at": "2026-10-12T02:00:00Z", "subject": "s-1", "data": event.example}
    assert contracts.validate_envelope(envelope) == event.type
