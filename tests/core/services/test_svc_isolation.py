"""Workspace isolation (rule 4): one workspace's records and users do not exist for another."""

import pytest

import kehu
from kehu.core.models import Activity, Contact, Customer, Event, Opportunity


def not_found(call):
    with pytest.raises(kehu.NotFound) as caught:
        call()
    assert caught.value.code == "not_found"


def test_a_customer_of_another_workspace_is_not_found(crm, as_):
    foreign = crm.other("olga").customers.create(name="外部客户", phone="13800138000")["id"]
    admin = as_("admin")
    before = {name: crm.snapshot(Customer, Contact, Opportunity, Activity, name=name) for name in ("acme", "other")}

    not_found(lambda: admin.customers.show(foreign))
    not_found(lambda: admin.customers.update(foreign, name="改名"))
    not_found(lambda: admin.customers.delete(foreign))
    not_found(lambda: admin.customers.transfer([foreign], "li"))
    not_found(lambda: admin.customers.create(name="子公司", parent=foreign))
    not_found(lambda: admin.contacts.add(foreign, "联系人"))
    not_found(lambda: admin.contacts.list(foreign))
    not_found(lambda: admin.opportunities.create(foreign, "商机", "初步接触"))
    not_found(lambda: admin.activities.log("call", "电话", customer=foreign))
    not_found(lambda: as_("li").audit.list(entity=f"customer:{foreign}"))

    assert foreign not in {c["id"] for c in admin.customers.list(limit=0)}
    assert admin.customers.list(search="13800138000") == []
    assert admin.audit.list(entity=f"customer:{foreign}") == []  # acme's log has no rows about it
    assert {name: crm.snapshot(Customer, Contact, Opportunity, Activity, name=name)
            for name in ("acme", "other")} == before
    assert crm.other().customers.show(foreign)["name"] == "外部客户"


def test_records_of_another_workspace_are_not_found(crm, as_):
    other = crm.other("olga")
    foreign_customer = other.customers.create(name="外部客户")["id"]
    opportunity = other.opportunities.create(foreign_customer, "外部商机", "初步接触")["id"]
    task = other.activities.log("task", "外部任务", customer=foreign_customer, due="2026-11-24T09:00")["id"]

    admin = as_("admin")
    not_found(lambda: admin.opportunities.show(opportunity))
    not_found(lambda: admin.opportunities.update(opportunity, stage="赢单"))
    not_found(lambda: admin.activities.complete(task))
    assert admin.opportunities.list(limit=0) == []
    assert admin.activities.list(limit=0) == []
    assert other.activities.list(limit=0)[0]["done_at"] is None


def test_users_of_one_workspace_cannot_act_in_the_other(crm):
    for login in ("li", "admin", "m1"):
        with pytest.raises(kehu.PermissionDenied) as caught:
            crm.app.workspace("other", user=login)
        assert caught.value.code == "permission_denied"
    for login in ("olga", "root"):
        with pytest.raises(kehu.PermissionDenied):
            crm.as_(login)
    with pytest.raises(kehu.NotFound):
        crm.app.workspace("nowhere", user="li")


def test_users_of_another_workspace_cannot_own_or_receive_records(crm, as_, owned):
    admin = as_("admin")
    before = crm.snapshot(Customer)
    not_found(lambda: admin.customers.create(name="给外人", owner="olga"))
    not_found(lambda: admin.customers.transfer([owned["li"]], "olga"))
    not_found(lambda: admin.users.deactivate("li", handover="olga"))
    not_found(lambda: admin.customers.list(owner="olga"))
    assert crm.snapshot(Customer) == before
    assert admin.customers.show(owned["li"])["owner"] == "li"
    assert "olga" not in {u["login"] for u in admin.users.list(include_inactive=True, limit=0)}


def test_each_workspace_keeps_its_own_audit_log_and_fields(crm, as_):
    as_("admin").fields.add("tier", "choice", choices=["A", "B"])
    acme_events = crm.count(Event)
    other = crm.other()
    created = other.customers.create(name="外部客户")
    assert crm.count(Event) == acme_events
    assert all(e["entity"] != f"customer:{created['id']}" for e in as_("admin").audit.list(limit=0))
    # acme's field is unknown in other.
    with pytest.raises(kehu.Invalid) as caught:
        other.customers.create(name="带字段", custom={"tier": "A"})
    assert "tier" in caught.value.message
    assert other.fields.list() == []
