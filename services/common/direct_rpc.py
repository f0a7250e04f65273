"""Request/reply over RabbitMQ's direct reply-to, on one held connection per process.

The gateway makes one RPC for nearly every HTTP request, so what an RPC costs the
calling process is what the platform's throughput is made of. nameko's `RpcProxy`
builds a `Connection` object, acquires a pooled producer and waits for a publisher
confirm on every call, and its replies go through a durable reply queue that the broker
stores, delivers and has acknowledged. Here (measured in docs/performance.md):

- requests are published on one channel held for the process's life, with
  `mandatory`: a request no queue takes (the service never started on this vhost; one
  that stopped leaves its durable `rpc-<service>` queue, and its callers get the 504) comes back as
  `basic.return` at once, which is the 503 `service_unavailable` nameko needed the
  confirm for;
- replies come on the same channel, from RabbitMQ's `amq.rabbitmq.reply-to`
  pseudo-queue: no queue to declare, store or acknowledge; the broker routes a reply
  straight to this connection, or drops it if this connection is gone (the caller
  then gets its 504 either way);
- one green thread reads the connection. When the broker closes it or the socket
  breaks, every waiting call fails at once (503 `broker_unavailable`), not after its
  timeout, and the next call connects again. Such a call may have reached its service
  and be done there: clients retry writes with their Idempotency-Key;
- while the broker says the connection is blocked (`connection.blocked`: a memory or
  disk alarm, when RabbitMQ stops reading what publishers send), a call fails at once
  with `BrokerBlocked` (503 `broker_unavailable`, never sent, so not done) instead of
  queueing in a socket nobody reads until every caller's timeout. Replies still arrive.
  A publish interrupted half-written (its caller's timeout) leaves the frame stream
  unusable, so the connection is dropped as if it had broken.

The wire format is nameko's (exchange `nameko-rpc`, routing key `service.method`,
`{"args", "kwargs"}`, context data as `nameko.*` headers, `{"result", "error"}`
replies). A direct reply-to address must be answered on the default exchange, which
the platform's entrypoint does (services.common.rpc_replies.ReplyChannels; every RPC method is one:
services/common/tests/test_rpc_entrypoints.py); nameko's plain `rpc` answers on
`nameko-rpc`, where such a reply is dropped. Other callers (nameko's own proxies, tests)
are answered on `nameko-rpc` as before.

Without a confirm a request the broker accepted but lost (a broker crash between
receipt and routing) is never run: the caller waits for its timeout and gets a 504
that means "not done", which the gateway's contract already says.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
import uuid

import amqp
import eventlet
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection
from kombu.utils.json import dumps, loads
from nameko.exceptions import UnknownService, deserialize
from nameko.extensions import DependencyProvider, SharedExtension

log = logging.getLogger(__name__)

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
HEADER_PREFIX = "nameko"
RPC_EXCHANGE = "nameko-rpc"
JSON = "application/json"


def _decode(body):
    """kombu's JSON, whose object hook turns `{"__type__", "__value__"}` pairs (Decimal, datetime,
    UUID as kombu encodes them) back into values; most replies hold none, and the hook on every
    object was a twentieth of the gateway's CPU, so it runs only for a body that has one.
    py-amqp hands a utf-8 body over as text, anything else as bytes."""
    if ('"__type__"' if isinstance(body, str) else b'"__type__"') in body:
        return loads(body)
    return json.loads(body)


class BrokerGone(ConnectionError):
    """The connection a call was waiting on closed before its reply came."""


class BrokerBlocked(ConnectionError):
    """The broker blocked publishing (a resource alarm): the request was not sent."""


class PendingReply:
    """One call in flight: `result()` waits for the reply and returns or raises it."""

    __slots__ = ("_event", "service", "correlation_id")

    def __init__(self, service: str, correlation_id: str = ""):
        self._event = Event()
        self.service = service
        self.correlation_id = correlation_id

    def _send(self, body=None, exc: BaseException | None = None) -> None:
        if not self._event.ready():
            if exc is not None:
                self._event.send_exception(exc)
            else:
                self._event.send(body)

    def result(self):
        body = self._event.wait()
        error = body.get("error")
        if error:
            raise deserialize(error)
        return body["result"]


class DirectReplyClient:
    """The process's RPC client: one connection, one channel, one reader (see the module)."""

    def __init__(self, amqp_uri: str, *, ssl=None, login_method=None, heartbeat: int = 60,
                 connect_timeout: float = 5.0, exchange: str = RPC_EXCHANGE):
        self.amqp_uri = amqp_uri
        self.ssl = ssl
        self.login_method = login_method
        self.heartbeat = heartbeat
        self.connect_timeout = connect_timeout
        self.exchange = exchange
        self._pending: dict[str, PendingReply] = {}
        # Frames of one publish (and a heartbeat) must not interleave with another's on the socket.
        self._write = Semaphore()
        self._connection: Connection | None = None
        self._channel = None
        self._reader = None
        self._ids = itertools.count()
        self._prefix = f"{os.getpid()}.{uuid.uuid4().hex[:8]}."
        self._stopped = False
        self.blocked: str | None = None    # the broker's reason while it blocks this connection

    # -- calls ---------------------------------------------------------------------------
    def call_async(self, service: str, method: str, args=(), kwargs=None, *, headers: dict | None = None,
                   expiration: float | None = None) -> PendingReply:
        """Publish the request; its reply (or failure) arrives on the returned `PendingReply`."""
        properties = {"content_type": JSON, "content_encoding": "utf-8", "reply_to": DIRECT_REPLY_TO,
                      "delivery_mode": 1,
                      "application_headers": {f"{HEADER_PREFIX}.{k}": v for k, v in (headers or {}).items()
                                              if v is not None}}
        if expiration is not None:
            properties["expiration"] = str(int(expiration * 1000))
        body = dumps({"args": list(args), "kwargs": kwargs or {}})
        # One reconnection: a connection the broker closed while idle is noticed by the reader,
        # but a publish may come first. The retry is a new call (its own correlation id): the
        # failed attempt's was failed with the others waiting on the broken connection.
        for attempt in (1, 2):
            channel = self._ensure_channel()
            if self.blocked is not None:
                raise BrokerBlocked(f"the broker blocks publishing: {self.blocked}")
            pending = PendingReply(service, self._prefix + str(next(self._ids)))
            self._pending[pending.correlation_id] = pending
            writing = False
            try:
                with self._write:
                    writing = True
                    channel.basic_publish(amqp.Message(body, correlation_id=pending.correlation_id, **properties),
                                          exchange=self.exchange, routing_key=f"{service}.{method}", mandatory=True)
                    writing = False
                return pending
            except (OSError, ConnectionError, amqp.exceptions.AMQPError) as exc:
                # A channel error closes the one channel the replies come on, too: start afresh.
                self._pending.pop(pending.correlation_id, None)
                self._drop(channel, exc)
                if attempt == 2:
                    raise
            except BaseException as exc:   # the caller's timeout, a killed worker
                self._pending.pop(pending.correlation_id, None)
                if writing:   # part of a frame may be on the wire: nothing more can follow it
                    self._drop(channel, exc)
                raise

    def forget(self, pending: PendingReply) -> None:
        """The caller stopped waiting (its timeout): a late reply is then dropped."""
        self._pending.pop(pending.correlation_id, None)

    def call(self, service: str, method: str, args=(), kwargs=None, *, headers=None, timeout: float,
             expiration: float | None = None):
        pending = None
        try:
            with eventlet.Timeout(timeout):   # the publish too: a stalled socket is waited on no longer
                pending = self.call_async(service, method, args, kwargs, headers=headers, expiration=expiration)
                return pending.result()
        except eventlet.Timeout:
            if pending is not None:
                self.forget(pending)
            raise

    # -- the connection ------------------------------------------------------------------
    def _ensure_channel(self):
        if self._channel is not None:
            return self._channel
        with self._write:
            if self._channel is None:
                if self._stopped:
                    raise BrokerGone("the RPC client is stopped")
                connection = Connection(self.amqp_uri, ssl=self.ssl, login_method=self.login_method,
                                        heartbeat=self.heartbeat, connect_timeout=self.connect_timeout)
                try:
                    connection.connect()
                    channel = connection.channel()
                    # As nameko's proxies do: on a vhost where no service ever ran, a publish to an
                    # exchange that does not exist would close the channel instead of returning.
                    channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
                    channel.events["basic_return"].add(self._on_return)
                    channel.basic_consume(DIRECT_REPLY_TO, no_ack=True, callback=self._on_reply)
                    # kombu takes no blocked callbacks; py-amqp looks them up when the frame comes.
                    connection.connection.on_blocked = self._on_blocked
                    connection.connection.on_unblocked = self._on_unblocked
                except BaseException:
                    connection.collect()
                    raise
                self._connection, self._channel, self.blocked = connection, channel, None
                self._reader = eventlet.spawn(self._read, connection, channel)
        return self._channel

    def _read(self, connection: Connection, channel) -> None:
        interval = max(1.0, self.heartbeat / 4) if self.heartbeat else 5.0
        ticked = time.monotonic()
        while self._channel is channel:
            try:
                connection.drain_events(timeout=interval)
            except socket.timeout:
                pass
            except Exception as exc:
                self._drop(channel, exc)
                return
            # Heartbeats (sent, and the broker's checked) a few times per interval, not after every
            # frame: under load the reader wakes for every reply.
            # A publish holding the socket is traffic the broker counts as a heartbeat: skip the
            # tick rather than wait behind it (a stalled publish must not stop replies being read).
            if self.heartbeat and time.monotonic() - ticked >= interval and self._write.acquire(blocking=False):
                ticked = time.monotonic()
                try:
                    connection.heartbeat_check()
                except Exception as exc:
                    self._drop(channel, exc)
                    return
                finally:
                    self._write.release()

    def _drop(self, channel, exc: BaseException) -> None:
        """Fail every waiting call and forget the connection; the next call opens a new one."""
        if self._channel is not channel:
            return
        connection, self._connection, self._channel = self._connection, None, None
        waiting, self._pending = self._pending, {}
        if waiting:
            log.warning("broker connection lost with %d RPCs waiting: %s", len(waiting), exc)
        for pending in waiting.values():
            pending._send(exc=BrokerGone(f"broker connection lost: {type(exc).__name__}"))
        try:
            connection.collect()   # no close handshake on a socket that may be dead or mid-frame
        except Exception:
            pass

    def _on_blocked(self, reason: str) -> None:
        log.warning("the broker blocks publishing on the RPC connection: %s", reason)
        self.blocked = reason or "resource alarm"

    def _on_unblocked(self) -> None:
        log.warning("the broker unblocked the RPC connection")
        self.blocked = None

    def _on_reply(self, message) -> None:
        pending = self._pending.pop(message.properties.get("correlation_id"), None)
        if pending is None:
            return  # its caller gave up (504) or the id is not ours
        try:
            pending._send(_decode(message.body))
        except Exception as exc:  # this call's reply is unreadable; the connection and the others are fine
            pending._send(exc=exc)

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        pending = self._pending.pop(message.properties.get("correlation_id"), None)
        if pending is not None:
            pending._send(exc=UnknownService(pending.service))

    def stop(self) -> None:
        self._stopped = True
        if self._channel is not None:
            self._drop(self._channel, BrokerGone("stopping"))


