"""The platform's event archive: one RabbitMQ stream bound to every `<service>.events` exchange.

Rule (docs/asyncapi.yaml, README "Events"): every event the platform publishes is
routable from the moment it is written, because the archive takes everything
(`#`) from every events exchange. So the relay's `mandatory=True` return no
longer means "nobody subscribed yet" (which used to pile events up in the outbox
and flood the first agency to bind): it means a real misconfiguration, such as
the archive unbound or deleted, and is logged as an error and counted.

The archive is a stream (`x-queue-type=stream`): consuming it does not remove
anything, so any agency with read permission can replay from a point in time
(`x-stream-offset` = a timestamp, `first`, `last`, `next` or an offset) without
taking events from anyone else. Retention is `x-max-age` (QI_EVENT_ARCHIVE_MAX_AGE,
30D by default); RabbitMQ drops whole segments older than that.

Each service's relay declares the archive and its own exchange's binding on every
(re)connect, before it publishes anything, so a fresh broker or vhost is right
before the first event leaves.
"""
from __future__ import annotations

import logging
import re

from amqp.exceptions import PreconditionFailed

from . import config
from .events import exchange, exchange_name

log = logging.getLogger(__name__)

ARCHIVE_QUEUE = "qi.event-archive"
# RabbitMQ's x-max-age units: years, months, days, hours, minutes, seconds.
_MAX_AGE_RE = re.compile(r"^[1-9][0-9]*[YMDhms]$")


def max_age() -> str:
    value = config.event_archive_max_age()
    if not _MAX_AGE_RE.match(value):
        raise ValueError(f"QI_EVENT_ARCHIVE_MAX_AGE={value!r}: expected a number and one of Y M D h m s, e.g. 30D")
    return value


def arguments() -> dict:
    return {"x-queue-type": "stream", "x-max-age": max_age()}


def declare(connection, source: str) -> None:
    """Declare the archive (if missing) and bind `<source>.events` to it with `#`.

    An archive that already exists with other arguments (retention changed in
    the environment) is kept as it is, with a warning: a queue's arguments cannot
    change once declared; change retention with a policy (`rabbitmqctl
    set_policy ... '{"max-age":"90D"}' --apply-to queues`) instead.
    """
    channel = connection.channel()
    try:
        exchange(source)(channel).declare()
        try:
            channel.queue_declare(queue=ARCHIVE_QUEUE, durable=True, auto_delete=False, arguments=arguments())
        except PreconditionFailed as exc:
            log.warning("event archive %s exists with other arguments (%s); kept as it is", ARCHIVE_QUEUE, exc)
            channel = connection.channel()  # the broker closed the failed one
            channel.queue_declare(queue=ARCHIVE_QUEUE, passive=True)
        channel.queue_bind(queue=ARCHIVE_QUEUE, exchange=exchange_name(source), routing_key="#")
    finally:
        try:
            channel.close()
        except Exception:  # an already closed channel
            pass
