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


def test_seed_survives_the_consumer_inserting_an_institution_meanwhile(db, monkeypatch):
    # deploy/demo.py seeds booking while booking consumes the registry demo's institution.approved
    # events: the consumer may insert a row between the seed's read and its insert (seen in
    # bench/load_test.py as write_conflict from the run command's demo step).
    from services.booking import institutions
    from services.booking.models import KnownInstitution
    from services.common.db import utcnow

    original, raced = institutions.upsert_known, []

    def racing(session, institution_id, name, park=None, kind=None):
        if not raced:
            raced.append(institution_id)
            with db.transaction() as consumer:      # the consumer's own transaction commits first
                consumer.add(KnownInstitution(id=institution_id, name=name, park=park, kind=kind, status="active",
                                              revision=1, capabilities="[]", updated_at=utcnow()))
            session.add(KnownInstitution(id=institution_id, name=name, park=park, kind=kind, status="active",
                                         revision=0, capabilities="[]", updated_at=utcnow()))
            session.flush()                         # what the seed's insert then meets
        return original(session, institution_id, name, park=park, kind=kind)

    monkeypatch.setattr(institutions, "upsert_known", racing)
    assert demo.seed(db)["instruments"] >= 20
    with db.read() as s:
        assert s.get(KnownInstitution, raced[0]).revision == 1     # the consumer's row, kept
        assert s.scalar(select(func.count()).select_from(KnownInstitution)) == len(demo.INSTITUTIONS)
