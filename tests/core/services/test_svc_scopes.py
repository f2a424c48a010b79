"""Role scopes (DOMAIN §1.2, DESIGN decision 5): who sees, edits, deletes, creates for others and transfers."""

import pytest

import kehu
from kehu.core.models import Activity, Contact, Customer, Opportunity


def ids_of(rows):
    return {row["id"] for row in rows}


def denied(call):
    with pytest.raises(kehu.PermissionDenied) as caught:
        call()
    assert caught.value.code == "permission_denied"
    return caught.value


# --- seeing -------------------------------------------------------------------------------------------


def test_a_rep_sees_only_the_customers_they_own(as_, owned):
    li = as_("li")
    assert ids_of(li.customers.list(limit=0)) == {owned["li"]}
    assert li.customers.show(owned["li"])["owner"] == "li"


@pytest.mark.parametrize("other", ["wang", "zhao", "sun", "m1"])
def test_a_rep_cannot_see_update_or_delete_another_users_customer(crm, as_, owned, other):
    li = as_("li")
    target = owned[other]
    before = crm.snapshot(Customer)

    assert target not in ids_of(li.customers.list(limit=0))
    denied(lambda: li.customers.show(target))
    denied(lambda: li.customers.update(target, name="抢来的"))
    denied(lambda: li.customers.delete(target))
    denied(lambda: li.audit.list(entity=f"customer:{target}"))

    assert crm.snapshot(Customer) == before
    stored = as_("admin").customers.show(target)
    assert (stored["name"], stored["owner"]) == (f"{other}的客户", other)


def test_a_rep_edits_their_own_customer(as_, owned):
    updated = as_("li").customers.update(owned["li"], name="李的新名字", industry="乳业")
    assert (updated["name"], updated["industry"]) == ("李的新名字", "乳业")
    assert as_("admin").customers.show(owned["li"])["name"] == "李的新名字"


def test_a_rep_can_never_delete_even_their_own_customer(crm, as_, owned):
    before = crm.snapshot(Customer)
    denied(lambda: as_("li").customers.delete(owned["li"]))
    assert crm.snapshot(Customer) == before
    assert Customer.get_by_id(owned["li"]).deleted_at is None
    assert as_("li").customers.show(owned["li"])["id"] == owned["li"]


def test_a_manager_sees_their_department_subtree_only(as_, owned):
    m1 = as_("m1")
    assert ids_of(m1.customers.list(limit=0)) == {owned["li"], owned["wang"], owned["m1"]}
    assert m1.customers.show(owned["li"])["owner"] == "li"
    denied(lambda: m1.customers.show(owned["zhao"]))  # 华东/销售二部: a sibling department
    denied(lambda: m1.customers.show(owned["sun"]))  # 华北/销售一部: same name, another region


def test_a_manager_edits_and_deletes_within_their_department_only(crm, as_, owned):
    m1 = as_("m1")
    assert m1.customers.update(owned["li"], region="杭州")["region"] == "杭州"
    assert m1.customers.delete(owned["wang"]) == {"id": owned["wang"], "deleted": True}
    assert owned["wang"] not in ids_of(as_("admin").customers.list(limit=0))

    before = crm.snapshot(Customer)
    denied(lambda: m1.customers.update(owned["zhao"], region="杭州"))
    denied(lambda: m1.customers.delete(owned["zhao"]))
    assert crm.snapshot(Customer) == before
    assert as_("admin").customers.show(owned["zhao"])["region"] == "华东"


def test_a_director_sees_the_whole_region(as_, owned):
    d1 = as_("d1")
    assert ids_of(d1.customers.list(limit=0)) == {owned["li"], owned["wang"], owned["zhao"], owned["m1"]}
    assert d1.customers.show(owned["zhao"])["owner"] == "zhao"
    denied(lambda: d1.customers.show(owned["sun"]))
    assert d1.customers.delete(owned["zhao"])["deleted"] is True


@pytest.mark.parametrize("login", ["vp", "gm", "finance", "admin"])
def test_vp_gm_finance_and_admin_see_every_customer(as_, owned, login):
    handle = as_(login)
    assert ids_of(handle.customers.list(limit=0)) == set(owned.values())
    for customer_id in owned.values():
        assert handle.customers.show(customer_id)["id"] == customer_id


def test_finance_sees_but_cannot_edit_create_delete_or_transfer(crm, as_, owned):
    finance = as_("finance")
    before = crm.snapshot(Customer)
    denied(lambda: finance.customers.update(owned["li"], name="改"))
    denied(lambda: finance.customers.delete(owned["li"]))
    denied(lambda: finance.customers.create(name="财务建的"))
    denied(lambda: finance.customers.transfer([owned["li"]], "wang"))
    assert crm.snapshot(Customer) == before
    assert as_("admin").customers.show(owned["li"])["owner"] == "li"


# --- creating for someone else ------------------------------------------------------------------------


def test_a_rep_cannot_create_a_customer_owned_by_someone_else(crm, as_):
    before = crm.snapshot(Customer)
    denied(lambda: as_("li").customers.create(name="给王的", owner="wang"))
    assert crm.snapshot(Customer) == before
    # Naming themselves as owner is fine.
    assert as_("li").customers.create(name="自己的", owner="li")["owner"] == "li"


