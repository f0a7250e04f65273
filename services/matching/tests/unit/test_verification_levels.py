"""Publishing a demand needs a verification level (issue 8 point 7): online by the
enterprise itself `licence_reviewed`; filed by staff, the enterprise's level per channel."""
import pytest

from services.common.errors import VerificationLevelRequired
from services.matching import demands
from services.matching.models import Demand

from ..helpers import DEMAND, ENTERPRISE, OPERATOR, WINDOW, shown


def _count(db):
    with db.read() as session:
        return session.query(Demand).count()


def _publish(db, principal, data, lookup=None):
    with db.transaction() as session:
        return shown("publish_demand", demands.publish(session, principal, dict(data), enterprise_lookup=lookup))


@pytest.mark.parametrize("level", ["format_checked", "phone_verified", None])
def test_enterprise_below_licence_reviewed_cannot_publish_online(db, level):
    principal = {**ENTERPRISE, "verification_level": level}
    with pytest.raises(VerificationLevelRequired) as refused:
        _publish(db, principal, DEMAND)
    problem = refused.value.problem()
    assert problem["status"] == 403 and problem["code"] == "verification_level_required"
    assert (problem["required_level"], problem["current_level"]) == ("licence_reviewed", level)
    assert _count(db) == 0   # nothing written, no clock started


@pytest.mark.parametrize("level", ["licence_reviewed", "externally_verified"])
def test_reviewed_or_externally_verified_enterprise_publishes(db, level):
    assert _publish(db, {**ENTERPRISE, "verification_level": level}, DEMAND)["status"] == "published"


def _lookup(level):
    return lambda user_id: {"user_id": user_id, "role": "enterprise", "status": "active", "verification_level": level}


def test_staff_filing_by_phone_needs_the_enterprises_verified_phone(db):
    filed = {**DEMAND, "enterprise_user_id": ENTERPRISE["user_id"], "channel": "phone"}
    with pytest.raises(VerificationLevelRequired) as refused:
        _publish(db, OPERATOR, filed, _lookup("format_checked"))
    assert refused.value.problem()["required_level"] == "phone_verified"
    assert "enterprise account" in refused.value.detail
    assert _publish(db, OPERATOR, filed, _lookup("phone_verified"))["channel"] == "phone"


@pytest.mark.parametrize("channel", ["onsite", "visit"])
def test_staff_filing_in_person_needs_only_a_checked_code(db, channel):
    filed = {**DEMAND, "enterprise_user_id": ENTERPRISE["user_id"], "channel": channel}
    assert _publish(db, WINDOW, filed, _lookup("format_checked"))["channel"] == channel
    with pytest.raises(VerificationLevelRequired):
        _publish(db, WINDOW, filed, _lookup(None))
