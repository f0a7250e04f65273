"""Gateway edges over real HTTP: every error is problem+json, never HTML or a traceback."""
from __future__ import annotations


def test_unrouted_methods_and_paths_are_problem_json(api):
    for method, path, status in [("OPTIONS", "/api/v1/demands", 405), ("TRACE", "/api/v1/me", 405),
                                 ("DELETE", "/api/v1/me", 405), ("GET", "/api/v1/no-such-thing", 404)]:
        response = api.request(method, path)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json"), (method, path)
        assert response.json()["status"] == status


def test_oversized_idempotency_key_is_a_400_before_anything_is_written(api):
    response = api.post("/api/v1/auth/register/person", json={}, headers={"Idempotency-Key": "k" * 500})
    assert response.status_code == 400 and response.json()["code"] == "invalid_header"