class _ProcessClient(SharedExtension):
    """The container's one DirectReplyClient, shared by every provider below."""

    def setup(self):
        config = self.container.config
        self.client = DirectReplyClient(config["AMQP_URI"], ssl=config.get("AMQP_SSL"),
                                        login_method=config.get("LOGIN_METHOD"),
                                        heartbeat=config.get("HEARTBEAT", 60))   # nameko's key and default

    def stop(self):
        self.client.stop()

    def kill(self):
        self.client.stop()


class DirectRpc(DependencyProvider):
    """For the gateway: `self.rpc.call_async(service, method, *args, **kwargs)`, waited on by the caller.

    The worker's context data (the caller's token, sealed address, request id and
    deadline, set by `CallerContext`) travel as the request's headers, as with nameko's
    proxies. `expiration` (seconds) drops a request the service has not picked up by then.
    """

    process_client = _ProcessClient()

    def __init__(self, *, expiration: float | None = None):
        self.expiration = expiration

    def get_dependency(self, worker_ctx):
        return _WorkerRpc(self.process_client.client, worker_ctx, self.expiration)


class _WorkerRpc:
    __slots__ = ("client", "worker_ctx", "expiration")

    def __init__(self, client, worker_ctx, expiration):
        self.client, self.worker_ctx, self.expiration = client, worker_ctx, expiration

    def call_async(self, service: str, method: str, /, *args, **kwargs) -> PendingReply:
        # Positional-only: a call's own keywords (query fields) may be named "service" or "method".
        return self.client.call_async(service, method, args, kwargs, headers=self.worker_ctx.context_data,
                                      expiration=self.expiration)

    def forget(self, pending: PendingReply) -> None:
        self.client.forget(pending)