def test_a_manager_creates_for_users_in_scope_only(crm, as_):
    m1 = as_("m1")
    created = m1.customers.create(name="给李的", owner="li")
    assert created["owner"] == "li"
    assert as_("li").customers.show(created["id"])["name"] == "给李的"

    before = crm.snapshot(Customer)
    denied(lambda: m1.customers.create(name="给赵的", owner="zhao"))
    denied(lambda: m1.customers.create(name="给孙的", owner="sun"))
    assert crm.snapshot(Customer) == before
    # The director of 华东 may give one to zhao.
    assert as_("d1").customers.create(name="给赵的", owner="zhao")["owner"] == "zhao"


# --- transfers ------------------------------------------------------------------------------------------


def test_transfer_needs_manager_or_above(crm, as_, owned):
    before = crm.snapshot(Customer)
    denied(lambda: as_("li").customers.transfer([owned["li"]], "wang"))
    denied(lambda: as_("li").customers.update(owned["li"], owner="wang"))  # the same check through update
    assert crm.snapshot(Customer) == before
    assert as_("admin").customers.show(owned["li"])["owner"] == "li"

    assert as_("m1").customers.transfer([owned["li"]], "wang") == {"transferred": [owned["li"]], "to": "wang"}
    assert as_("wang").customers.show(owned["li"])["owner"] == "wang"
    denied(lambda: as_("li").customers.show(owned["li"]))


def test_a_manager_transfers_only_within_scope_and_all_or_nothing(crm, as_, owned):
    m1 = as_("m1")
    before = crm.snapshot(Customer)
    denied(lambda: m1.customers.transfer([owned["zhao"]], "wang"))  # the record is out of scope
    denied(lambda: m1.customers.transfer([owned["li"]], "zhao"))  # the receiver is out of scope
    denied(lambda: m1.customers.transfer([owned["li"], owned["zhao"]], "wang"))  # one bad id fails the batch
    assert crm.snapshot(Customer) == before
    assert Customer.get_by_id(owned["li"]).owner.login == "li"

    # vp sees everything and may move a customer across regions.
    assert as_("vp").customers.transfer([owned["sun"]], "li")["transferred"] == [owned["sun"]]
    assert as_("li").customers.show(owned["sun"])["owner"] == "li"


# --- the same scopes on contacts, opportunities and activities ---------------------------------------


def test_contacts_opportunities_and_activities_follow_the_customer_scope(crm, as_, owned):
    li = as_("li")
    contact = li.contacts.add(owned["li"], "张经理", phone="13900000000")
    opportunity = li.opportunities.create(owned["li"], "一期", "初步接触", amount="1000")
    activity = li.activities.log("call", "首次电话", customer=owned["li"])

    wang = as_("wang")
    before = crm.snapshot(Contact, Opportunity, Activity)
    denied(lambda: wang.contacts.list(owned["li"]))
    denied(lambda: wang.contacts.add(owned["li"], "插一脚"))
    denied(lambda: wang.opportunities.show(opportunity["id"]))
    denied(lambda: wang.opportunities.update(opportunity["id"], stage="赢单"))
    denied(lambda: wang.opportunities.create(owned["li"], "抢单", "初步接触"))
    denied(lambda: wang.activities.log("note", "偷看", customer=owned["li"]))
    assert crm.snapshot(Contact, Opportunity, Activity) == before
    assert opportunity["id"] not in ids_of(wang.opportunities.list(limit=0))
    assert activity["id"] not in ids_of(wang.activities.list(limit=0))

    m1 = as_("m1")
    assert ids_of(m1.contacts.list(owned["li"])) == {contact["id"]}
    assert opportunity["id"] in ids_of(m1.opportunities.list(limit=0))
    assert activity["id"] in ids_of(m1.activities.list(limit=0))
    assert activity["id"] not in ids_of(as_("sun").activities.list(limit=0))


def test_a_unit_scope_is_the_exact_subtree_not_a_case_insensitive_prefix(crm, as_):
    # Org paths are case-sensitive (two units may differ only in case, e.g. typed twice by hand): the manager
    # of 总公司/East must not see the users of 总公司/east/Sales or 总公司/Eastern.
    admin = as_("admin")
    for path in ("总公司/East/Sales", "总公司/east/Sales", "总公司/Eastern"):
        admin.org.add(path)
    admin.users.add("boss_e", "manager", unit="总公司/East")
    admin.users.add("rep_upper", "rep", unit="总公司/East/Sales")
    admin.users.add("rep_lower", "rep", unit="总公司/east/Sales")
    admin.users.add("rep_longer", "rep", unit="总公司/Eastern")
    ids = {login: as_(login).customers.create(name=f"{login} customer")["id"]
           for login in ("rep_upper", "rep_lower", "rep_longer")}

    boss = as_("boss_e")
    assert ids_of(boss.customers.list(limit=0)) == {ids["rep_upper"]}
    denied(lambda: boss.customers.show(ids["rep_lower"]))
    denied(lambda: boss.customers.show(ids["rep_longer"]))
