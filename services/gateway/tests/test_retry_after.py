"""Problems that tell the client when to retry carry Retry-After, also after crossing RPC (issue 8.3)."""
from __future__ import annotations

import json

from nameko.exceptions import deserialize, serialize

from services.common.consumer import in_progress_error
from services.common.errors import NotFound, ServiceUnavailable
from services.gateway.http import problem_response


def over_rpc(exc):
    return deserialize(json.loads(json.dumps(serialize(exc))))


def test_retry_after_survives_rpc_and_becomes_a_header():
    busy = over_rpc(in_progress_error())
    assert busy.code == "request_in_progress" and busy.status == 409 and busy.retry_after == 1
    response = problem_response(busy)
    assert response.status_code == 409 and response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"].startswith("application/problem+json")
    down = problem_response(over_rpc(ServiceUnavailable("down", code="broker_unavailable", retry_after=5)))
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"


def test_no_retry_after_unless_the_problem_says_so():
    missing = over_rpc(NotFound("no such thing"))
    assert missing.retry_after is None
    assert "Retry-After" not in problem_response(missing).headers
