"""The API as data: one table of routes drives dispatch, validation and OpenAPI.

A route names its marshmallow schemas once; the same schema objects validate the
request here and are rendered into `/api/v1/openapi.json`, so the document can
never drift from what the gateway enforces.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import RAISE, Schema, ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from services.common.errors import BadRequest, DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed

API_PREFIX = "/api/v1"
ALL_ROLES = ("enterprise", "person", "institution", "window", "operator", "regulator", "admin")


@dataclass
class Route:
    method: str
    path: str                      # werkzeug syntax, relative to /api/v1, e.g. "/users/<user_id>"
    handler: Callable              # handler(ctx) -> payload | (status, payload)
    summary: str
    tag: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False
    roles: tuple[str, ...] | None = None   # None = public; () = any signed-in user
    status: int = 200
    idempotent_create: bool = False
    description: str = ""
    extra_responses: dict = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class RequestContext:
    route: Route
    path_params: dict
    body: dict | None
    query: dict
    principal: dict | None
    idempotency_key: str | None
    call: Callable                 # call(service, method, *args, **kwargs) with timeout
    client_ip: str | None = None


class Router:
    def __init__(self, routes: list[Route]):
        self.routes = {r.endpoint: r for r in routes}
        self.map = Map([Rule(API_PREFIX + r.path, endpoint=r.endpoint, methods=[r.method]) for r in routes],
                       strict_slashes=False)

    def match(self, path: str, method: str) -> tuple[Route, dict]:
        adapter = self.map.bind("gateway")
        try:
            endpoint, params = adapter.match(path, method=method)
        except MethodNotAllowed:
            raise DomainError(f"{method} is not allowed on {path} / 不支持该请求方法", code="method_not_allowed",
                              status=405, title_zh="方法不允许", title_en="Method not allowed")
        except WerkzeugNotFound:
            raise NotFound(f"No such endpoint: {path} / 接口不存在", code="no_such_endpoint")
        return self.routes[endpoint], params


def authorize(route: Route, principal: dict | None) -> None:
    if route.roles is None:
        return
    if principal is None:
        raise Unauthorized("Sign in first: send 'Authorization: Bearer <access token>' / 请先登录")
    if route.roles and principal["role"] not in route.roles:
        raise Forbidden(f"Role '{principal['role']}' may not do this / 当前角色无权执行该操作")


def load_body(route: Route, raw: bytes) -> dict | None:
    if route.body is None:
        return None
    if not raw:
        raw = b"{}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"Body is not valid UTF-8 JSON: {exc} / 请求体不是有效的 JSON", code="invalid_json")
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object / 请求体必须是 JSON 对象", code="invalid_json")
    try:
        return route.body(unknown=RAISE).load(data)
    except ValidationError as exc:
        raise ValidationFailed("Some fields are invalid / 部分字段无效", errors=exc.normalized_messages())


def load_query(route: Route, args) -> dict:
    if route.query is None:
        return {}
    try:
        return route.query(unknown=RAISE).load(args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("Some query parameters are invalid / 部分查询参数无效", errors=exc.normalized_messages())


def dump_response(route: Route, payload):
    if route.response is None or payload is None:
        return payload
    return route.response().dump(payload, many=route.many)


def _openapi_path(path: str) -> str:
    import re
    return API_PREFIX + re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", path)


def build_openapi(routes: list[Route], problem_schema: type[Schema], version: str) -> dict:
    spec = APISpec(
        title="QI One-Stop API / 质量基础设施一站式服务平台接口", version=version, openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "HTTP API of the QI one-stop shared service platform (DB3212/T 1033-2021). "
                             "Errors are application/problem+json (RFC 9457) with a stable `code`. "
                             "Events are documented separately in docs/asyncapi.yaml."},
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", schema=problem_schema)
    problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    by_path: dict[str, dict] = {}
    for route in routes:
        op: dict = {"summary": route.summary, "tags": [route.tag], "operationId": f"{route.tag}_{route.handler.__name__}",
                    "responses": {}}
        if route.description:
            op["description"] = route.description
        params = []
        import re
        for name in re.findall(r"<(?:[^:>]+:)?([^>]+)>", route.path):
            params.append({"in": "path", "name": name, "required": True, "schema": {"type": "string"}})
        if route.query is not None:
            params.append({"in": "query", "schema": route.query})
        if route.idempotent_create:
            params.append({"in": "header", "name": "Idempotency-Key", "required": False,
                           "schema": {"type": "string", "maxLength": 200},
                           "description": "Same key, same result: the write happens once / 幂等键"})
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
        ok: dict = {"description": "OK"}
        if route.response is not None:
            schema = {"type": "array", "items": route.response} if route.many else route.response
            ok["content"] = {"application/json": {"schema": schema}}
        op["responses"][str(route.status)] = ok
        errors = {"422": "Validation failed / 参数校验失败", "400": "Bad request / 请求无效",
                  "503": "A service is unavailable / 服务不可用", "504": "A service timed out / 服务超时"}
        if route.roles is not None:
            op["security"] = [{"bearerAuth": []}]
            errors["401"] = "Not signed in or token invalid / 未认证"
            if route.roles:
                errors["403"] = "Role not allowed / 无权限"
        errors.update(route.extra_responses)
        for code, text in errors.items():
            op["responses"][code] = {"description": text, "content": problem_ref}
        by_path.setdefault(_openapi_path(route.path), {})[route.method.lower()] = op
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
