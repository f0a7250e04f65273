"""Routes built from the services' contracts: one per declared operation.

The gateway imports contracts only (schemas and operation tables, no models), so
loading it loads no service's ORM. A contract route forwards the request as it
came (path values, the JSON body, the raw query string) to the operation's RPC
method; the service's pipeline checks the role, validates and dumps, once.
"""
from __future__ import annotations

import importlib

from services.common import platform
from services.common.errors import ValidationFailed
from services.common.fields import bilingual
from services.common.operations import Contract, Operation

from .routing import Route


def contract_of(service: str) -> Contract:
    return importlib.import_module(f"services.{service}.contract").CONTRACT


def forwarder(service: str, op: Operation):
    names = op.path_params
    # Query fields travel as keywords beside these: a query parameter of the same name is
    # no field of the operation (422, as any unknown parameter), never a second argument.
    reserved = set(names) | {"payload", "idempotency_key", "principal", "query"}

    def forward(ctx):
        args = [ctx.path_params[name] for name in names]
        if op.body is not None:
            args.append(ctx.body)
        # An operation without query parameters ignores a query string (as the gateway always did).
        kwargs = dict(ctx.query) if op.query is not None else {}
        clash = sorted(reserved & set(kwargs))
        if clash:
            raise ValidationFailed("Some query parameters are invalid / 部分查询参数无效",
                                   errors={name: [bilingual("unknown")] for name in clash})
        if op.creates and ctx.idempotency_key:
            kwargs["idempotency_key"] = ctx.idempotency_key
        result = ctx.call(service, op.name, *args, **kwargs)
        status = op.status
        for flag, other in op.status_when.items():
            if isinstance(result, dict) and result.get(flag):
                status = other
        return status, result

    forward.__name__ = forward.__qualname__ = op.name  # the OpenAPI operationId is "<tag>_<name>"
    return forward


def routes_of(contract: Contract) -> list[Route]:
    return [Route(op.method, op.path, forwarder(contract.service, op), op.summary, op.tag or contract.service,
                  body=op.body, query=op.query, response=op.response, many=op.many, roles=op.roles,
                  status=op.status, idempotent_create=op.creates, description=op.description,
                  extra_responses=dict(op.problems), path_patterns=dict(op.path_patterns), operation=op)
            for op in contract.operations]


def contract_routes() -> tuple[list[Route], list[str]]:
    """(routes, services) of every service whose contract has landed."""
    routes, services = [], []
    for service in platform.with_contract():
        routes.extend(routes_of(contract_of(service)))
        services.append(service)
    return routes, services
