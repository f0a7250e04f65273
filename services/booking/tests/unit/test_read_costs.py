"""Booking's busiest public reads cost a bounded amount of work, whatever the page size.

The load test (bench/load_test.py) found GET /instruments issuing three queries per
instrument and availability recomputing the notice/horizon window for every slot.
"""
import datetime as dt

from sqlalchemy import event

from services.booking import demo, instruments, rules


def test_listing_instruments_takes_a_fixed_number_of_queries(db):
    demo.seed(db)
    statements = []
    listen = lambda *args: statements.append(args[2])   # noqa: E731 (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with db.read() as session:
            page = instruments.list_instruments(session, {"limit": 50, "offset": 0})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(page["items"]) >= 20 and all(item["prices"] for item in page["items"])
    assert any(item["blackouts"] for item in page["items"])      # the demo's blackout is still shown
    assert all(item["institution_name"] for item in page["items"])
    assert len(statements) <= 6, statements                       # count, page, prices, blackouts, names


def test_availability_computes_the_booking_window_once_per_call(db, monkeypatch):
    demo.seed(db)
    with db.read() as session:
        instrument_id = instruments.list_instruments(session, {"limit": 1, "offset": 0})["items"][0]["id"]
    calls = []
    original = rules._compute_window
    monkeypatch.setattr(rules, "_compute_window", lambda r, c: calls.append(1) or original(r, c))
    today = dt.date.today()
    with db.read() as session:
        answer = instruments.availability(session, None, instrument_id,
                                          {"from_": today, "to": today + dt.timedelta(days=20)})
    assert len(answer["slots"]) > 100 and len(calls) == 1
