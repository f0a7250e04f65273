"""What the document promises, the gateway does (issue 8 point 11): unit level."""
from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Response

from services.common.errors import ValidationFailed
from services.gateway.http import localize_problem, problem_response
from services.gateway.routes import ROUTES
from services.gateway.routing import MethodNotAllowedProblem, Router, build_openapi, load_body
from services.gateway.schemas import ProblemSchema

ROUTER = Router(ROUTES)
DOC = build_openapi(ROUTES, ProblemSchema, "test")


def route(method, path):
    return ROUTER.routes[f"{method} {path}"]


def test_a_body_less_put_is_refused_not_taken_as_no_change():
    for raw in (b"", b"  "):
        with pytest.raises(ValidationFailed) as exc:
            load_body(route("PUT", "/catalog/items/<code>"), raw)
        assert exc.value.status == 422 and "_schema" in exc.value.errors


def test_public_zero_is_not_a_boolean():
    with pytest.raises(ValidationFailed) as exc:
        load_body(route("PUT", "/catalog/items/<code>"), b'{"public": 0}')
    assert "public" in exc.value.errors
    assert load_body(route("PUT", "/catalog/items/<code>"), b'{"public": false}') == {"public": False}


def test_nan_and_infinity_are_not_json():
    with pytest.raises(Exception) as exc:
        load_body(route("POST", "/demands"), b'{"title": "xx", "category": "metrology", "budget_yuan": NaN}')
    assert getattr(exc.value, "code", None) == "invalid_json"


def test_405_names_the_methods_the_url_really_takes():
    with pytest.raises(MethodNotAllowedProblem) as exc:
        ROUTER.match("/api/v1/users/lookup-by-phone", "OPTIONS")
    # GET /users/<user_id> fits the path, but "lookup-by-phone" is no account id.
    assert exc.value.headers == {"Allow": "POST"}
    with pytest.raises(MethodNotAllowedProblem) as exc:
        ROUTER.match("/api/v1/users/lookup-by-phone", "GET")
    assert exc.value.headers == {"Allow": "POST"}
    assert problem_response(exc.value).headers["Allow"] == "POST"


def test_a_control_character_in_a_path_parameter_is_a_field_error():
    with pytest.raises(ValidationFailed) as exc:
        ROUTER.match("/api/v1/institutions/a\u0000b", "GET")
    assert "institution_id" in exc.value.errors


def test_every_operation_with_a_path_parameter_documents_404_and_its_pattern():
    for path, operations in DOC["paths"].items():
        for method, op in operations.items():
            params = [p for p in op.get("parameters", []) if p["in"] == "path"]
            if "{" in path:
                assert "404" in op["responses"], (method, path)
                assert params and all("pattern" in p["schema"] or p["schema"]["type"] == "integer"
                                      for p in params), (method, path)
            if method != "get":
                assert "409" in op["responses"], (method, path)
            assert "401" in op["responses"], (method, path)


def test_request_text_fields_state_the_control_character_rule_and_responses_do_not():
    login = DOC["components"]["schemas"]["Login"]["properties"]["username"]
    assert login["pattern"].startswith("^[^\\u0000-\\u001f")
    guide_out = DOC["components"]["schemas"]["GuideOut"]["properties"]["title"]
    assert "pattern" not in guide_out


def test_cross_field_rules_are_in_the_document():
    review = DOC["components"]["schemas"]["ReviewIn"]
    assert review["anyOf"][0] == {"properties": {"decision": {"const": "approve"}}}
    assert DOC["components"]["schemas"]["WindowUpdate"]["minProperties"] == 1


def test_field_messages_follow_accept_language():
    problem = ValidationFailed("Some fields are invalid / 部分字段无效",
                               errors={"x": ["缺少必填字段 / Missing data for required field."]})
    for header, expected, language in [(None, "缺少必填字段", "zh-CN"), ("en-GB,en;q=0.9", "Missing data for "
                                                                                      "required field.", "en")]:
        response = localize_problem(problem_response(problem), header)
        assert json.loads(response.get_data())["errors"] == {"x": [expected]}
        assert response.headers["Content-Language"] == language
        assert "Accept-Language" in response.headers["Vary"]
    untouched = localize_problem(Response("{}", status=404, content_type="application/json"), "en")
    assert untouched.get_data() == b"{}"
