"""Replies and pending calls of services.common.direct_rpc, without a broker.

The broker paths (a service not running, the connection breaking under a waiting
call, replies to nameko's own proxies) run for real in tests/e2e/test_resilience.py
and in every interface test that calls a service with nameko's ClusterRpcProxy.
"""
from __future__ import annotations

import json

import pytest
from nameko.exceptions import UnknownService

from services.common.direct_rpc import BrokerBlocked, DirectReplyClient, PendingReply
from services.common.rpc_replies import ReplyChannels
from services.common.errors import NotFound


class FakeChannel:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.published = []

    def basic_publish(self, message, exchange, routing_key, **_):
        if self.fail:
            raise ConnectionResetError("gone")
        self.published.append((exchange, routing_key, message))


class FakeConnection:
    released = False

    def collect(self):   # dropped without a close handshake: the socket may be dead
        self.released = True


def channels_with(*pairs) -> tuple[ReplyChannels, list]:
    channels = ReplyChannels("amqp://unused/", exchange="nameko-rpc")
    opened = []

    def open_new():
        pair = (FakeConnection(), FakeChannel())
        opened.append(pair)
        return pair
    channels._open = open_new
    channels._free = list(pairs)
    return channels, opened


def test_a_direct_reply_to_caller_is_answered_on_the_default_exchange():
    channel = FakeChannel()
    replies, _ = channels_with((FakeConnection(), channel))
    replies.send({"reply_to": "amq.rabbitmq.reply-to.g1h2AA", "correlation_id": "c-1"}, {"ok": 1}, None)
    [(exchange, routing_key, message)] = channel.published
    assert (exchange, routing_key) == ("", "amq.rabbitmq.reply-to.g1h2AA")
    assert message.properties["correlation_id"] == "c-1"
    assert json.loads(message.body) == {"result": {"ok": 1}, "error": None}


def test_a_nameko_proxy_is_answered_on_the_rpc_exchange_as_before():
    channel = FakeChannel()
    replies, _ = channels_with((FakeConnection(), channel))
    replies.send({"reply_to": "5b1c1d7e-reply-queue", "correlation_id": "c-2"}, None,
                 (NotFound, NotFound("no such thing"), None))
    [(exchange, routing_key, message)] = channel.published
    assert (exchange, routing_key) == ("nameko-rpc", "5b1c1d7e-reply-queue")
    error = json.loads(message.body)["error"]
    assert error["exc_type"] == "NotFound"


def test_an_unserialisable_result_is_answered_as_an_error_not_silence():
    channel = FakeChannel()
    replies, _ = channels_with((FakeConnection(), channel))
    result, exc_info = replies.send({"reply_to": "amq.rabbitmq.reply-to.x", "correlation_id": "c"}, {"x": object()},
                                    None)
    assert result is None and exc_info is not None
    assert json.loads(channel.published[0][2].body)["error"]["exc_type"] == "UnserializableValueError"


def test_a_pooled_connection_the_broker_closed_is_replaced_once():
    dead = (FakeConnection(), FakeChannel(fail=True))
    replies, opened = channels_with(dead)
    replies.send({"reply_to": "amq.rabbitmq.reply-to.x", "correlation_id": "c"}, 1, None)
    assert dead[0].released
    [(_, fresh)] = opened
    assert len(fresh.published) == 1
    assert replies._free == [opened[0]]   # the fresh one is pooled, the dead one is not


class Message:
    """What py-amqp hands the reply and return callbacks."""

    def __init__(self, correlation_id, body=None):
        self.properties = {"correlation_id": correlation_id}
        self.body = body


def client_waiting_for(**calls) -> DirectReplyClient:
    client = DirectReplyClient("amqp://unused/")
    client._pending = dict(calls)
    return client


def test_replies_match_their_calls_and_a_forgotten_call_drops_its_late_reply():
    first, second = PendingReply("identity", "a"), PendingReply("identity", "b")
    client = client_waiting_for(a=first, b=second)
    client.forget(first)
    client._on_reply(Message("a", b'{"result": "late", "error": null}'))   # dropped: nobody waits
    client._on_reply(Message("b", b'{"result": "mine", "error": null}'))
    assert second.result() == "mine"
    assert client._pending == {}


def test_a_returned_request_is_unknown_service_and_a_lost_connection_fails_every_waiting_call():
    returned, waiting = PendingReply("booking"), PendingReply("identity")
    client = client_waiting_for(r=returned, w=waiting)
    client._on_return(None, "nameko-rpc", "booking.ping", Message("r"))
    with pytest.raises(UnknownService):
        returned.result()

    connection = FakeConnection()
    client._channel, client._connection = object(), connection
    client._drop(client._channel, OSError("reset"))
    with pytest.raises(ConnectionError):
        waiting.result()
    assert client._channel is None and client._pending == {} and connection.released


def test_replies_with_kombu_typed_values_decode_as_kombu_does():
    from decimal import Decimal
    from kombu.utils.json import dumps
    from services.common.direct_rpc import _decode
    body = dumps({"result": {"fee": Decimal("12.30"), "name": "检测"}, "error": None}).encode()
    assert _decode(body) == {"result": {"fee": Decimal("12.30"), "name": "检测"}, "error": None}
    assert _decode(body.decode()) == _decode(body)   # py-amqp gives a utf-8 body as text
    for plain in (b'{"result": {"a": [1, 2]}, "error": null}', '{"result": {"a": [1, 2]}, "error": null}'):
        assert _decode(plain) == {"result": {"a": [1, 2]}, "error": None}


