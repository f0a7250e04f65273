"""The OpenAPI document is generated from the route table and the services' schemas."""
from __future__ import annotations

from openapi_spec_validator import validate

from services.gateway.routes import ROUTES
from services.gateway.routing import build_openapi
from services.gateway.schemas import ProblemSchema


def document():
    return build_openapi(ROUTES, ProblemSchema, "test")


def test_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_route_is_documented_with_its_request_schema_and_problem_responses():
    doc = document()
    for route in ROUTES:
        path = "/api/v1" + __import__("re").sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route.path)
        operation = doc["paths"][path][route.method.lower()]
        if route.body is not None:
            assert "requestBody" in operation, route.endpoint
        if route.roles is not None:
            assert operation["security"] == [{"bearerAuth": []}], route.endpoint
            assert "401" in operation["responses"], route.endpoint
        assert "422" in operation["responses"] and "503" in operation["responses"], route.endpoint
        problem = operation["responses"]["422"]["content"]["application/problem+json"]["schema"]
        assert problem == {"$ref": "#/components/schemas/Problem"}


def test_operation_ids_are_unique():
    doc = document()
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates


def test_every_route_with_a_body_declares_its_response_schema():
    # dump_response filters the payload through it, and the document shows clients what they get.
    def json_body(route):   # an operation may answer another media type (a calendar feed, an export file)
        return (getattr(route.operation, "media_type", "application/json") == "application/json"
                and not getattr(route.operation, "files", ()))
    missing = [route.endpoint for route in ROUTES if route.status != 204 and route.response is None and json_body(route)]
    assert not missing, missing
    doc = document()
    for route in ROUTES:
        if route.status == 204 or not json_body(route):
            continue
        path = "/api/v1" + __import__("re").sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route.path)
        ok = doc["paths"][path][route.method.lower()]["responses"][str(route.status)]
        schema = ok["content"]["application/json"]["schema"]
        if route.many:
            assert schema["type"] == "array" and "$ref" in schema["items"], route.endpoint
        else:
            assert "$ref" in schema, route.endpoint


def test_a_file_operation_documents_each_media_type_and_the_file_name_header():
    ok = document()["paths"]["/api/v1/statistics/quarterly/export"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    assert ok["content"]["text/csv"]["schema"] == {"type": "string", "format": "binary"}
    assert "Content-Disposition" in ok["headers"]


def test_a_file_travels_base64_over_rpc_and_leaves_the_gateway_as_bytes_with_its_name():
    from services.common.file_responses import from_wire, to_wire
    wire = to_wire({"filename": "季度统计 2026-Q3.csv", "content_type": "text/csv", "content": b"\xef\xbb\xbfa,b"},
                   ("text/csv",))
    content, media_type, disposition = from_wire(wire)
    assert content == b"\xef\xbb\xbfa,b" and media_type == "text/csv; charset=utf-8"
    assert disposition.startswith('attachment; filename="') and "filename*=UTF-8''%E5%AD%A3" in disposition
    import pytest
    with pytest.raises(ValueError):   # a type the operation does not declare
        to_wire({"filename": "x.pdf", "content_type": "application/pdf", "content": b""}, ("text/csv",))