class ServiceRpc(DependencyProvider):
    """For a service calling another: `self.identity.get_user(user_id)`, as with nameko's RpcProxy,
    but never waiting longer than the call it serves may take.

    The wait is what is left of the caller's deadline (services.common.deadlines), at most the
    RPC timeout (also for work without a deadline: timers); nameko's proxy would wait for ever for a reply
    from a process that died holding the request. Past it: DeadlineExceeded, so the worker
    ends as its caller already has. A service not running or a broker that went away is a
    503, not a 500. The caller's token travels along in the context data: the called
    service verifies it, as it does the gateway's.
    """

    process_client = _ProcessClient()

    def __init__(self, service: str):
        self.service = service

    def get_dependency(self, worker_ctx):
        return _ServiceCalls(self.process_client.client, worker_ctx, self.service)


class _ServiceCalls:
    __slots__ = ("_client", "_worker_ctx", "_service")

    def __init__(self, client, worker_ctx, service):
        self._client, self._worker_ctx, self._service = client, worker_ctx, service

    def __getattr__(self, method: str):
        def call(*args, **kwargs):
            from . import config, deadlines
            from .errors import ServiceUnavailable
            left = deadlines.remaining()
            timeout = config.rpc_timeout() if left is None else max(0.0, min(left, config.rpc_timeout()))
            try:
                return self._client.call(self._service, method, args, kwargs, headers=self._worker_ctx.context_data,
                                         timeout=timeout, expiration=max(0.1, timeout))
            except eventlet.Timeout:
                raise deadlines.expired_error() from None
            except UnknownService:
                raise ServiceUnavailable(f"{self._service} is not running / 服务未运行", code="service_unavailable",
                                         retry_after=5) from None
            except (OSError, ConnectionError, amqp.exceptions.AMQPError) as exc:
                raise ServiceUnavailable(f"Message broker unreachable: {type(exc).__name__} / 消息总线不可用",
                                         code="broker_unavailable", retry_after=5) from None
        call.__name__ = method
        return call
