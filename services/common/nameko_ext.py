"""nameko glue: the only module that knows about containers and entrypoints.

Domain modules stay free of nameko; a service's `service.py` wires them with
these dependency providers.
"""
from __future__ import annotations

import functools
import logging
import threading

import eventlet
from nameko.events import event_handler
from nameko.extensions import DependencyProvider
from prometheus_client import start_http_server

from . import config, parking
from .db import Database, engine_for
from .outbox import OutboxRelay

log = logging.getLogger(__name__)

if eventlet.patcher.is_monkey_patched("socket"):
    # psycopg2 blocks the whole eventlet hub unless made green; under `nameko run`
    # every worker shares one hub, so a slow query would stall every request.
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()


class DatabaseProvider(DependencyProvider):
    """Gives each worker the service's own `Database` (unit-of-work factory)."""

    def setup(self):
        self.db = Database(engine_for(self.container.service_name))

    def stop(self):
        self.db.engine.dispose()

    def get_dependency(self, worker_ctx):
        return self.db


class OutboxRelayProvider(DependencyProvider):
    """Runs the outbox relay beside the service and pokes it after each worker.

    The poke only shortens latency: the relay also polls, so an event committed
    by a worker that crashed right after its commit is still published.
    """

    # It takes no DatabaseProvider: nameko would bind an extension stored on another
    # as a sub-extension. The relay opens its own engine on the service's database.

    def setup(self):
        self.relay = None

    def start(self):
        service = self.container.service_name
        self.relay = OutboxRelay(Database(engine_for(service)), service, amqp_uri=self.container.config.get("AMQP_URI"))
        self.container.spawn_managed_thread(lambda: self.relay.run_forever(sleep=eventlet.sleep))

    def stop(self):
        if self.relay:
            self.relay.stop()

    def kill(self):
        self.stop()

    def worker_teardown(self, worker_ctx):
        if self.relay:
            self.relay.wake()

    def get_dependency(self, worker_ctx):
        return self.relay


_metrics_lock = threading.Lock()
_metrics_started: set[int] = set()


class MetricsServer(DependencyProvider):
    """Serves the process's Prometheus registry on the service's metrics port."""

    def setup(self):
        port = config.metrics_port(self.container.service_name)
        with _metrics_lock:
            if port not in _metrics_started:
                start_http_server(port, addr=config.env("QI_METRICS_ADDR", "127.0.0.1"))
                _metrics_started.add(port)


def idempotent_event_handler(source_service: str, event_type: str):
    """A nameko event handler for effects guarded by `consumer.claim_event`.

    A transient failure (database or network) is redelivered, which is safe
    because the effect is idempotent; any other failure parks the event in the
    service's database (`parking`) and acknowledges it, so one malformed event
    cannot loop for ever, and is not lost either. The service needs `db`.
    """
    def decorate(method):
        @functools.wraps(method)
        def handle(self, envelope):
            try:
                return method(self, envelope)
            except Exception as exc:
                if parking.is_transient(exc):
                    raise
                parking.park(self.db, f"{self.name}.{method.__name__}", envelope, exc)
                return None
        return event_handler(source_service, event_type, requeue_on_error=True)(handle)
    return decorate


def subscribe(service_cls: type, handlers: dict, apply) -> type:
    """Event handlers declared as data: `{method name: (source service, event type)}`.

    Each becomes an `idempotent_event_handler` method of that name calling
    `apply(service, method_name, envelope)`; the name is the consumer's identity
    (its queue, its parked events, its processed-event key), so it stays stable.
    """
    for name, (source, event_type) in handlers.items():
        if name in vars(service_cls):
            raise TypeError(f"{service_cls.__name__}.{name} is written by hand and subscribed")

        def handle(self, envelope, _name=name):
            return apply(self, _name, envelope)
        handle.__name__ = handle.__qualname__ = name
        setattr(service_cls, name, idempotent_event_handler(source, event_type)(handle))
    return service_cls


# The registry's events that carry an institution's public profile: every service that keeps
# a copy of institutions (matching's index, booking's owners, delivery's scope check) takes these.
INSTITUTION_PROFILE_EVENTS = {
    "on_institution_approved": ("registry", "institution.approved"),
    "on_institution_changed": ("registry", "institution.changed"),
    "on_capability_published": ("registry", "capability.published"),
    "on_institution_deregistered": ("registry", "institution.deregistered"),
}


# The signed-caller entrypoint and proxy live in caller_rpc; services import them from here.
from .caller_rpc import CallerContext, CallerRpc, CallerState, SigningKeyCheck, rpc  # noqa: E402,F401
