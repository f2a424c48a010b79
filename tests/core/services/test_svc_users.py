"""Users: deactivation with handover (decision 15), the last admin, and role/unit changes taking effect."""

import pytest

import kehu
from kehu.core.models import Customer, Event, User


def ids_of(rows):
    return {row["id"] for row in rows}


def test_deactivating_with_handover_moves_the_customers_and_locks_the_user_out(crm, as_, owned):
    second = as_("li").customers.create(name="李的第二个客户")["id"]
    result = as_("admin", now="2026-11-23T10:00").users.deactivate("li", handover="wang")
    assert result["active"] is False and result["customers_handed_over"] == 2

    wang = User.get(User.login == "wang")
    assert {c.owner_id for c in Customer.select().where(Customer.id.in_([owned["li"], second]))} == {wang.id}
    assert ids_of(as_("wang").customers.list(limit=0)) == {owned["wang"], owned["li"], second}

    moved = crm.events(action="customer.owner_changed")
    assert sorted(int(e.entity_id) for e in moved) == sorted([owned["li"], second])
    li_id = User.get(User.login == "li").id
    for event in moved:
        assert event.before == {"owner": li_id}
        assert event.after == {"owner": wang.id, "reason": "handover"}
        assert event.actor.login == "admin"
    [deactivated] = crm.events(action="user.deactivated")
    assert deactivated.after == {"active": False, "handover": "wang"}

    with pytest.raises(kehu.PermissionDenied) as caught:
        crm.app.workspace("acme", user="li")
    assert caught.value.code == "permission_denied"
    assert "li" not in {u["login"] for u in as_("admin").users.list(limit=0)}
    [listed] = [u for u in as_("admin").users.list(include_inactive=True, limit=0) if u["login"] == "li"]
    assert listed["active"] is False
    # An inactive user can neither receive customers nor be named owner.
    with pytest.raises(kehu.Invalid):
        as_("m1").customers.transfer([owned["wang"]], "li")
    with pytest.raises(kehu.Invalid):
        as_("m1").customers.create(name="给已离职的", owner="li")


def test_deactivating_without_handover_keeps_the_customers_where_they_are(crm, as_, owned):
    assert as_("admin").users.deactivate("zhao")["customers_handed_over"] == 0
    assert Customer.get_by_id(owned["zhao"]).owner.login == "zhao"
    assert crm.events(action="customer.owner_changed") == []
    # A manager above can still see and hand those customers on.
    assert as_("d1").customers.transfer([owned["zhao"]], "li")["transferred"] == [owned["zhao"]]


def test_the_last_admin_and_yourself_cannot_be_deactivated(crm, as_):
    before = crm.snapshot(User)
    with pytest.raises(kehu.Conflict) as caught:
        as_("admin").users.deactivate("admin")  # yourself
    assert caught.value.code == "conflict"
    with pytest.raises(kehu.Conflict):
        as_("gm").users.deactivate("admin")  # gm may administer, but admin is the last admin
    with pytest.raises(kehu.Conflict):
        as_("gm").users.deactivate("gm")
    assert crm.snapshot(User) == before
    assert User.get(User.login == "admin").active

    as_("admin").users.add("admin2", "admin")
    assert as_("gm").users.deactivate("admin")["active"] is False
    with pytest.raises(kehu.Conflict):
        as_("gm").users.deactivate("admin2")


@pytest.mark.parametrize("handover, code", [("li", "invalid"), ("nobody", "not_found"), ("gone", "invalid")])
def test_a_bad_handover_leaves_the_user_active(crm, as_, owned, handover, code):
    as_("admin").users.add("gone", "rep", unit="总公司/华东/销售一部")
    as_("admin").users.deactivate("gone")
    before = crm.snapshot(User, Customer)
    with pytest.raises(kehu.KehuError) as caught:
        as_("admin").users.deactivate("li", handover=handover)
    assert caught.value.code == code
    assert crm.snapshot(User, Customer) == before
    assert User.get(User.login == "li").active
    assert Customer.get_by_id(owned["li"]).owner.login == "li"
    assert crm.as_("li").customers.show(owned["li"])["id"] == owned["li"]


