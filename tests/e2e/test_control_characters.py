"""Control characters are refused in every text field, on both databases (issue 8 point 4).

PostgreSQL cannot store NUL: before the shared text field, a "\\u0000" in any string
(even the unauthenticated login username) reached the database and came back as a 500.
This walks the OpenAPI document: every string field of every request body, every text
query parameter and every path parameter gets a NUL; the answer is a 4xx (422 naming the
field for bodies and queries), never a 5xx, and no row is written anywhere.
"""
from __future__ import annotations

import re
import time
import urllib.parse

import pytest
import sqlalchemy as sa

from services.common.migrate import available_services
from services.gateway.routes import ROUTES
from services.gateway.routing import _openapi_path

NUL = "a\u0000b"
SAMPLE_PATH = {"code": "met.item", "item_code": "met.item", "number": "GB/T 1-2000", "version": "1",
               "user_id": "00000000-0000-4000-8000-000000000000"}
ROLE_USERS = {"admin": "admin", "operator": "operator1", "regulator": "regulator1", "window": "window1",
              "enterprise": "ent-demo", "person": "person-demo"}


def _resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def string_paths(doc, schema, prefix=(), depth=0):
    """Paths to every string a request body may hold: property names, 0 for array items, "k" in free objects."""
    schema = _resolve(doc, schema)
    if depth > 8:
        return
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and "enum" not in schema:
        yield prefix
    for name, sub in (schema.get("properties") or {}).items():
        yield from string_paths(doc, sub, prefix + (name,), depth + 1)
    if isinstance(schema.get("items"), dict):
        yield from string_paths(doc, schema["items"], prefix + (0,), depth + 1)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and "object" in types:
        yield prefix + ("k",)


def body_with(path) -> dict:
    value = NUL
    for step in reversed(path):
        value = [value] if step == 0 else {step: value}
    return value


def errors_name(errors, path) -> bool:
    """The problem's field errors reach the field (or the free object holding it)."""
    node = errors
    for step in path:
        key = str(step)
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif step == "k" and isinstance(node, list):
            return True
        else:
            return False
    if isinstance(node, dict):   # a free object's entry: marshmallow names its key or its value
        return any(isinstance(v, list) and v for v in node.values())
    return isinstance(node, list) and bool(node)


def _sample(converter: str | None, name: str) -> str:
    # A standard number carries slashes and only a <path:...> parameter takes them; a report
    # number (/reports/<number>) is one path segment.
    if name == "number" and converter != "path":
        return "QI-DEMO-0001"
    return SAMPLE_PATH.get(name, "demo-id-1")


def concrete(path: str) -> str:
    return re.sub(r"<(?:([^:>]+):)?([^>]+)>",
                  lambda m: urllib.parse.quote(_sample(m.group(1), m.group(2)), safe=""), path)


# The registry's minute sweep writes on its own (qualification expiry notices and history,
# institution.changed); its rows are told apart so that a sweep during the walk is no finding.
SWEEP_TABLES = {"registry.notification", "registry.institution_history"}
SWEEP_EVENTS = {"qualification.expiring", "institution.changed"}


def row_counts(platform) -> dict:
    """Rows per table in every service database (consumers' processed-event ledgers and the
    sweep's own writes aside); outbox rows counted per event type."""
    urls = platform.db_urls or {s: f"sqlite:///{platform.data_dir / (s + '.db')}"
                                for s in available_services()}
    counts = {}
    for service, url in urls.items():
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                for table in sa.inspect(conn).get_table_names():
                    if table in ("processed_event", "alembic_version") or f"{service}.{table}" in SWEEP_TABLES:
                        continue
                    if table == "outbox_event":
                        for kind, n in conn.execute(sa.text('SELECT type, COUNT(*) FROM outbox_event GROUP BY type')):
                            if kind not in SWEEP_EVENTS:
                                counts[f"{service}.outbox_event.{kind}"] = n
                        continue
                    counts[f"{service}.{table}"] = conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
        finally:
            engine.dispose()
    return counts


def settled_counts(platform) -> dict:
    before = row_counts(platform)
    for _ in range(10):
        time.sleep(0.5)
        again = row_counts(platform)
        if again == before:
            return again
        before = again
    return before


@pytest.fixture(scope="module")
def tokens(api):
    out = {role: api.login(user) for role, user in ROLE_USERS.items()}
    # No demo account has the institution role: one is made for this walk.
    inst = api.get("/api/v1/institutions", params={"limit": 1}).json()["items"][0]["institution_id"]
    made = api.post("/api/v1/users", token=out["admin"], json={
        "username": "nul-walk-inst", "password": "Passw0rd!2026", "role": "institution", "nickname": "机构账号",
        "institution_id": inst})
    assert made.status_code in (201, 409), made.text
    out["institution"] = api.login("nul-walk-inst")
    return out


def token_for(route, tokens):
    if route.roles is None:
        return None
    return tokens[route.roles[0]] if route.roles else tokens["enterprise"]


def test_nul_in_any_body_field_is_a_422_naming_it_and_writes_nothing(api, platform, tokens):
    doc = api.get("/api/v1/openapi.json").json()
    before = settled_counts(platform)
    checked, failures = 0, []
    for route in ROUTES:
        if route.body is None:
            continue
        op = doc["paths"][_openapi_path(route.path)][route.method.lower()]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        for path in string_paths(doc, schema):
            response = api.request(route.method, concrete("/api/v1" + route.path), token=token_for(route, tokens),
                                   json=body_with(path))
            checked += 1
            problem = response.json() if response.headers.get("Content-Type", "").startswith(
                "application/problem+json") else {}
            if response.status_code != 422 or not errors_name(problem.get("errors", {}), path):
                failures.append((route.method, route.path, path, response.status_code, response.text[:300]))
    assert checked > 150, checked
    assert not failures, "\n".join(map(str, failures))
    assert settled_counts(platform) == before


def test_nul_in_query_strings_and_path_parameters_is_refused(api, tokens):
    failures, checked = [], 0
    for route in ROUTES:
        token = token_for(route, tokens)
        if route.query is not None:
            for name, fld in route.query._declared_fields.items():
                if fld.__class__.__name__ not in ("String", "MultilineString"):
                    continue
                response = api.request(route.method, concrete("/api/v1" + route.path), token=token,
                                       params={name: NUL})
                checked += 1
                if response.status_code != 422 or name not in response.json().get("errors", {}):
                    failures.append(("query", route.path, name, response.status_code, response.text[:200]))
        for name in re.findall(r"<(?:[^:>]+:)?([^>]+)>", route.path):
            if route.path.count("<int:" + name):
                continue
            path = "/api/v1" + re.sub(r"<(?:[^:>]+:)?" + name + ">", urllib.parse.quote(NUL), route.path)
            response = api.request(route.method, concrete(path), token=token, json={})
            checked += 1
            if not 400 <= response.status_code < 500:
                failures.append(("path", route.method, route.path, name, response.status_code, response.text[:200]))
    assert checked > 60, checked
    assert not failures, "\n".join(map(str, failures))
