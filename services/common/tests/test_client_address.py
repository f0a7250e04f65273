"""services.common.client_address: a service believes the client's address only as the gateway sealed it."""
from __future__ import annotations

import time

from services.common import caller, client_address
from services.common.caller_rpc import _ContextWriter


class _Worker:
    def __init__(self):
        self.data = {}


def test_the_gateways_context_writer_seals_the_address_for_its_deadline():
    worker = _Worker()
    bus = _ContextWriter(worker)
    bus.set(access_token="t", client_ip="203.0.113.9", request_id="r-1")
    assert client_address.SEAL_KEY not in worker.data          # no deadline yet: nothing to seal for
    bus.set(deadline=time.time() + 5)
    assert client_address.trusted_ip(worker.data) == "203.0.113.9"
    bus.set(client_ip=None)
    assert client_address.SEAL_KEY not in worker.data and client_address.trusted_ip(worker.data) is None


def test_an_asserted_or_altered_address_is_not_believed():
    assert client_address.trusted_ip({caller.CLIENT_IP_KEY: "198.51.100.1"}) is None   # asserted, unsealed
    data = client_address.sealed("203.0.113.9", request_id="r-1")
    for key, value in ((caller.CLIENT_IP_KEY, "203.0.113.10"), (caller.REQUEST_ID_KEY, "r-2"),
                       (caller.DEADLINE_KEY, f"{time.time() + 3600:.3f}"), (client_address.SEAL_KEY, "0" * 64)):
        forged = dict(data, **{key: value})
        assert client_address.trusted_ip(forged) is None, key
    assert client_address.trusted_ip(data) == "203.0.113.9"


def test_a_seal_is_not_believed_after_its_deadline():
    data = client_address.sealed("203.0.113.9", seconds=5)
    assert client_address.trusted_ip(data, now=time.time() + 6) is None


def test_another_key_makes_another_seal(monkeypatch):
    data = client_address.sealed("203.0.113.9")
    monkeypatch.setenv("QI_CONTEXT_SEAL_KEY", "another-key-of-another-platform")
    assert client_address.trusted_ip(data) is None
