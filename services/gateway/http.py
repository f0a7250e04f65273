"""HTTP entrypoint that answers every failure as RFC 9457 problem+json.

nameko's stock handler answers errors with a plain-text traceback summary; a
public API must never leak that, and clients need a stable machine `code`.
"""
from __future__ import annotations

import json
import logging
import socket

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from services.common.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def json_response(payload, status: int = 200, headers: dict | None = None,
                  content_type: str = "application/json") -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, status=status, headers=headers, content_type=f"{content_type}; charset=utf-8")


def problem_response(error: DomainError, headers: dict | None = None) -> Response:
    if getattr(error, "retry_after", None) is not None:
        # The problem's retry_after (seconds) becomes the header clients and proxies act on.
        headers = {**(headers or {}), "Retry-After": str(int(error.retry_after))}
    return json_response(error.problem(), status=error.status, headers=headers, content_type=PROBLEM_JSON)


def internal_error_problem() -> DomainError:
    return DomainError("An unexpected error occurred; it has been logged. / 服务器内部错误，已记录。",
                       code="internal_error", status=500, title_zh="服务器内部错误", title_en="Internal server error")


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


class ApiEntrypoint(HttpRequestHandler):
    server = NoDelayWebServer()

    def response_from_exception(self, exc):
        if isinstance(exc, DomainError):
            return problem_response(exc)
        if isinstance(exc, HTTPException):
            return problem_response(DomainError(exc.description or "", code="http_error", status=exc.code or 400,
                                                title_zh="请求无效", title_en=exc.name or "Bad request"))
        log.exception("unhandled error in gateway", exc_info=exc)
        return problem_response(internal_error_problem())


api = ApiEntrypoint.decorator
