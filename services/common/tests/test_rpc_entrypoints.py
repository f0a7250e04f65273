"""Every RPC of every service goes through the verifying entrypoint (issue 8.1).

A method registered with nameko's plain `rpc` would believe a `principal`
argument again; this test finds any such method, and shows which methods need a
caller, take one if present, or are public.
"""
from __future__ import annotations

import importlib
import inspect

import pytest
from nameko.rpc import Rpc

from deploy.local import running_services
from services.common.nameko_ext import CallerRpc

SERVICES = [s for s in running_services() if s != "gateway"]


def service_class(name):
    module = importlib.import_module(f"services.{name}.service")
    return next(obj for obj in vars(module).values()
                if inspect.isclass(obj) and getattr(obj, "name", None) == name and obj.__module__ == module.__name__)


def rpc_entrypoints(cls):
    for attr, member in inspect.getmembers(cls, inspect.isfunction):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, Rpc):
                yield attr, member, entrypoint


@pytest.mark.parametrize("service", SERVICES)
def test_every_rpc_verifies_its_caller(service):
    found = list(rpc_entrypoints(service_class(service)))
    assert found
    plain = [name for name, _, ep in found if not isinstance(ep, CallerRpc)]
    assert plain == [], f"{service}: use services.common.nameko_ext.rpc for {plain}"


def mode(service, method):
    """The mode the entrypoint will apply (as CallerRpc.setup computes it)."""
    cls = service_class(service)
    fn = getattr(cls, method)
    params = inspect.signature(fn.__qi_target__).parameters
    if "principal" not in params:
        return "public"
    return fn.__qi_caller__ or ("required" if params["principal"].default is inspect.Parameter.empty
                                else "optional")


@pytest.mark.parametrize("service,method,expected", [
    ("identity", "list_users", "required"), ("identity", "get_user", "required"), ("identity", "login", "optional"),
    ("identity", "revoked_sessions", "public"), ("registry", "list_applications", "required"),
    ("registry", "get_institution", "optional"), ("registry", "list_institutions", "optional"),
    ("registry", "list_categories", "optional"), ("matching", "list_open_clocks", "required"),
    ("matching", "search_institutions", "optional"), ("matching", "ping", "public"),
])
def test_modes_follow_the_signature(service, method, expected):
    assert mode(service, method) == expected
