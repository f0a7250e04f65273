"""The API as data: one table of routes drives dispatch, validation and OpenAPI.

A route names its marshmallow schemas once; the same schema objects validate the
request here and are rendered into `/api/v1/openapi.json`, so the document can
never drift from what the gateway enforces.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import RAISE, Schema, ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from services.common import fields as qi_fields, platform
from services.common.errors import BadRequest, DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed

API_PREFIX = "/api/v1"
ALL_ROLES = platform.ROLES

# What a path parameter may look like, by name (Route.path_patterns overrides). Checked
# before anything is called and stated in the document: path values go to databases too.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PATH_PATTERNS = {
    # Account ids are UUIDs (so /users/lookup-by-phone is no account).
    "user_id": UUID_PATTERN,
    "code": r"^[a-z][a-z0-9_.]{1,63}$",
    "item_code": r"^[a-z][a-z0-9_.]{1,63}$",
    # Standard numbers carry spaces and slashes (GB/T 2828.1-2012); never control characters.
    "number": r"^[^\u0000-\u001f\u007f-\u009f]{2,80}$",
}
PATH_INT = {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1}


def path_params_of(route: "Route") -> list[tuple[str, dict]]:
    """(name, JSON Schema) of every path parameter of a route, in path order."""
    out = []
    for converter, name in re.findall(r"<(?:([^:>]+):)?([^>]+)>", route.path):
        if converter == "int":
            out.append((name, dict(PATH_INT)))
        else:
            pattern = route.path_patterns.get(name) or PATH_PATTERNS.get(name, ID_PATTERN)
            out.append((name, {"type": "string", "pattern": pattern}))
    return out


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
    path_patterns: dict = field(default_factory=dict)
    # Declared in a service's contract: the service checks the role, loads and dumps
    # (services.common.pipeline); the gateway only routes and forwards.
    operation: object = None

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


WRITE_AND_READ = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class Router:
    def __init__(self, routes: list[Route]):
        self.routes = {r.endpoint: r for r in routes}
        self.map = Map([Rule(API_PREFIX + r.path, endpoint=r.endpoint, methods=[r.method]) for r in routes],
                       strict_slashes=False)

    def match(self, path: str, method: str) -> tuple[Route, dict]:
        adapter = self.map.bind("gateway")
        try:
            endpoint, params = adapter.match(path, method=method)
        except MethodNotAllowed as exc:
            raise MethodNotAllowedProblem(method, path, self._allowed(adapter, path, exc.valid_methods or []))
        except WerkzeugNotFound:
            raise NotFound(f"No such endpoint: {path} / 接口不存在", code="no_such_endpoint")
        route = self.routes[endpoint]
        try:
            check_path_params(route, params)
        except ValidationFailed:
            # /users/lookup-by-phone is no account id: if another method takes this URL, this
            # one is not allowed here (405); otherwise the value is wrong (422, field named).
            others = self._allowed(adapter, path, [m for m in WRITE_AND_READ if m != method])
            if others:
                raise MethodNotAllowedProblem(method, path, others) from None
            raise
        return route, params

    def _allowed(self, adapter, path: str, candidates) -> list[str]:
        return _allowed_methods(self, adapter, path, candidates)


def _allowed_methods(router: "Router", adapter, path: str, candidates) -> list[str]:
    """The methods a URL really takes: werkzeug lists every rule the path fits, but a
    rule whose path parameters fail their pattern (GET /users/lookup-by-phone) is none."""
    allowed = []
    for candidate in candidates:
        try:
            endpoint, params = adapter.match(path, method=candidate)
            check_path_params(router.routes[endpoint], params)
        except Exception:
            continue
        allowed.append(candidate)
    return allowed


class MethodNotAllowedProblem(DomainError):
    """405 with the `Allow` header RFC 9110 requires."""

    status = 405
    code = "method_not_allowed"
    title_zh = "方法不允许"
    title_en = "Method not allowed"

    def __init__(self, method: str, path: str, allowed):
        super().__init__(f"{method} is not allowed on {path} / 不支持该请求方法")
        self.headers = {"Allow": ", ".join(sorted(set(allowed)))}


def check_path_params(route: "Route", params: dict) -> None:
    bad = {}
    for name, schema in path_params_of(route):
        value = params.get(name)
        if schema["type"] == "integer":
            if not isinstance(value, int) or not schema["minimum"] <= value <= schema["maximum"]:
                bad[name] = [qi_fields.bilingual("integer")]
        elif not isinstance(value, str) or not re.fullmatch(schema["pattern"], value):
            bad[name] = ["路径参数格式不符 / path parameter does not match " + schema["pattern"]]
    if bad:
        raise ValidationFailed("Some path parameters are invalid / 部分路径参数无效", errors=bad)


def authorize(route: Route, principal: dict | None) -> None:
    if route.roles is None:
        return
    if principal is None:
        raise Unauthorized("Sign in first: send 'Authorization: Bearer <access token>' / 请先登录")
    if route.roles and principal["role"] not in route.roles:
        raise Forbidden(f"Role '{principal['role']}' may not do this / 当前角色无权执行该操作")


def _no_constant(name: str):
    # Python's json reads NaN and Infinity, which JSON does not have.
    raise ValueError(f"{name} is not JSON")


def parse_body(route: Route, raw: bytes) -> dict | None:
    """The request's JSON object, not yet validated (a contract route's service loads it)."""
    if route.body is None:
        return None
    if not raw or not raw.strip():
        # The document marks every request body as required: an empty PUT is not "change nothing".
        raise ValidationFailed("A JSON body is required / 请求体必填",
                               errors={"_schema": ["请求体必填 / a JSON object body is required"]})
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"Body is not valid UTF-8 JSON: {exc} / 请求体不是有效的 JSON", code="invalid_json")
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object / 请求体必须是 JSON 对象", code="invalid_json")
    return data


def load_body(route: Route, raw: bytes) -> dict | None:
    data = parse_body(route, raw)
    if data is None:
        return None
    try:
        return route.body(unknown=RAISE).load(data)
    except ValidationError as exc:
        raise ValidationFailed("Some fields are invalid / 部分字段无效", errors=exc.normalized_messages())


def load_query(route: Route, args) -> dict:
    if route.query is None:
        return {}
    try:
        with qi_fields.query_mode():
            return route.query(unknown=RAISE).load(args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("Some query parameters are invalid / 部分查询参数无效", errors=exc.normalized_messages())


def dump_response(route: Route, payload):
    if route.response is None or payload is None:
        return payload
    return route.response().dump(payload, many=route.many)


def _openapi_path(path: str) -> str:
    return API_PREFIX + re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", path)


def build_openapi(routes: list[Route], problem_schema: type[Schema], version: str) -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="QI One-Stop API / 质量基础设施一站式服务平台接口", version=version, openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": "HTTP API of the QI one-stop shared service platform (DB3212/T 1033-2021). "
                             "Errors are application/problem+json (RFC 9457) with a stable `code`; field messages "
                             "in `errors` follow Accept-Language (zh-CN by default, `en` for English). "
                             "Text fields never accept control characters (tab and newline only where a field "
                             "is multi-line). "
                             "Events are documented separately in docs/asyncapi.yaml."},
    )
    request_schemas: set = set()
    for route in routes:
        _schemas_of(route.body, request_schemas)
        _schemas_of(route.query, request_schemas)

    def text_rule(converter, fld, ret, **kwargs):
        # Request text fields show their control-character rule (services.common.fields).
        pattern = getattr(fld, "text_pattern", None)
        if pattern and "pattern" not in ret and type(fld.root) in request_schemas:
            return {"pattern": pattern}
        return {}

    plugin.converter.add_attribute_function(text_rule)
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
        for name, schema in path_params_of(route):
            params.append({"in": "path", "name": name, "required": True, "schema": schema})
        if route.query is not None:
            params.append({"in": "query", "schema": route.query})
        if route.idempotent_create:
            params.append({"in": "header", "name": "Idempotency-Key", "required": False,
                           "schema": {"type": "string", "maxLength": 200, "pattern": r"\S"},
                           "description": "Same key, same result: the write happens once / 幂等键"})
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
        ok: dict = {"description": "OK"}
        media_type = getattr(route.operation, "media_type", "application/json")
        files = getattr(route.operation, "files", ())
        if files:
            ok["content"] = {t: {"schema": {"type": "string", "format": "binary"}} for t in files}
            ok["headers"] = {"Content-Disposition": {"schema": {"type": "string"},
                                                     "description": "attachment; the file's name / 文件名"}}
        elif media_type != "application/json":
            ok["content"] = {media_type: {"schema": {"type": "string"}}}
        elif route.response is not None:
            schema = {"type": "array", "items": route.response} if route.many else route.response
            ok["content"] = {"application/json": {"schema": schema}}
        op["responses"][str(route.status)] = ok
        errors = {"422": "Validation failed / 参数校验失败", "400": "Bad request / 请求无效",
                  "503": "A service is unavailable / 服务不可用", "504": "A service timed out / 服务超时"}
        if "<" in route.path:
            errors["404"] = "No such resource / 资源不存在"
        if route.method != "GET":
            # Writes meet the state they change (already exists, wrong state, Idempotency-Key reused).
            errors["409"] = "Conflicts with the current state, or Idempotency-Key reused / 与当前状态冲突"
        # A token that is sent is checked even where none is needed.
        errors["401"] = "Not signed in, or the token sent is invalid / 未认证或令牌无效"
        if route.roles is not None:
            op["security"] = [{"bearerAuth": []}]
            if route.roles:
                errors["403"] = "Role not allowed / 无权限"
        errors.update(route.extra_responses)
        for code, text in errors.items():
            op["responses"][code] = {"description": text, "content": problem_ref}
        by_path.setdefault(_openapi_path(route.path), {})[route.method.lower()] = op
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    add_schema_extras(doc, routes)
    return doc


def _schemas_of(schema_cls, seen: set) -> None:
    if schema_cls is None or schema_cls in seen:
        return
    seen.add(schema_cls)
    for fld in schema_cls._declared_fields.values():
        inner = getattr(fld, "inner", None)
        for candidate in (fld, inner):
            nested = getattr(candidate, "nested", None)
            if isinstance(nested, type) and issubclass(nested, Schema):
                _schemas_of(nested, seen)


def add_schema_extras(doc: dict, routes: list[Route]) -> None:
    """Merge each body schema's OPENAPI_EXTRA (rules across fields, e.g. anyOf/minProperties) into its component.

    marshmallow states such rules in @validates_schema code, which apispec cannot
    render; the class says them once more in JSON Schema, next to that code.
    """
    from apispec.ext.marshmallow import resolver
    seen: set = set()
    for route in routes:
        _schemas_of(route.body, seen)
        _schemas_of(route.response, seen)
    components = doc.get("components", {}).get("schemas", {})
    for schema_cls in seen:
        extra = getattr(schema_cls, "OPENAPI_EXTRA", None)
        if not extra:
            continue
        name = resolver(schema_cls)
        if name not in components:
            raise KeyError(f"OPENAPI_EXTRA of {schema_cls.__name__}: no component {name} in the document")
        _merge(components[name], extra)


def _merge(target: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
