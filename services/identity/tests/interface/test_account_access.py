"""Who sees what (后台实名、前台自愿), role changes and staff accounts (R-4.1.4 d)."""
from __future__ import annotations

import pytest

from services.common import errors
from services.common.audit import list_audit
from services.identity.models import AuthSession, RoleChange, User

from ..helpers import PASSWORD, count, enterprise_payload, events, make_user, person_payload, principal_of


@pytest.fixture
def people(service, db):
    person = service.register(person_payload())
    return {
        "person": person,
        "person_p": principal_of(person),
        "enterprise_p": principal_of(service.register(enterprise_payload())),
        "admin": make_user(db, "root", "admin"),
        "operator": make_user(db, "op", "operator"),
        "regulator": make_user(db, "reg", "regulator"),
        "window": make_user(db, "win", "window", window_id="w-1"),
    }


def _reveals(db):
    with db.read() as session:
        return list_audit(session, action="user.pii_revealed")


def test_operator_reveal_is_full_and_audited(service, db, people):
    person = people["person"]
    masked = service.get_user(people["operator"], person["id"])
    assert masked["pii_revealed"] is False and "*" in masked["id_number"] and "*" in masked["phone"]
    assert _reveals(db) == []

    full = service.get_user(people["operator"], person["id"], reveal=True)
    assert full["pii_revealed"] is True
    assert full["id_number"] == person_payload()["id_number"] and full["phone"] == "13700001111"
    assert full["real_name"] == "李四"
    entries = _reveals(db)
    assert len(entries) == 1
    assert entries[0]["actor_id"] == people["operator"]["user_id"]
    assert entries[0]["target_id"] == person["id"] and entries[0]["target_owner_id"] == person["id"]
    assert "13700001111" not in str(entries[0]) and person_payload()["id_number"] not in str(entries[0])


def test_regulator_reads_masked_only(service, db, people):
    view = service.get_user(people["regulator"], people["person"]["id"], reveal=True)
    assert view["pii_revealed"] is False and view["real_name"] == "李*"
    assert _reveals(db) == []


def test_owner_may_reveal_own_data_without_audit(service, db, people):
    own = service.get_user(people["person_p"], people["person"]["id"], reveal=True)
    assert own["pii_revealed"] is True and own["phone"] == "13700001111"
    assert _reveals(db) == []
    assert service.me(people["person_p"])["phone"] == "137****1111"


def test_others_cannot_read_a_user(service, people):
    for caller in ("enterprise_p", "window"):
        with pytest.raises(errors.Forbidden):
            service.get_user(people[caller], people["person"]["id"])
    # Staff get 404 for a missing id; others got 403 before the lookup.
    with pytest.raises(errors.NotFound):
        service.get_user(people["operator"], "no-such-id")
    with pytest.raises(errors.Forbidden):
        service.get_user(people["enterprise_p"], "no-such-id")


def test_list_users_pages_masked_for_staff_only(service, people):
    page = service.list_users(people["regulator"], limit=3)
    assert page["total"] == 6 and len(page["items"]) == 3 and page["next_cursor"]
    rest = service.list_users(people["regulator"], limit=50, cursor=page["next_cursor"])
    names = [u["username"] for u in page["items"] + rest["items"]]
    assert names == sorted(names) and len(set(names)) == 6 and rest["next_cursor"] is None
    assert all(u["pii_revealed"] is False for u in page["items"] + rest["items"])
    assert [u["role"] for u in service.list_users(people["operator"], role="person")["items"]] == ["person"]
    with pytest.raises(errors.Forbidden):
        service.list_users(people["person_p"])
    with pytest.raises(errors.ValidationFailed) as caught:
        service.list_users(people["operator"], role="king")
    assert "role" in caught.value.errors


def test_find_by_phone_uses_the_blind_index_and_is_audited(service, db, people):
    found = service.find_user_by_phone(people["operator"], {"phone": "+86 137 0000 1111"})
    assert [u["id"] for u in found["items"]] == [people["person"]["id"]]
    assert found["items"][0]["phone"] == "137****1111"
    assert service.find_user_by_phone(people["admin"], {"phone": "13600000000"})["items"] == []
    with db.read() as session:
        lookups = list_audit(session, action="user.looked_up_by_phone")
    assert len(lookups) == 2 and all("1370000" not in str(e) for e in lookups)
    with pytest.raises(errors.Forbidden):
        service.find_user_by_phone(people["regulator"], {"phone": "13700001111"})
    with pytest.raises(errors.ValidationFailed):
        service.find_user_by_phone(people["operator"], {"phone": "12345"})


