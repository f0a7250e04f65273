"""An event's payload checked against its contract when it is recorded (services.common.outbox).

The source service's contract (services/<svc>/contract, `EventType.payload`) is what
the platform promises subscribers; an event that does not match is refused in the
transaction that would have sent it, never on the wire.
"""
from __future__ import annotations

import importlib


def event_type_of(source: str, event_type: str, version: int):
    """The contract's declaration of this event, or None while the service has declared no events."""
    try:
        contract = importlib.import_module(f"services.{source}.contract").CONTRACT
    except ModuleNotFoundError:
        return None
    if not contract.events:
        return None
    return contract.event(event_type, version)  # KeyError: an event the contract does not declare


def check(source: str, event_type: str, version: int, data: dict) -> None:
    declared = event_type_of(source, event_type, version)
    if declared is None:
        return
    problems = declared.payload().validate(data)
    if problems:
        raise ValueError(f"{source} {event_type} v{version}: payload does not match its contract: {problems}")
