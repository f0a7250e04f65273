"""Sign-in throttling per (account, client network) and per client network.

The old rule (five failures for a username lock it for 15 minutes) let anyone
lock anyone out, admins included: the right password from the owner's own
network was refused too. Now failures are counted under two keys:

* (username, network): a guesser slows down on the account *from where it
  guesses*; the owner signing in from another network is not affected, and the
  owner's own success from the same network clears the count;
* network alone: one network trying many usernames slows down as a whole (a
  success does not clear this count, or one valid account would launder it).

A network is the IPv4 /24 or IPv6 /64 of the client address (one subscriber or
one office NAT usually owns it whole; per address, a client could rotate past
any limit). Keys are HMACs, so neither usernames typed (people type phone
numbers into the box) nor client addresses are kept at rest.

Delays grow instead of a hard lock: after `free` failures the next attempt
waits BASE_DELAY, and every further failure doubles the wait, up to MAX_DELAY. Failures older than WINDOW are forgotten. While a key
waits, attempts are refused with 429 `login_throttled` and `retry_after` before
the password is checked, so a throttled guesser learns nothing, and a refused
attempt is not itself counted (a waiting key never waits longer because
someone keeps knocking). Rows are insert-only, so concurrent failures never
conflict with each other.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from services.common import config
from services.common.errors import TooManyRequests

from .models import LoginFailure

WINDOW = dt.timedelta(hours=1)
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Scope:
    name: str
    column: str
    free: int   # failures after which the next attempt waits


# Five tries at one's own password are plenty; a shared office network sees many
# people mistype, so it gets more before it slows down.
ACCOUNT_NETWORK = Scope("account_network", "account_network_key", free=5)
NETWORK = Scope("network", "network_key", free=30)
SCOPES = (ACCOUNT_NETWORK, NETWORK)


def client_network(ip: str | None) -> str:
    """The /24 (IPv4) or /64 (IPv6) the address belongs to; "" when unknown.

    Without an address (a call that bypassed the gateway) all such calls share
    one bucket rather than none.
    """
    if not ip:
        return ""
    text = str(ip).strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text[:100]
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 64 if address.version == 6 else 24
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _key(*parts: str) -> str:
    secret = config.blind_index_key().encode("utf-8")
    return hmac.new(secret, b"login\x00" + b"\x00".join(p.encode("utf-8") for p in parts), hashlib.sha256).hexdigest()


def keys(username: str, ip: str | None) -> dict[str, str]:
    network = client_network(ip)
    return {ACCOUNT_NETWORK.column: _key("account", username.strip().lower(), network),
            NETWORK.column: _key("network", network)}


def delay_after(failures: int, free: int) -> dt.timedelta:
    """How long to wait after the latest of `failures` failures."""
    extra = failures - free
    if extra < 0:
        return dt.timedelta(0)
    # Capped exponent: 2**extra would overflow timedelta long before MAX_DELAY matters.
    return min(MAX_DELAY, BASE_DELAY * (2 ** min(extra, 20)))


def wait_for(session, scope: Scope, key: str, now: dt.datetime) -> dt.timedelta:
    column = getattr(LoginFailure, scope.column)
    failures, last = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(column == key).where(LoginFailure.at > now - WINDOW)
    ).one()
    if not failures or last is None:
        return dt.timedelta(0)
    remaining = last + delay_after(failures, scope.free) - now
    return remaining if remaining > dt.timedelta(0) else dt.timedelta(0)


def refused(session, username: str, ip: str | None, now: dt.datetime) -> TooManyRequests | None:
    """The 429 (with retry_after) if either key must still wait, else None."""
    waits = [wait_for(session, scope, key, now) for scope, key in zip(SCOPES, keys(username, ip).values())]
    longest = max(waits)
    if longest <= dt.timedelta(0):
        return None
    seconds = max(1, math.ceil(longest.total_seconds()))
    return TooManyRequests(f"Too many failed sign-ins from your network; retry in {seconds} s / "
                           f"登录失败次数过多，请 {seconds} 秒后再试", code="login_throttled", retry_after=seconds)


def record_failure(session, username: str, ip: str | None, now: dt.datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add(LoginFailure(at=now, **keys(username, ip)))


def record_success(session, username: str, ip: str | None) -> None:
    """The owner got in from this network: its (account, network) count starts again."""
    key = keys(username, ip)[ACCOUNT_NETWORK.column]
    session.execute(delete(LoginFailure).where(LoginFailure.account_network_key == key))
