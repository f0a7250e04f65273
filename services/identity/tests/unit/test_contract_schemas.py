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