def test_role_change_by_admin_is_recorded_audited_announced_and_ends_sessions(service, db, people):
    target = people["person"]
    login = service.login("li.si", PASSWORD)
    changed = service.change_role(people["admin"], target["id"], {"role": "operator"})
    assert changed["role"] == "operator"

    with db.read() as session:
        history = session.query(RoleChange).all()
        assert [(h.old_role, h.new_role, h.changed_by) for h in history] == \
            [("person", "operator", people["admin"]["user_id"])]
        assert session.get(AuthSession, login["sid"]).revoked_reason == "role_changed"
        assert list_audit(session, action="user.role_changed")[0]["target_id"] == target["id"]
    event = events(db, "user.role_changed")[0]["data"]
    assert event == {"user_id": target["id"], "old_role": "person", "new_role": "operator",
                     "changed_by": people["admin"]["user_id"]}
    assert login["sid"] in {e["data"]["sid"] for e in events(db, "user.session_revoked")}
    # A token minted with the old role no longer works for role-checked calls.
    with pytest.raises(errors.Unauthorized) as caught:
        service.me(people["person_p"])
    assert caught.value.code == "token_stale"


def test_only_admins_change_roles(service, db, people):
    for caller in ("operator", "regulator", "person_p"):
        with pytest.raises(errors.Forbidden):
            service.change_role(people[caller], people["person"]["id"], {"role": "admin"})
    assert count(db, RoleChange) == 0
    with pytest.raises(errors.ValidationFailed) as caught:
        service.change_role(people["admin"], people["person"]["id"], {"role": "window"})
    assert "window_id" in caught.value.errors
    moved = service.change_role(people["admin"], people["person"]["id"], {"role": "window", "window_id": "w-2"})
    assert moved["window_id"] == "w-2"
    with pytest.raises(errors.NotFound):
        service.change_role(people["admin"], "nobody", {"role": "operator"})


def test_the_last_admin_keeps_the_role(service, people):
    with pytest.raises(errors.Conflict) as caught:
        service.change_role(people["admin"], people["admin"]["user_id"], {"role": "operator"})
    assert caught.value.code == "last_admin"


def test_admin_creates_staff_with_bindings(service, db, people):
    staff = service.create_staff(people["admin"], {"username": "inst1", "password": PASSWORD, "role": "institution",
                                                   "nickname": "检测所", "institution_id": "inst-9",
                                                   "phone": "13600000001"}, idempotency_key="k1")
    again = service.create_staff(people["admin"], {"username": "inst1", "password": PASSWORD, "role": "institution",
                                                   "nickname": "检测所", "institution_id": "inst-9",
                                                   "phone": "13600000001"}, idempotency_key="k1")
    assert again == staff and staff["institution_id"] == "inst-9" and staff["phone"] == "136****0001"
    assert count(db, User) == 7
    registered = [e for e in events(db, "user.registered") if e["data"]["user_id"] == staff["id"]]
    assert registered[0]["data"]["role"] == "institution"

    with pytest.raises(errors.ValidationFailed) as caught:
        service.create_staff(people["admin"], {"username": "win2", "password": PASSWORD, "role": "window",
                                               "nickname": "窗口"})
    assert "window_id" in caught.value.errors
    with pytest.raises(errors.ValidationFailed) as caught:
        service.create_staff(people["admin"], {"username": "x1", "password": PASSWORD, "role": "enterprise",
                                               "nickname": "x"})
    assert "role" in caught.value.errors
    with pytest.raises(errors.Forbidden):
        service.create_staff(people["operator"], {"username": "op2", "password": PASSWORD, "role": "operator",
                                                  "nickname": "op2"})
    assert count(db, User) == 7


def test_staff_tokens_carry_their_binding(service, people):
    from services.identity import tokens

    claims = tokens.decode_access_token(service.login("win", PASSWORD)["access_token"])
    assert claims["window_id"] == "w-1" and claims["role"] == "window"


