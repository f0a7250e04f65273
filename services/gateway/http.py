"""HTTP entrypoint that answers every failure as RFC 9457 problem+json.

nameko's stock handler answers errors with a plain-text traceback summary; a
public API must never leak that, and clients need a stable machine `code`.
"""
from __future__ import annotations

import json
import logging
import socket

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from services.common import lang
from services.common.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def json_response(payload, status: int = 200, headers: dict | None = None,
                  content_type: str = "application/json") -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, status=status, headers=headers, content_type=f"{content_type}; charset=utf-8")


def problem_response(error: DomainError, headers: dict | None = None) -> Response:
    # An error may carry headers of its own (405 Allow).
    headers = {**(getattr(error, "headers", None) or {}), **(headers or {})}
    if getattr(error, "retry_after", None) is not None:
        # 503 broker_unavailable, 409 request_in_progress, 429: the client is told when to try again.
        headers.setdefault("Retry-After", str(max(0, int(error.retry_after))))
    return json_response(error.problem(), status=error.status, headers=headers or None, content_type=PROBLEM_JSON)


def localize_problem(response: Response, accept_language: str | None) -> Response:
    """Field messages of a problem+json response in the client's language (services.common.lang)."""
    language = lang.choose(accept_language)
    response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    if not (response.mimetype or "").startswith(PROBLEM_JSON):
        return response
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    if isinstance(body, dict) and body.get("errors"):
        body["errors"] = lang.localize(body["errors"], language)
        response.set_data(json.dumps(body, ensure_ascii=False, default=str))
    return response


def internal_error_problem() -> DomainError:
    return DomainError("An unexpected error occurred; it has been logged. / 服务器内部错误，已记录。",
                       code="internal_error", status=500, title_zh="服务器内部错误", title_en="Internal server error")


def http_exception_problem(exc: HTTPException) -> DomainError:
    problem = DomainError(exc.description or "", code="http_error", status=exc.code or 400,
                          title_zh="请求无效", title_en=exc.name or "Bad request")
    allowed = getattr(exc, "valid_methods", None)
    if exc.code == 405 and allowed:
        problem.headers = {"Allow": ", ".join(sorted(set(allowed)))}
    return problem


class ProblemWsgiApp(WsgiApp):
    """nameko's WSGI app, but a request no entrypoint takes (a path werkzeug cannot
    route, e.g. one holding a newline) is answered problem+json, not werkzeug's HTML."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            rv = provider.handle_request(request)
        except HTTPException as exc:
            rv = localize_problem(problem_response(http_exception_problem(exc)),
                                  request.headers.get("Accept-Language"))
        return rv(environ, start_response)


class NoDelayWebServer(WebServer):
    """nameko's web server with Nagle's algorithm off on every connection.

    eventlet writes the status line and headers and then the body in separate
    sends; with Nagle on, the body waits for the client's delayed ACK of the
    headers (about 40 ms on Linux) whenever a response is larger than one small
    segment, which is most API responses.
    """

    def process_request(self, sock, address):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # the client already went away
            pass
        return super().process_request(sock, address)

    def get_wsgi_app(self):
        return ProblemWsgiApp(self)


class ApiEntrypoint(HttpRequestHandler):
    server = NoDelayWebServer()

    def check_signature(self, args, kwargs):
        # nameko checks every request's arguments against the method with inspect.getcallargs
        # (5 % of the gateway's CPU per request). The arguments are werkzeug's path values for
        # the route the method itself declares, so they always fit; a method that did not would
        # fail on its first request with a 500 all the same.
        return None

    def handle_request(self, request):
        response = super().handle_request(request)
        if response.status_code >= 400:
            response = localize_problem(response, request.headers.get("Accept-Language"))
        return response

    def response_from_exception(self, exc):
        if isinstance(exc, DomainError):
            return problem_response(exc)
        if isinstance(exc, HTTPException):
            return problem_response(http_exception_problem(exc))
        log.exception("unhandled error in gateway", exc_info=exc)
        return problem_response(internal_error_problem())


api = ApiEntrypoint.decorator
