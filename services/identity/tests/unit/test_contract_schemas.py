"""The contract's schemas: every request field described, unknown fields refused, OpenAPI renders."""
from __future__ import annotations

import pytest

from services.identity.contract import schemas


@pytest.mark.parametrize("schema", [schemas.RegisterEnterprise, schemas.RegisterPerson, schemas.CreateStaff,
                                    schemas.Login, schemas.Refresh, schemas.PhoneCodeRequest,
                                    schemas.PhoneCodeVerify, schemas.RoleChange, schemas.FindByPhone])
def test_request_schemas_describe_every_field_and_reject_unknown_ones(schema):
    instance = schema()
    for name, field in instance.fields.items():
        assert field.metadata.get("description"), f"{schema.__name__}.{name} lacks a description"
    from marshmallow import ValidationError
    with pytest.raises(ValidationError) as caught:
        instance.load({"surprise": 1})
    assert "surprise" in caught.value.messages


def test_schemas_render_to_openapi():
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec("t", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    for name in ("UserOut", "MeOut", "RegisterEnterprise", "RegisterPerson", "TokenOut", "UserPage", "PhoneCodeSent"):
        spec.components.schema(name, schema=getattr(schemas, name))
    rendered = spec.to_dict()["components"]["schemas"]
    assert rendered["RegisterEnterprise"]["properties"]["uscc"]["type"] == "string"
    assert "password" not in rendered["MeOut"]["properties"]
    assert set(rendered["RegisterPerson"]["required"]) >= {"username", "password", "phone", "id_number"}


def test_the_contract_loads_no_models_and_no_transport():
    """The gateway imports the contract: it must not bring identity's domain, its ORM or the RPC
    transport along (services.common.errors registers its classes with nameko.exceptions, no more)."""
    import subprocess
    import sys

    probe = ("import sys, services.identity.contract as c; "
             "bad = [m for m in sys.modules if m.startswith(('services.identity.', 'nameko.', 'sqlalchemy.orm')) "
             "and not m.startswith('services.identity.contract') and m != 'nameko.exceptions']; "
             "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_operation_names_a_domain_function_that_exists():
    import inspect

    from services.common.pipeline import handler_of
    from services.identity.contract import CONTRACT

    for op in CONTRACT.operations:
        fn = handler_of("services.identity", op.handler)
        params = set(inspect.signature(fn).parameters)
        assert set(op.path_params) <= params, op.name
        assert op.body is None or "data" in params, op.name
