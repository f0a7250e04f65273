"""Gateway request handling that needs no broker: client address and header limits."""
from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.errors import BadRequest
from services.gateway.service import check_headers, client_ip


def request(headers=None, remote="198.51.100.7"):
    return Request(EnvironBuilder(headers=headers or {}, environ_base={"REMOTE_ADDR": remote}).get_environ())


def test_forwarded_for_from_an_untrusted_peer_is_ignored(monkeypatch):
    monkeypatch.delenv("QI_TRUSTED_PROXIES", raising=False)
    assert client_ip(request({"X-Forwarded-For": "203.0.113.77"})) == "198.51.100.7"


def test_forwarded_for_from_a_trusted_proxy_gives_the_nearest_untrusted_hop(monkeypatch):
    monkeypatch.setenv("QI_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.6")
    spoofed_then_real = {"X-Forwarded-For": "1.2.3.4, 203.0.113.9, 10.0.0.6"}
    assert client_ip(request(spoofed_then_real, remote="10.0.0.5")) == "203.0.113.9"


@pytest.mark.parametrize("headers", [{"Idempotency-Key": "k" * 201}, {"Idempotency-Key": "  "},
                                     {"X-Request-Id": "r" * 65}])
def test_oversized_or_blank_headers_are_a_400(headers):
    with pytest.raises(BadRequest) as caught:
        check_headers(request(headers))
    assert caught.value.code == "invalid_header"


def test_ordinary_headers_pass():
    check_headers(request({"Idempotency-Key": "k" * 200, "X-Request-Id": "req-1"}))