def test_only_admins_manage_users(crm, as_):
    before = crm.snapshot(User)
    for login in ("li", "m1", "d1", "vp", "finance"):
        handle = as_(login)
        for call in (lambda: handle.users.add("qian", "rep"), lambda: handle.users.deactivate("wang"),
                     lambda: handle.users.update("wang", role="manager")):
            with pytest.raises(kehu.PermissionDenied):
                call()
    assert crm.snapshot(User) == before
    assert as_("gm").users.add("qian", "rep")["login"] == "qian"


def test_deactivating_twice_is_a_conflict(as_):
    as_("admin").users.deactivate("wang")
    with pytest.raises(kehu.Conflict):
        as_("admin").users.deactivate("wang")


def test_a_role_change_changes_the_scope_at_once(as_, owned):
    with pytest.raises(kehu.PermissionDenied):
        as_("li").customers.show(owned["wang"])
    changed = as_("admin").users.update("li", role="manager")
    assert changed["role"] == "manager"

    li = as_("li")  # the next request by li
    assert ids_of(li.customers.list(limit=0)) == {owned["li"], owned["wang"], owned["m1"]}
    assert li.customers.delete(owned["wang"])["deleted"] is True
    with pytest.raises(kehu.PermissionDenied):
        li.customers.show(owned["zhao"])

    as_("admin").users.update("li", role="rep")
    assert ids_of(as_("li").customers.list(limit=0)) == {owned["li"]}


def test_a_unit_change_changes_the_scope_at_once(as_, owned):
    assert as_("admin").users.update("li", unit="总公司/华东/销售二部")["unit"] == "总公司/华东/销售二部"
    assert ids_of(as_("m1").customers.list(limit=0)) == {owned["wang"], owned["m1"]}
    with pytest.raises(kehu.PermissionDenied):
        as_("m1").customers.show(owned["li"])
    assert owned["li"] in ids_of(as_("d1").customers.list(limit=0))

    # Moving the manager to 华北 gives them 华北/销售一部 instead.
    as_("admin").users.update("m1", unit="总公司/华北/销售一部")
    assert ids_of(as_("m1").customers.list(limit=0)) == {owned["sun"], owned["m1"]}


@pytest.mark.parametrize("changes, code", [({"role": "boss"}, "invalid"), ({"unit": "总公司/火星"}, "not_found")])
def test_bad_user_changes_change_nothing(crm, as_, changes, code):
    before = crm.snapshot(User)
    with pytest.raises(kehu.KehuError) as caught:
        as_("admin").users.update("li", **changes)
    assert caught.value.code == code
    li = User.get(User.login == "li")
    assert (li.role, li.unit.path) == ("rep", "总公司/华东/销售一部")
    assert crm.snapshot(User) == before
    assert crm.count(Event) == before["Event"]


def test_the_last_admin_cannot_be_demoted(crm, as_):
    with pytest.raises(kehu.Conflict):
        as_("admin").users.update("admin", role="gm")  # demoting yourself
    # Nor by someone else who may administer users: the workspace would be left without an admin.
    with pytest.raises(kehu.Conflict):
        as_("gm").users.update("admin", role="rep")
    assert User.get(User.login == "admin").role == "admin"

    as_("admin").users.add("admin2", "admin")
    assert as_("gm").users.update("admin", role="gm")["role"] == "gm"


def test_a_handover_includes_the_departing_users_opportunities(crm, as_, owned):
    # DOMAIN §1.3: "departing reps' data handed over". The successor must see the pipeline of the customers
    # they receive, and a rep sees only opportunities they own.
    li = as_("li")
    opportunity = li.opportunities.create(owned["li"], "一期", "方案", amount="50000")
    as_("admin").users.deactivate("li", handover="wang")

    wang = as_("wang")
    assert [o["id"] for o in wang.opportunities.list(customer=owned["li"])] == [opportunity["id"]]
    assert wang.opportunities.show(opportunity["id"])["owner"] == "wang"
    [moved] = crm.events(action="opportunity.owner_changed", entity=f"opportunity:{opportunity['id']}")[-1:]
    assert moved.after == {"owner": User.get(User.login == "wang").id, "reason": "handover"}
