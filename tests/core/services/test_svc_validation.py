"""Bad input gets a clear kehu error with a stable code and writes nothing (rule 9, decision 8)."""

import pytest

import kehu
from kehu.core.models import Activity, Contact, Customer, Opportunity, OrgUnit, User


def refused(call, code):
    with pytest.raises(kehu.KehuError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    assert caught.value.message
    return caught.value


BAD_CUSTOMERS = [
    ({"name": "x", "phone": "abc"}, "invalid", "phone"),
    ({"name": "x", "phone": "123"}, "invalid", "phone"),
    ({"name": "x", "phone": "138-0013-8000 转 12"}, "invalid", "phone"),
    ({"name": "x", "email": "not-an-email"}, "invalid", "email"),
    ({"name": "x", "email": "a@b"}, "invalid", "email"),
    ({"name": ""}, "invalid", "name"),
    ({"name": "   "}, "invalid", "name"),
    ({"name": None}, "invalid", "name"),
    ({}, "invalid", "name"),
    ({"name": "长" * 201}, "invalid", "name"),
    ({"name": "x", "colour": "red"}, "invalid", "colour"),
    ({"name": "x", "owner": "nobody"}, "not_found", "nobody"),
]


@pytest.mark.parametrize("fields, code, mentioned", BAD_CUSTOMERS)
def test_bad_customer_input_is_refused_and_stores_nothing(crm, as_, fields, code, mentioned):
    before = crm.snapshot(Customer)
    error = refused(lambda: as_("admin").customers.create(**fields), code)
    assert mentioned in error.message
    assert crm.snapshot(Customer) == before


@pytest.mark.parametrize("changes", [
    {"phone": "abc"},
    {"phone": "123"},
    {"email": "not-an-email"},
    {"name": ""},
    {"name": "   "},
    {"name": None},
    {"name": "长" * 201},
    {"region": "x", "colour": "red"},
])
def test_bad_customer_updates_are_refused_and_change_nothing(crm, as_, owned, changes):
    cid = owned["li"]
    stored = Customer.get_by_id(cid)
    before = crm.snapshot(Customer)
    refused(lambda: as_("li").customers.update(cid, **changes), "invalid")
    assert crm.snapshot(Customer) == before
    again = Customer.get_by_id(cid)
    assert (again.name, again.phone, again.email, again.region, again.updated_at) == \
        (stored.name, stored.phone, stored.email, stored.region, stored.updated_at)


def test_good_phone_and_email_are_kept_as_typed_with_their_keys(as_):
    created = as_("li").customers.create(name="  杭州茶叶  ", phone="+86 138-0013-8000", email="Sales@Tea.CN")
    assert (created["name"], created["phone"], created["email"]) == ("杭州茶叶", "+86 138-0013-8000", "Sales@Tea.CN")
    row = Customer.get_by_id(created["id"])
    assert (row.phone_key, row.email_key, row.name_key) == ("13800138000", "sales@tea.cn", "杭州茶叶")


@pytest.mark.parametrize("arguments, code", [
    ({"login": "qian", "role": "boss"}, "invalid"),  # unknown role
    ({"login": "qian", "role": "rep", "unit": "总公司/西北/销售一部"}, "not_found"),  # unknown org path
    ({"login": "li", "role": "rep"}, "conflict"),  # duplicate login
    ({"login": "admin", "role": "admin"}, "conflict"),
    ({"login": "qian wu", "role": "rep"}, "invalid"),  # not a login
    ({"login": "", "role": "rep"}, "invalid"),
    ({"login": "qian", "role": ""}, "invalid"),
])
def test_bad_user_input_is_refused_and_stores_nothing(crm, as_, arguments, code):
    before = crm.snapshot(User, OrgUnit)
    refused(lambda: as_("admin").users.add(**arguments), code)
    assert crm.snapshot(User, OrgUnit) == before


@pytest.mark.parametrize("path", ["", "   ", "华东//销售一部", "/"])
def test_bad_org_paths_are_invalid(crm, as_, path):
    before = crm.snapshot(OrgUnit)
    refused(lambda: as_("admin").org.add(path), "invalid")
    assert crm.snapshot(OrgUnit) == before


@pytest.mark.parametrize("bad_id", ["abc", -1, 0, "1.5", None, ""])
def test_bad_ids_are_invalid_and_change_nothing(crm, as_, owned, bad_id):
    admin = as_("admin")
    before = crm.snapshot(Customer, Contact, Opportunity, Activity)
    refused(lambda: admin.customers.show(bad_id), "invalid")
    refused(lambda: admin.customers.update(bad_id, name="x"), "invalid")
    refused(lambda: admin.customers.delete(bad_id), "invalid")
    refused(lambda: admin.customers.transfer([owned["li"], bad_id], "wang"), "invalid")
    refused(lambda: admin.contacts.add(bad_id, "张三"), "invalid")
    refused(lambda: admin.contacts.list(bad_id), "invalid")
    refused(lambda: admin.opportunities.show(bad_id), "invalid")
    refused(lambda: admin.activities.complete(bad_id), "invalid")
    assert crm.snapshot(Customer, Contact, Opportunity, Activity) == before
    assert admin.customers.show(owned["li"])["owner"] == "li"


def test_unknown_ids_are_not_found(as_):
    admin = as_("admin")
    for call in (lambda: admin.customers.show(10**9), lambda: admin.customers.delete(10**9),
                 lambda: admin.opportunities.show(10**9), lambda: admin.activities.complete(10**9)):
        refused(call, "not_found")


def test_an_update_must_change_something_known(crm, as_, owned):
    before = crm.snapshot(Customer)
    refused(lambda: as_("li").customers.update(owned["li"]), "invalid")
    error = refused(lambda: as_("li").customers.update(owned["li"], colour="red"), "invalid")
    assert "colour" in error.message
    refused(lambda: as_("li").customers.update(owned["li"], id=5), "invalid")
    assert crm.snapshot(Customer) == before


@pytest.mark.parametrize("arguments", [
    {"kind": "email", "subject": "x"},
    {"kind": "call", "subject": ""},
    {"kind": "call", "subject": "x", "customer": None},
    {"kind": "call", "subject": "x", "entity": "lead"},
    {"kind": "task", "subject": "x", "due": "tomorrow"},
])
def test_bad_activities_are_invalid(crm, as_, owned, arguments):
    arguments.setdefault("customer", owned["li"])
    before = crm.snapshot(Activity)
    refused(lambda: as_("li").activities.log(**arguments), "invalid")
    assert crm.snapshot(Activity) == before


@pytest.mark.parametrize("arguments", [
    {"name": "", "stage": "初步接触"},
    {"name": "一期", "stage": ""},
    {"name": "一期", "stage": "初步接触", "amount": "-1"},
    {"name": "一期", "stage": "初步接触", "amount": "abc"},
    {"name": "一期", "stage": "初步接触", "amount": "NaN"},
    {"name": "一期", "stage": "初步接触", "expected_close": "2026-13-01"},
])
def test_bad_opportunities_are_invalid(crm, as_, owned, arguments):
    before = crm.snapshot(Opportunity)
    refused(lambda: as_("li").opportunities.create(owned["li"], **arguments), "invalid")
    assert crm.snapshot(Opportunity) == before


def test_bad_contacts_are_invalid(crm, as_, owned):
    before = crm.snapshot(Contact)
    for arguments in ({"name": ""}, {"name": "张三", "phone": "abc"}, {"name": "张三", "email": "nope"}):
        refused(lambda: as_("li").contacts.add(owned["li"], **arguments), "invalid")
    assert crm.snapshot(Contact) == before


@pytest.mark.parametrize("limit, offset", [(-1, 0), (10, -1), ("abc", 0), (10, "x")])
def test_bad_listing_bounds_are_invalid(as_, limit, offset):
    refused(lambda: as_("admin").customers.list(limit=limit, offset=offset), "invalid")