def test_an_unreadable_reply_fails_its_own_call_only():
    broken, other = PendingReply("identity"), PendingReply("identity")
    client = client_waiting_for(a=broken, b=other)
    client._on_reply(Message("a", "{not json"))
    with pytest.raises(ValueError):
        broken.result()
    assert client._pending == {"b": other}


class FailingClient:
    def __init__(self, exc):
        self.exc = exc
        self.timeouts = []

    def call(self, service, method, args, kwargs, *, headers, timeout, expiration):
        self.timeouts.append(timeout)
        raise self.exc


class Worker:
    context_data = {}


@pytest.mark.parametrize("failure, code", [
    (UnknownService("identity"), "service_unavailable"),
    (ConnectionResetError("reset"), "broker_unavailable"),
    (BrokerBlocked("memory alarm"), "broker_unavailable"),
])
def test_a_service_calling_another_gets_a_503_when_it_is_not_there(failure, code):
    from services.common.direct_rpc import _ServiceCalls
    from services.common.errors import ServiceUnavailable
    with pytest.raises(ServiceUnavailable) as caught:
        _ServiceCalls(FailingClient(failure), Worker(), "identity").get_user("u-1")
    assert caught.value.code == code


def test_a_service_calling_another_waits_no_longer_than_its_own_caller(monkeypatch):
    import eventlet
    from services.common import deadlines
    from services.common.direct_rpc import _ServiceCalls
    monkeypatch.setenv("QI_RPC_TIMEOUT", "5")
    client = FailingClient(eventlet.Timeout())
    token = deadlines.activate(__import__("time").time() + 1.5, "matching", "publish_demand")
    try:
        with pytest.raises(deadlines.DeadlineExceeded):
            _ServiceCalls(client, Worker(), "identity").account_kind("u-1")
    finally:
        deadlines.reset(token)
    with pytest.raises(deadlines.DeadlineExceeded):
        _ServiceCalls(client, Worker(), "identity").ping()
    assert 1.0 < client.timeouts[0] <= 1.5 and client.timeouts[1] == 5.0


class BreakingChannel:
    """A channel whose connection the broker closed: the publish fails."""

    def basic_publish(self, *args, **kwargs):
        raise ConnectionResetError("closed by the broker")


def test_a_publish_retried_on_a_new_connection_is_a_call_of_its_own():
    client = DirectReplyClient("amqp://unused/")
    waiting = PendingReply("identity", "w")
    fresh = FakeChannel()
    channels = iter([BreakingChannel(), fresh])

    def ensure():
        client._channel = next(channels)
        client._connection = FakeConnection()
        return client._channel
    client._ensure_channel = ensure
    client._pending = {"w": waiting}
    pending = client.call_async("identity", "me", (), {})
    # The broken connection failed what waited on it; the retried request waits for its own reply.
    with pytest.raises(ConnectionError):
        waiting.result()
    [(exchange, routing_key, message)] = fresh.published
    assert (exchange, routing_key) == ("nameko-rpc", "identity.me")
    assert client._pending == {pending.correlation_id: pending}
    assert message.properties["correlation_id"] == pending.correlation_id
    client._on_reply(Message(pending.correlation_id, '{"result": {"id": "u-1"}, "error": null}'))
    assert pending.result() == {"id": "u-1"}


def client_on(channel) -> DirectReplyClient:
    client = DirectReplyClient("amqp://unused/")
    client._channel, client._connection = channel, FakeConnection()
    return client


def test_while_the_broker_blocks_publishing_a_call_fails_at_once_unsent_and_replies_still_count():
    channel = FakeChannel()
    client = client_on(channel)
    waiting = client.call_async("identity", "me", (), {})
    client._on_blocked("low on memory")
    with pytest.raises(BrokerBlocked):
        client.call_async("identity", "me", (), {})
    assert len(channel.published) == 1 and list(client._pending) == [waiting.correlation_id]
    client._on_reply(Message(waiting.correlation_id, '{"result": 1, "error": null}'))   # the reader goes on
    assert waiting.result() == 1
    client._on_unblocked()
    client.call_async("identity", "me", (), {})
    assert len(channel.published) == 2


class StalledChannel(FakeChannel):
    """A socket the broker stopped reading: the publish never returns."""

    def basic_publish(self, *args, **kwargs):
        import eventlet
        eventlet.sleep(10)


def test_a_publish_cut_by_its_callers_timeout_drops_the_connection_it_may_have_half_written():
    import eventlet
    client = client_on(StalledChannel())
    connection = client._connection
    other = PendingReply("identity", "o")
    client._pending = {"o": other}
    with pytest.raises(eventlet.Timeout):
        client.call("identity", "me", (), {}, timeout=0.05)
    assert connection.released and client._channel is None
    with pytest.raises(ConnectionError):   # its frames shared the stream: failed now, not at their timeout
        other.result()
