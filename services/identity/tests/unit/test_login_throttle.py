"""Sign-in throttling per (account, network) and per network, with growing delays (issue 8 point 6).

The scenarios are plain functions of a Database so tests/integration runs the
same ones on PostgreSQL.
"""
from __future__ import annotations

import datetime as dt

import pytest

from services.common import errors
from services.identity import signin, throttle

from ..helpers import PASSWORD, make_user

START = dt.datetime(2026, 3, 2, 9, 0)
ATTACKER = "203.0.113.50"
ATTACKER_NEIGHBOUR = "203.0.113.51"     # same /24
OWNER = "198.51.100.20"


def attempt(db, username, password, ip, at):
    with db.transaction() as session:
        return signin.sign_in(session, username, password, ip=ip, now=at)


def fail_until_throttled(db, username, ip, at, failures):
    for i in range(failures):
        result = attempt(db, username, "wrong-password", ip, at + dt.timedelta(seconds=i))
        assert isinstance(result, errors.Unauthorized), result
    return at + dt.timedelta(seconds=failures - 1)


def scenario_owner_signs_in_from_another_network(db):
    make_user(db, "root", "admin")
    last = fail_until_throttled(db, "root", ATTACKER, START, throttle.ACCOUNT_NETWORK.free)
    # The guesser's network waits, even with the right password (no oracle while waiting) ...
    refused = attempt(db, "root", PASSWORD, ATTACKER, last + dt.timedelta(seconds=1))
    assert isinstance(refused, errors.TooManyRequests) and refused.code == "login_throttled"
    assert refused.retry_after >= 1 and refused.problem()["retry_after"] == refused.retry_after
    # ... and so does its /24 neighbour ...
    assert isinstance(attempt(db, "root", PASSWORD, ATTACKER_NEIGHBOUR, last + dt.timedelta(seconds=1)),
                      errors.TooManyRequests)
    # ... but the admin signs in from the office at once: there is no account lock.
    ok = attempt(db, "root", PASSWORD, OWNER, last + dt.timedelta(seconds=2))
    assert "access_token" in ok, ok


def scenario_delays_double_up_to_the_cap(db):
    make_user(db, "acme", "enterprise")
    free = throttle.ACCOUNT_NETWORK.free
    now = START
    waits = []
    for failure in range(1, free + 8):
        result = attempt(db, "acme", "wrong-password", ATTACKER, now)
        assert isinstance(result, errors.Unauthorized), (failure, result)
        with db.read() as session:
            waiting = throttle.refused(session, "acme", ATTACKER, now)
        if failure < free:
            assert waiting is None   # still free
            continue
        assert isinstance(waiting, errors.TooManyRequests)
        # The password is not even looked at while waiting.
        assert isinstance(attempt(db, "acme", PASSWORD, ATTACKER, now), errors.TooManyRequests)
        waits.append(waiting.retry_after)
        # A refused attempt is not counted: waiting the announced time is enough.
        now += dt.timedelta(seconds=waiting.retry_after)
    base, cap = throttle.BASE_DELAY.total_seconds(), throttle.MAX_DELAY.total_seconds()
    assert waits[:5] == [base, base * 2, base * 4, base * 8, base * 16]
    assert waits[-1] == cap and max(waits) == cap
    # After the wait the owner gets in from there and the pair's count starts again.
    assert "access_token" in attempt(db, "acme", PASSWORD, ATTACKER, now)
    assert isinstance(attempt(db, "acme", "wrong-password", ATTACKER, now), errors.Unauthorized)
    assert isinstance(attempt(db, "acme", "wrong-password", ATTACKER, now), errors.Unauthorized)


def scenario_one_network_spraying_many_usernames(db):
    make_user(db, "victim", "enterprise")
    free = throttle.NETWORK.free
    for i in range(free):
        # One try per username: no (account, network) pair ever waits.
        assert isinstance(attempt(db, f"user{i}", "wrong-password", ATTACKER, START + dt.timedelta(seconds=i)),
                          errors.Unauthorized)
    later = START + dt.timedelta(seconds=free)
    refused = attempt(db, "victim", PASSWORD, ATTACKER_NEIGHBOUR, later)
    assert isinstance(refused, errors.TooManyRequests) and refused.retry_after >= 1
    assert "access_token" in attempt(db, "victim", PASSWORD, OWNER, later)
    # Failures are forgotten after the window.
    assert "access_token" in attempt(db, "victim", PASSWORD, ATTACKER, START + throttle.WINDOW + dt.timedelta(minutes=1))


def test_owner_signs_in_from_another_network(db):
    scenario_owner_signs_in_from_another_network(db)


def test_delays_double_up_to_the_cap(db):
    scenario_delays_double_up_to_the_cap(db)


def test_one_network_spraying_many_usernames_waits_as_a_whole(db):
    scenario_one_network_spraying_many_usernames(db)


def test_a_success_does_not_clear_the_network_count(db):
    make_user(db, "mine", "enterprise")
    for i in range(throttle.NETWORK.free - 1):
        attempt(db, f"x{i}", "wrong-password", ATTACKER, START)
    assert "access_token" in attempt(db, "mine", PASSWORD, ATTACKER, START)
    attempt(db, "y", "wrong-password", ATTACKER, START)
    assert isinstance(attempt(db, "mine", PASSWORD, ATTACKER, START), errors.TooManyRequests)


@pytest.mark.parametrize("ip,network", [
    ("203.0.113.50", "203.0.113.0/24"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.0/24"),
    (None, ""),
])
def test_client_network(ip, network):
    assert throttle.client_network(ip) == network


def test_ipv6_counts_per_slash_64(db):
    make_user(db, "six", "enterprise")
    for i in range(throttle.ACCOUNT_NETWORK.free):
        attempt(db, "six", "wrong-password", f"2001:db8:1:2::{i + 1:x}", START)
    assert isinstance(attempt(db, "six", PASSWORD, "2001:db8:1:2:ffff::9", START), errors.TooManyRequests)
    assert "access_token" in attempt(db, "six", PASSWORD, "2001:db8:1:3::1", START)


def test_retry_after_survives_the_rpc_round_trip():
    # nameko ships args and rebuilds the exception on the gateway side.
    from nameko.exceptions import deserialize, serialize

    sent = errors.TooManyRequests("wait / 稍候", code="login_throttled", retry_after=120)
    received = deserialize(serialize(sent))
    assert isinstance(received, errors.TooManyRequests)
    assert (received.code, received.retry_after, received.status) == ("login_throttled", 120, 429)
    assert errors.TooManyRequests("x").retry_after == 60   # a 429 always says when
    # Errors without one stay without one (nameko sends None as the string "None").
    plain = deserialize(serialize(errors.Conflict("x", code="licence_under_review")))
    assert plain.retry_after is None and "retry_after" not in plain.problem()


def test_gateway_renders_retry_after_header():
    from services.gateway.http import problem_response

    response = problem_response(errors.TooManyRequests("wait", code="login_throttled", retry_after=45))
    assert response.status_code == 429 and response.headers["Retry-After"] == "45"
    assert problem_response(errors.NotFound("x")).headers.get("Retry-After") is None
