"""The gateway: the platform's only HTTP front (`/api/v1`).

Thin by design: authenticate, authorise by role, validate with the services'
marshmallow schemas, call one service over RPC with a bounded wait, map errors
to problem+json. Object-level rules (whose data is whose) live in the services.
"""
from __future__ import annotations

import logging
import time

import eventlet
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError
from nameko.events import BROADCAST, event_handler
from nameko.exceptions import RemoteError, UnknownService
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from werkzeug.wrappers import Response

from services.common import caller, config, file_responses
from services.common.errors import BadRequest, DomainError, ServiceUnavailable
from services.common.direct_rpc import DirectRpc
from services.common.nameko_ext import CallerContext

from .auth import RevocationList, bearer_token
from .http import api, internal_error_problem, json_response, problem_response
from .routes import ROUTES, SERVICES
from .routing import (RequestContext, Router, authorize, build_openapi, dump_response, load_body, load_query,
                      parse_body)
from .schemas import ProblemSchema
from . import explorer, static

log = logging.getLogger(__name__)
API_VERSION = "1.0.0"

REQUESTS = Counter("qi_gateway_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("qi_gateway_request_seconds", "HTTP request latency", ["route", "method"])
RPC_LATENCY = Histogram("qi_gateway_rpc_seconds", "RPC latency seen by the gateway", ["service", "method", "outcome"])

router = Router(ROUTES)
# Errors meaning "the broker is unreachable or the connection broke" (kombu wraps most in OperationalError).
BROKER_ERRORS = (OperationalError, AmqpConnectionError, RecoverableConnectionError, OSError, ConnectionError)
BROKER_RETRY_AFTER = 5
_openapi_cache: dict = {}


def client_ip(request) -> str | None:
    """The address audited as the caller's.

    X-Forwarded-For is believed only when the connection comes from a configured
    proxy (QI_TRUSTED_PROXIES), and then the nearest hop that is not itself a
    trusted proxy is the client: anything further left was written by the client.
    """
    remote = request.remote_addr
    trusted = config.trusted_proxies()
    forwarded = request.headers.get("X-Forwarded-For")
    if not forwarded or remote not in trusted:
        return remote
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted:
            return hop[:45]
    return remote


MAX_HEADER = {"Idempotency-Key": 200, "X-Request-Id": 64}


def check_headers(request) -> None:
    for name, limit in MAX_HEADER.items():
        value = request.headers.get(name)
        if value is not None and (not value.strip() or len(value) > limit):
            raise BadRequest(f"{name} must be 1 to {limit} characters / {name} 长度须为 1 到 {limit} 个字符",
                             code="invalid_header", errors={name: [f"1..{limit} characters"]})


class GatewayTimeout(DomainError):
    status = 504
    code = "service_timeout"
    title_zh = "服务响应超时"
    title_en = "Service timed out"


class Revocations(DependencyProvider):
    def setup(self):
        caller.verification_key()  # fail at start if identity's public key is missing
        self.revocations = RevocationList()

    def get_dependency(self, worker_ctx):
        return self.revocations


class Gateway:
    name = "gateway"

    # Requests expire in the queue when the gateway stops waiting for them, so a
    # service that comes back does not act on requests whose callers got a 504.
    # They are transient: a persistent message to a durable queue is confirmed
    # only after the broker's disk sync, and a request outliving a broker restart
    # has no caller left anyway (the client got a 503/504 and may retry with its
    # Idempotency-Key).
    # One held connection for every call of this process, replies by direct reply-to
    # (services.common.direct_rpc): a broker that goes away fails the waiting calls at once
    # (503 broker_unavailable), a service with no queue at publish (503 service_unavailable; one that
    # ran and stopped keeps its durable queue: 504 after the timeout).
    rpc = DirectRpc(expiration=config.rpc_timeout())
    revocations = Revocations()
    bus = CallerContext()

    # -- infrastructure endpoints ------------------------------------------------
    @api("GET", "/health")
    def health(self, request):
        return json_response({"status": "ok"})

    @api("GET", "/ready")
    def ready(self, request):
        statuses = {}
        pings = {}
        for service in SERVICES:
            try:
                pings[service] = self.rpc.call_async(service, "ping")
            except UnknownService:
                statuses[service] = "down"
            except Exception as exc:  # broker unreachable
                statuses[service] = f"error: {type(exc).__name__}"
        deadline = time.monotonic() + min(2.0, config.rpc_timeout())
        for service, reply in pings.items():
            try:
                with eventlet.Timeout(max(0.05, deadline - time.monotonic())):
                    reply.result()
                statuses[service] = "ok"
            except eventlet.Timeout:
                self.rpc.forget(reply)
                statuses[service] = "timeout"
            except UnknownService:
                statuses[service] = "down"
            except Exception as exc:
                statuses[service] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in statuses.values())
        if ok:
            return json_response({"status": "ready", "services": statuses})
        problem = ServiceUnavailable("Not ready: " + ", ".join(f"{k}={v}" for k, v in statuses.items() if v != "ok"),
                                     code="not_ready").problem()
        problem["services"] = statuses
        return json_response(problem, status=503, content_type="application/problem+json")

    @api("GET", "/metrics")
    def metrics(self, request):
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @api("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        if "doc" not in _openapi_cache:
            _openapi_cache["doc"] = build_openapi(ROUTES, ProblemSchema, API_VERSION)
        return json_response(_openapi_cache["doc"])

    @api("GET", "/api/v1/docs")
    def docs(self, request):
        return explorer.page()

    @api("GET", "/api/v1/docs/assets/<name>")
    def docs_asset(self, request, name):
        return explorer.asset(request, name)

    # -- the web UI (web/dist): files, and index.html for the app's own routes ---------
    @api("GET,POST,PUT,PATCH,DELETE,OPTIONS,TRACE", "/")
    def web_index(self, request):
        return static.serve(request)

    @api("GET,POST,PUT,PATCH,DELETE,OPTIONS,TRACE", "/<path:path>")
    def web_app(self, request, path):
        return static.serve(request, path)

    # -- events ----------------------------------------------------------------
    @event_handler("identity", "user.session_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_session_revoked(self, envelope):
        self.revocations.add_event(envelope)

    # -- the API ----------------------------------------------------------------
    # Every method is routed here so that even OPTIONS/TRACE get a problem+json 405
    # from the router rather than werkzeug's HTML page.
    @api("GET,POST,PUT,PATCH,DELETE,OPTIONS,TRACE", "/api/v1/<path:path>")
    def dispatch(self, request, path):
        started = time.perf_counter()
        route_label, status = "unmatched", 500
        try:
            route, params = router.match(request.path, request.method)
            route_label = route.path
            check_headers(request)
            token = bearer_token(request.headers.get("Authorization"))
            # Every RPC this worker makes carries the caller's token (verified again by the
            # service), the client's address and the request id (audit metadata only).
            ip = client_ip(request)
            self.bus.set(access_token=token, client_ip=ip, request_id=request.headers.get("X-Request-Id"))
            if route.operation is not None:
                # Declared in a contract: the service's pipeline verifies the caller, checks the
                # role and loads the input, once; here it is only parsed and forwarded.
                ctx = RequestContext(route=route, path_params=params, body=parse_body(route, request.get_data()),
                                     query=request.args.to_dict(), principal=None,
                                     idempotency_key=request.headers.get("Idempotency-Key"), call=self._call,
                                     client_ip=ip)
            else:
                principal = self._principal(token, request)
                authorize(route, principal)
                ctx = RequestContext(
                    route=route, path_params=params, body=load_body(route, request.get_data()),
                    query=load_query(route, request.args), principal=principal,
                    idempotency_key=request.headers.get("Idempotency-Key"), call=self._call, client_ip=ip,
                )
            result = route.handler(ctx)
            status, payload = result if isinstance(result, tuple) else (route.status, result)
            if status == 204:
                response = Response(status=204)
            elif route.operation is not None and route.operation.files:
                content, media_type, disposition = file_responses.from_wire(payload)
                response = Response(content, status=status, content_type=media_type,
                                    headers={"Content-Disposition": disposition})
            elif route.operation is not None and route.operation.media_type != "application/json":
                response = Response(payload, status=status, content_type=f"{route.operation.media_type}; charset=utf-8")
            elif route.operation is not None:
                response = json_response(payload, status=status)   # dumped by the service's pipeline
            else:
                response = json_response(dump_response(route, payload), status=status)
        except DomainError as exc:
            status = exc.status
            response = problem_response(exc)
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            status = 500
            response = problem_response(internal_error_problem())
        REQUESTS.labels(route_label, request.method, str(status)).inc()
        LATENCY.labels(route_label, request.method).observe(time.perf_counter() - started)
        return response

    def _principal(self, token: str | None, request) -> dict | None:
        """The caller as the gateway's role checks see it; services verify the token themselves."""
        if token is None:
            return None
        return caller.verify_caller(token, self._is_revoked, ip=client_ip(request),
                                    request_id=request.headers.get("X-Request-Id"))

    def _is_revoked(self, sid: str) -> bool:
        if self.revocations.needs_load():
            try:
                self.revocations.load(self._call("identity", "revoked_sessions"))
            except DomainError:
                if not self.revocations.loaded:
                    raise
                log.warning("reloading revoked sessions failed; keeping the current list")
                self.revocations.loaded_at = time.monotonic()
        return self.revocations.is_revoked(sid)

    def _call(self, service: str, method: str, *args, **kwargs):
        """One RPC with a bounded wait. The principal is never an argument: the token in the
        worker's context data proves the caller to the service."""
        started = time.perf_counter()
        outcome = "ok"
        timeout = config.rpc_timeout()
        # The service gives up first: a request it picks up after this is dropped, and a
        # write that would commit after it rolls back, so a 504 here means "not done".
        self.bus.set(deadline=time.time() + max(0.1, timeout - config.rpc_deadline_margin()))
        pending = None
        try:
            with eventlet.Timeout(timeout):   # the publish too: a socket the broker stopped reading
                pending = self.rpc.call_async(service, method, *args, **kwargs)
                return pending.result()
        except eventlet.Timeout:
            outcome = "timeout"
            if pending is not None:
                self.rpc.forget(pending)
            raise GatewayTimeout(f"{service} did not answer within {config.rpc_timeout():g}s / 服务未在时限内响应",
                                 code="service_timeout")
        except UnknownService:
            outcome = "down"
            raise ServiceUnavailable(f"{service} is not running / 服务未运行", code="service_unavailable",
                                     retry_after=BROKER_RETRY_AFTER)
        except DomainError:
            outcome = "domain_error"
            raise
        except RemoteError as exc:
            outcome = "remote_error"
            log.error("remote error from %s.%s: %s", service, method, exc.exc_type)
            raise internal_error_problem()
        except BROKER_ERRORS as exc:
            outcome = "broker_error"
            log.warning("broker unreachable calling %s.%s: %s", service, method, exc)
            raise ServiceUnavailable(f"Message broker unreachable: {type(exc).__name__} / 消息总线不可用",
                                     code="broker_unavailable", retry_after=BROKER_RETRY_AFTER)
        finally:
            RPC_LATENCY.labels(service, method, outcome).observe(time.perf_counter() - started)