def test_calls_without_a_principal_are_unauthorized(service, people):
    for call in (lambda: service.me(None), lambda: service.get_user({}, people["person"]["id"]),
                 lambda: service.request_phone_code({"user_id": "x"}, {})):
        with pytest.raises(errors.Unauthorized):
            call()


def test_a_role_change_drops_a_binding_the_new_role_does_not_have(service, people):
    """A window binding left on a non-window account would ride in its tokens."""
    target = people["person"]["id"]
    assert service.change_role(people["admin"], target, {"role": "window", "window_id": "w-9"})["window_id"] == "w-9"
    changed = service.change_role(people["admin"], target, {"role": "enterprise"})
    assert changed["window_id"] is None and changed["institution_id"] is None
    staff = service.change_role(people["admin"], target, {"role": "institution", "institution_id": "i-3"})
    assert (staff["institution_id"], staff["window_id"]) == ("i-3", None)


def test_window_staff_may_check_an_accounts_kind_and_nothing_more(service, people):
    enterprise_id = people["enterprise_p"]["user_id"]
    kind = service.account_kind(people["window"], enterprise_id)
    # The level is no personal data; staff filing a demand need it (verification_levels).
    assert kind == {"user_id": enterprise_id, "role": "enterprise", "status": "active",
                    "verification_level": "format_checked"}
    assert service.account_kind(people["operator"], enterprise_id)["role"] == "enterprise"
    for caller in ("person_p", "regulator"):
        with pytest.raises(errors.Forbidden):
            service.account_kind(people[caller], enterprise_id)
    with pytest.raises(errors.NotFound):
        service.account_kind(people["window"], "nobody")


def test_operator_disables_a_public_account_which_ends_its_sessions_and_frees_its_details(service, db, people):
    from services.common import contracts
    target = people["person"]
    login = service.login("li.si", PASSWORD)
    out = service.set_status(people["operator"], target["id"], {"status": "disabled", "reason": "冒用他人信息"})
    assert out["status"] == "disabled"
    with db.read() as session:
        assert session.get(AuthSession, login["sid"]).revoked_reason == "account_disabled"
        assert list_audit(session, action="user.status_changed")[0]["detail"]["reason"] == "冒用他人信息"
    [event] = events(db, "user.status_changed")
    contracts.validate_envelope(event)
    assert event["data"]["new_status"] == "disabled" and event["data"]["changed_by"] == people["operator"]["user_id"]
    with pytest.raises(errors.DomainError) as refused:
        service.login("li.si", PASSWORD)
    assert refused.value.code == "account_disabled"
    # A token it still holds reads nothing either (GET /me checks the account row fresh).
    with pytest.raises(errors.Unauthorized) as gone:
        service.me({"user_id": target["id"], "role": "person", "sid": login["sid"]})
    assert gone.value.code == "account_disabled"
    # The same phone and ID number can now be registered by their rightful owner.
    rightful = service.register(person_payload(username="rightful"))
    assert rightful["status"] == "active"
    # ...and the disabled account cannot take them back.
    with pytest.raises(errors.Conflict) as taken:
        service.set_status(people["operator"], target["id"], {"status": "active", "reason": "复核"})
    assert taken.value.code == "details_taken"
    service.set_status(people["operator"], rightful["id"], {"status": "disabled", "reason": "测试"})
    assert service.set_status(people["operator"], target["id"], {"status": "active", "reason": "复核"})["status"] == \
        "active"


def test_status_changes_are_for_staff_and_staff_accounts_for_admins(service, people):
    body = {"status": "disabled", "reason": "x"}
    for caller in ("person_p", "regulator", "window"):
        with pytest.raises(errors.Forbidden):
            service.set_status(people[caller], people["person"]["id"], body)
    with pytest.raises(errors.Forbidden):
        service.set_status(people["operator"], people["regulator"]["user_id"], body)
    assert service.set_status(people["admin"], people["regulator"]["user_id"], body)["status"] == "disabled"
    with pytest.raises(errors.Conflict):
        service.set_status(people["admin"], people["admin"]["user_id"], body)
    with pytest.raises(errors.ValidationFailed):
        service.set_status(people["admin"], people["person"]["id"], {"status": "gone", "reason": "x"})
