"""Upper bounds on every number a client sends: a huge value is a 422, never an overflow in a column."""
from decimal import Decimal

import pytest

from services.common.errors import ValidationFailed
from services.common.schemas import load
from services.matching.contract.schemas_demands import DemandCreate, DemandListQuery, EngagementCreate, ProposalQuery
from services.matching.contract.schemas_packages import PackageCreate
from services.matching.contract.schemas_search import SearchQuery
from services.matching.contract.schemas_visits import VisitCreate, VisitListQuery

from ..helpers import DEMAND


@pytest.mark.parametrize("schema,payload,field", [
    (PackageCreate, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                             "package_price_yuan": 1e307}, "package_price_yuan"),
    (PackageCreate, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                             "package_price_yuan": "10000000000"}, "package_price_yuan"),
    (DemandCreate, {**DEMAND, "budget_yuan": 1e307}, "budget_yuan"),
    (DemandCreate, {**DEMAND, "desired_cycle_working_days": 10 ** 30}, "desired_cycle_working_days"),
    (VisitCreate, {"enterprise_name": "某厂", "visited_on": "2026-09-15",
                           "demands": [{**DEMAND, "budget_yuan": 1e11}]}, "demands"),
    (EngagementCreate, {"institution_id": "i", "agreed_items": ["a"], "agreed_cycle_working_days": 10 ** 9},
     "agreed_cycle_working_days"),
    (SearchQuery, {"price_max": 1e307}, "price_max"),
    (SearchQuery, {"cycle_max": 2 ** 63}, "cycle_max"),
    (SearchQuery, {"limit": 10 ** 6}, "limit"),
    (DemandListQuery, {"limit": 201}, "limit"),
    (VisitListQuery, {"limit": 201}, "limit"),
    (ProposalQuery, {"limit": 51}, "limit"),
])
def test_huge_numbers_are_a_validation_error(schema, payload, field):
    with pytest.raises(ValidationFailed) as refused:
        load(schema, payload)
    assert refused.value.status == 422 and field in refused.value.errors


def test_the_bounds_still_admit_real_values():
    loaded = load(PackageCreate, {"title": "批量检测", "institution_id": "i", "demand_ids": ["a", "b"],
                                                  "package_price_yuan": "9999999999.99"})
    assert loaded["package_price_yuan"] == Decimal("9999999999.99")
    assert load(SearchQuery, {"cycle_max": 3650, "price_max": "0"})["cycle_max"] == 3650
