"""Search, the clause-5 lookups and an institution's public profile."""
from __future__ import annotations

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_base import EXPLAIN, MAX_CYCLE_DAYS, STANDARD, text, yuan
from .vocabulary import CATEGORIES, QUALIFICATION_TYPES


class SearchQuery(Schema):
    q = text(200)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    item = text(64)
    region = text(50)
    park = text(100)
    qualification = fields.String(validate=validate.OneOf(QUALIFICATION_TYPES))
    standard = fields.String(validate=STANDARD)
    price_max = yuan()
    cycle_max = fields.Integer(validate=validate.Range(min=0, max=MAX_CYCLE_DAYS))
    rating_min = fields.Float(validate=validate.Range(min=0, max=5))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = text(300)


class LookupQuery(Schema):
    q = text(200)
    region = text(50)
    standard = fields.String(validate=STANDARD)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = text(300)


class MatchQualificationOut(Schema):
    """A qualification of an indexed institution (registry's PublicQualification + currently_valid)."""

    qualification_id = fields.String()
    type = fields.String(metadata={"description": ", ".join(QUALIFICATION_TYPES)})
    number = fields.String(allow_none=True)
    issuer = fields.String(allow_none=True)
    valid_from = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    valid_to = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    scope = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "valid, expired or revoked, as the registry published it"})
    currently_valid = fields.Boolean(metadata={"description": "status valid and valid_to not past today"})


class MatchCapabilityOut(Schema):
    """A capability as the registry published it (PublicCapability of docs/asyncapi.yaml)."""

    capability_id = fields.String()
    category = fields.String()
    item_code = fields.String(allow_none=True)
    item_name = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    parameter = fields.String(allow_none=True)
    method_standard = fields.String(allow_none=True, metadata={"description": "e.g. GB/T 2828.1-2012"})
    price_yuan = yuan(allow_none=True)
    cycle_working_days = fields.Integer(allow_none=True)
    qualification_id = fields.String(allow_none=True)


class _PublicProfileOut(Schema):
    institution_id = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.String(allow_none=True)
    park = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    qualifications = fields.List(fields.Nested(MatchQualificationOut))
    rating = fields.Float(allow_none=True, metadata={"description": "Average rating out of 5; null: no ratings yet"})
    on_time_rate = fields.Float(allow_none=True, metadata={"description": "Share of services finished on time "
                                                                          "(0..1); null: no record yet"})


class SearchItemOut(_PublicProfileOut):
    matched_capabilities = fields.List(fields.Nested(MatchCapabilityOut),
                                       metadata={"description": "Capabilities that match the query, at most 5"})
    matched_capability_count = fields.Integer(metadata={"description": "All matching capabilities"})
    score = fields.Float()
    explain = fields.List(fields.Dict(), metadata={"description": EXPLAIN})


class SearchResultOut(Schema):
    items = fields.List(fields.Nested(SearchItemOut))
    total = fields.Integer(metadata={"description": "All matches, not only this page"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "Pass as `cursor` for the next page"})
    query_terms = fields.List(fields.String(), metadata={"description": "The words `q` was split into"})
    ignored_terms = fields.List(fields.String(), metadata={"description": "Words the index has never seen; "
                                                                          "they do not narrow the result"})


class LookupResultOut(SearchResultOut):
    lookup = fields.String(metadata={"description": "metrology, labs or certification"})


class InstitutionProfileOut(_PublicProfileOut):
    capabilities = fields.List(fields.Nested(MatchCapabilityOut))
