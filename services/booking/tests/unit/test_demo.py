"""The booking demo: its institutions are the registry demo's (same ids and names), and it seeds
instruments, bookings in several states and appointment slots."""
from sqlalchemy import func, select

from services.booking import demo
from services.common import workdays
from services.common.db import utcnow
from services.booking.models import AppointmentSlot, Booking, Instrument


def test_demo_institutions_are_the_registry_demos():
    import uuid

    from services.registry import demo as registry_demo
    listed = list(registry_demo._all_institutions())
    for n, name, park in demo.INSTITUTIONS:
        assert listed[n][0] == name and listed[n][3] == park
        assert demo.institution_id(n) == str(uuid.uuid5(registry_demo.NAMESPACE, registry_demo._uscc(n + 1)))


def test_seed_is_complete_and_idempotent(db):
    summary = demo.seed(db)
    assert summary["instruments"] >= 20 and summary["institutions"] >= 5
    with db.read() as s:
        assert len(set(s.scalars(select(Instrument.station_window_id)).all()) - {None}) == 3
        states = set(s.scalars(select(Booking.status)))
        assert {"requested", "confirmed", "settled", "cancelled"} <= states, states
        assert s.scalar(select(func.count()).select_from(AppointmentSlot)) > 0
        slot_days = {workdays.local_date(at) for at in s.scalars(select(AppointmentSlot.starts_at))}
    today = workdays.local_date(utcnow())
    assert slot_days == {workdays.add_working_days(today, k) for k in range(1, 11)}   # the next 10 working days
    assert demo.seed(db)["instruments"] == 0
