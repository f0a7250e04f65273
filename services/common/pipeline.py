"""One pipeline runs every operation of every service.

    class RegistryService:
        name = "registry"
        db = DatabaseProvider()
        ...
    expose(RegistryService, CONTRACT)      # one RPC entrypoint per operation

For each call, in this order and once each: the caller is verified (CallerRpc,
from the signed token in the call's context data, never from an argument); the
role is checked against the operation's `roles`; the body and the query are
loaded with the operation's schemas; a transaction (writes) or a read session is
opened; Idempotency-Key is applied (creating operations); the domain function
runs; its result is dumped with the response schema inside the session.

The domain function is named by the contract ("module:function" in the service's
package) and receives, by parameter name, only what it declares:

    session, principal, data (the loaded body), query (the loaded query),
    each path parameter and each query field by its own name, idempotency_key,
    client_ip and request_id (audit metadata of the call), the contract's `fixed`
    keywords, and whatever the service's `operation_dependencies(self)` returns
    (e.g. a file store or an RPC proxy).
"""
from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable

from nameko.extensions import DependencyProvider

from . import caller, client_address
from .consumer import run_idempotent
from .errors import Forbidden, Unauthorized, ValidationFailed
from .fields import bilingual, query_mode
from .operations import Contract, Operation
from .schemas import instance

P = inspect.Parameter


class CallData(DependencyProvider):
    """The worker's context data (client ip, request id): audit metadata, never proof."""

    def get_dependency(self, worker_ctx):
        return worker_ctx.data


def expose(service_cls: type, contract: Contract) -> type:
    """Give `service_cls` one RPC entrypoint per operation of `contract` (a class decorator too)."""
    from .nameko_ext import rpc  # nameko only here: the contract and the domain stay free of it
    if "call_data" not in vars(service_cls):
        service_cls.call_data = CallData()
    package = service_cls.__module__.rsplit(".", 1)[0]
    for op in contract.operations:
        if op.name in vars(service_cls):
            raise TypeError(f"{service_cls.__name__}.{op.name} is written by hand and declared in the contract")
        setattr(service_cls, op.name, rpc(_entrypoint(contract, op, package)))
    return service_cls


def _entrypoint(contract: Contract, op: Operation, package: str) -> Callable:
    positional = [*op.path_params, *(["payload"] if op.body is not None else [])]

    def entry(self, *args, principal=None, **arguments):
        # Over RPC, CallerRpc passes keywords only; a direct call (unit tests) may pass the
        # path parameters and the body positionally, as the wire convention orders them.
        if len(args) > len(positional):
            raise TypeError(f"{op.name}() takes {len(positional)} positional arguments ({', '.join(positional)})")
        arguments.update(zip(positional, args))
        return run(self, contract, op, package, principal, arguments)

    params = [P("self", P.POSITIONAL_OR_KEYWORD)]
    params += [P(name, P.POSITIONAL_OR_KEYWORD) for name in op.path_params]
    if op.body is not None:
        params.append(P("payload", P.POSITIONAL_OR_KEYWORD))
    if op.roles is None:
        params.append(P("principal", P.KEYWORD_ONLY, default=None))   # optional caller
    else:
        params.append(P("principal", P.KEYWORD_ONLY))                 # required caller (401 without)
    if op.creates:
        params.append(P("idempotency_key", P.KEYWORD_ONLY, default=None))
    if op.query is not None:
        params.append(P("query", P.VAR_KEYWORD))
    entry.__signature__ = inspect.Signature(params)
    entry.__name__ = entry.__qualname__ = op.name
    entry.__doc__ = op.summary
    return entry


@functools.lru_cache(maxsize=None)
def handler_of(package: str, ref: str) -> Callable:
    module_name, _, function = ref.partition(":")
    if not function:
        raise ValueError(f"handler {ref!r} must be 'module:function'")
    module = importlib.import_module(f"{package}.{module_name}")
    return getattr(module, function)


@functools.lru_cache(maxsize=None)
def _wants(fn: Callable) -> tuple[frozenset, bool]:
    sig = inspect.signature(fn)
    return (frozenset(n for n, p in sig.parameters.items() if p.kind is not P.VAR_KEYWORD),
            any(p.kind is P.VAR_KEYWORD for p in sig.parameters.values()))


def check_role(op: Operation, principal: dict | None) -> None:
    if op.roles is None:
        return
    if principal is None:  # CallerRpc already refuses a required caller without a token
        raise Unauthorized("Sign in first / 请先登录", code="token_missing")
    if op.roles and principal["role"] not in op.roles:
        raise Forbidden(f"Role '{principal['role']}' may not do this / 当前角色无权执行该操作")


def load_body(op: Operation, payload) -> dict | None:
    if op.body is None:
        return None
    from .schemas import load
    return load(op.body, payload)


def load_query(op: Operation, raw: dict) -> dict:
    if op.query is None:
        return {}
    from marshmallow import ValidationError
    # Absent and null are the same in a query string; RPC callers may send None for "not given".
    given = {k: v for k, v in raw.items() if v is not None}
    try:
        with query_mode():
            return instance(op.query).load(given)
    except ValidationError as exc:
        raise ValidationFailed("Some query parameters are invalid / 部分查询参数无效",
                               errors=exc.normalized_messages()) from None


def dump(op: Operation, result):
    if op.files and result is not None:
        from .file_responses import to_wire
        return to_wire(result, op.files)
    if op.response is None or result is None:
        return result
    return instance(op.response).dump(result, many=op.many)


def raw_query(op: Operation, arguments: dict) -> dict:
    """The query fields of a call: CallerRpc passes them as plain keywords (it flattens `**query`),
    a direct caller may pass them as `query={...}`."""
    if op.query is None:
        return {}
    reserved = {"payload", "idempotency_key", "query", *op.path_params}
    return {**(arguments.get("query") or {}), **{k: v for k, v in arguments.items() if k not in reserved}}


def run(service, contract: Contract, op: Operation, package: str, principal: dict | None,
        arguments: dict) -> Any:
    check_role(op, principal)
    path = {name: arguments[name] for name in op.path_params}
    raw_body = arguments.get("payload")
    data = load_body(op, raw_body)
    given_query = raw_query(op, arguments)
    query = load_query(op, given_query)
    key = arguments.get("idempotency_key")
    fn = handler_of(package, op.handler)
    names, takes_any = _wants(fn)
    call_data = getattr(service, "call_data", None) or {}
    offered: dict[str, Any] = {
        "principal": principal, "data": data, "query": query, "idempotency_key": key,
        "client_ip": client_address.trusted_ip(call_data), "request_id": call_data.get(caller.REQUEST_ID_KEY),
        **query, **path, **op.fixed,
    }
    extra = getattr(service, "operation_dependencies", None)
    if extra is not None:
        offered.update(extra())

    def invoke(session):
        offered["session"] = session
        kwargs = offered if takes_any else {n: offered[n] for n in names if n in offered}
        return dump(op, fn(**kwargs))

    if not op.is_write:
        with service.db.read() as session:
            return invoke(session)
    with service.db.transaction() as session:
        if not op.creates or not key:
            return invoke(session)
        if principal is None and op.roles is not None:
            raise Unauthorized("Sign in first / 请先登录", code="token_missing")
        scope = f"{contract.service}.{op.name}" + "".join(f":{path[n]}" for n in op.path_params)
        owner = str(principal["user_id"]) if principal else None
        return run_idempotent(session, owner, key, scope, {"body": raw_body, "query": given_query},
                              lambda: invoke(session))


__all__ = ["expose", "run", "CallData", "bilingual"]
