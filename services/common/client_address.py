"""The client's address as the gateway saw it, sealed so that a service can believe it.

Anything on the broker can call any RPC and put any `qi.client_ip` header on it, so
the per-network throttles (sign-in, registration conflicts, report verification) and
the address in the audit trail were the caller's word. The gateway now seals the
address: an HMAC-SHA256 under QI_CONTEXT_SEAL_KEY (held by the platform's processes
only, like the PII keys) over the address, the request id and the RPC's deadline. A
service believes the address only with a valid seal whose deadline has not passed, so
a captured seal can be replayed for at most one RPC timeout and only for the same
address. Anything else counts as "no address": the throttles then put the call in the
one bucket shared by every call that bypassed the gateway (never in none), and the
audit records no address rather than an asserted one.

HMAC, not a signature: the seal is checked on every call and must cost microseconds
(an Ed25519 verification is ~0.1 ms, the share the perf work just took off each call);
every holder of the key is a platform process, trusted with the PII keys already.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from . import caller, config

SEAL_KEY = "qi.client_seal"


def _mac(ip: str, request_id: str | None, deadline: str) -> str:
    message = "\x00".join((ip, request_id or "", deadline)).encode("utf-8")
    return hmac.new(config.context_seal_key().encode("utf-8"), message, hashlib.sha256).hexdigest()


def seal(context_data: dict) -> None:
    """Gateway: (re)seal the address in `context_data` for the deadline set there; unseal without one."""
    ip, deadline = context_data.get(caller.CLIENT_IP_KEY), context_data.get(caller.DEADLINE_KEY)
    if ip is None or deadline is None:
        context_data.pop(SEAL_KEY, None)
        return
    context_data[SEAL_KEY] = _mac(ip, context_data.get(caller.REQUEST_ID_KEY), deadline)


def trusted_ip(context_data: dict | None, now: float | None = None) -> str | None:
    """The address the gateway sealed for this call, or None (unsealed, forged, or past its deadline)."""
    if not context_data:
        return None
    ip, given = context_data.get(caller.CLIENT_IP_KEY), context_data.get(SEAL_KEY)
    deadline = context_data.get(caller.DEADLINE_KEY)
    if not ip or not given or not deadline:
        return None
    try:
        expires = float(deadline)
    except (TypeError, ValueError):
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    expected = _mac(str(ip), context_data.get(caller.REQUEST_ID_KEY), str(deadline))
    return str(ip) if hmac.compare_digest(str(given), expected) else None


def sealed(ip: str, request_id: str | None = None, seconds: float = 60.0) -> dict:
    """Context data carrying `ip` sealed as the gateway does (tests and in-process callers)."""
    data = {caller.CLIENT_IP_KEY: ip, caller.DEADLINE_KEY: f"{time.time() + seconds:.3f}"}
    if request_id is not None:
        data[caller.REQUEST_ID_KEY] = request_id
    seal(data)
    return data
