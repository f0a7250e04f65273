"""Booking unit tests: the service's clock, held where the test sets it."""
from __future__ import annotations

import pytest

from services.booking import common
from services.booking.tests.helpers import NOW


@pytest.fixture
def clock(monkeypatch):
    """`clock["now"] = ...` moves booking's notion of now (naive UTC)."""
    state = {"now": NOW}
    monkeypatch.setattr(common, "clock", lambda: state["now"])
    return state
