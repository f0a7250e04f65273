"""Replies of a service process to RPC callers (services.common.direct_rpc for the calling side).

Published on pooled channels, serialised once, without confirms; a direct reply-to caller
(the gateway, services calling services) is answered on the default exchange, any other
caller (nameko's own proxies, tests) on the RPC exchange.
"""
from __future__ import annotations

import sys

import amqp
from kombu import Connection
from kombu.utils.json import dumps
from nameko.exceptions import UnserializableValueError, serialize

from .direct_rpc import DIRECT_REPLY_TO, JSON, RPC_EXCHANGE


class ReplyChannels:
    """Replies of one service process, published on pooled channels without confirms.

    A confirm would make the worker wait a broker round trip after its work is done and
    buys nothing for a reply: the caller's reply queue (or direct reply-to consumer) is
    tied to its connection, so a confirmed reply is lost just the same when that goes.
    Either way the caller times out (504) and retries; a creating write retried with its
    Idempotency-Key gets the stored result (services.common.consumer.run_idempotent).
    """

    def __init__(self, amqp_uri: str, *, ssl=None, login_method=None, exchange: str = RPC_EXCHANGE):
        self.amqp_uri, self.ssl, self.login_method, self.exchange = amqp_uri, ssl, login_method, exchange
        self._free: list = []   # idle (connection, channel) pairs, most recently used last

    def _open(self):
        connection = Connection(self.amqp_uri, ssl=self.ssl, login_method=self.login_method, heartbeat=0,
                                connect_timeout=5)
        connection.connect()
        return connection, connection.channel()

    def send(self, request_properties: dict, result, exc_info) -> tuple:
        """Answer one request as nameko's Responder does; returns (result, exc_info) as sent."""
        error = serialize(exc_info[1]) if exc_info is not None else None
        try:
            body = dumps({"result": result, "error": error})
        except Exception:  # nameko's "disaster avoidance": the caller gets an error, not silence
            exc_info = sys.exc_info()
            body = dumps({"result": None, "error": serialize(UnserializableValueError(result))})
            result = None
        reply_to = request_properties["reply_to"]
        exchange = "" if reply_to.startswith(DIRECT_REPLY_TO) else self.exchange
        message = amqp.Message(body, content_type=JSON, content_encoding="utf-8", delivery_mode=1,
                               correlation_id=request_properties.get("correlation_id"))
        for attempt in (1, 2):
            pair = (self._free.pop() if self._free else self._open()) if attempt == 1 else self._open()
            try:
                pair[1].basic_publish(message, exchange=exchange, routing_key=reply_to)
            except (OSError, ConnectionError, amqp.exceptions.AMQPError):
                # The pooled connections share the broker's fate (a restart, a cut): drop them all,
                # so that the retry, on a fresh one, is not lost on another dead one.
                for connection, _ in [pair, *self._free]:
                    try:
                        connection.collect()   # no close handshake on a dead socket
                    except Exception:
                        pass
                self._free = []
                if attempt == 2:
                    raise
                continue
            self._free.append(pair)
            return result, exc_info
        return result, exc_info

    def close(self) -> None:
        while self._free:
            connection, _ = self._free.pop()
            try:
                connection.release()
            except Exception:
                pass
