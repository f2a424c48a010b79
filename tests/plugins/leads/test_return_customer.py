"""A lost or neglected customer returns to a pool; whoever takes its lead owns the customer again."""

import pytest

from kehu import Invalid, PermissionDenied
from kehu.errors import Conflict
from kehu.core.models import Customer
from kehu.testing import KehuCli

from .conftest import days


def customer_of(crm, login, name="杭州老客户有限公司", phone="13712345678"):
    return crm.as_(login).customers.create(name=name, phone=phone, region="浙江")["id"]


def owner(customer_id):
    row = Customer.get_by_id(customer_id)
    return row.owner.login if row.owner_id else None


def test_the_owner_returns_a_customer_and_a_claimer_owns_it(crm):
    customer = customer_of(crm, "li")
    lead = crm.as_("li").leads.return_customer(customer, "被挖走")
    assert (lead["state"], lead["pool"], lead["customer"], lead["phone"]) == ("in_pool", "public", customer,
                                                                             "13712345678")
    assert owner(customer) is None
    assert crm.reasons(lead["id"]) == ["customer_returned"]
    assert crm.transitions(lead["id"])[0].note == "被挖走"

    crm.as_("wang", now=days(1)).leads.claim(lead["id"])
    assert owner(customer) == "wang"
    assert [c["id"] for c in crm.as_("wang", now=days(1)).customers.list()] == [customer]
    changes = [e.after["reason"] for e in crm.events("customer.owner_changed", entity=f"customer:{customer}")]
    assert changes == ["returned_to_pool: 被挖走", "lead_claimed"]


def test_a_recycled_lead_takes_its_customer_back_to_nobody(crm):
    customer = customer_of(crm, "li")
    lead = crm.as_("li").leads.return_customer(customer, "主动放弃")["id"]
    crm.as_("zhao").leads.claim(lead)
    assert owner(customer) == "zhao"
    crm.system(now=days(30)).leads.sweep()
    assert crm.lead(lead).state == "in_pool"
    assert owner(customer) is None


def test_assignment_and_transfer_move_the_customer_too(crm):
    customer = customer_of(crm, "li")
    lead = crm.as_("m1").leads.return_customer(customer, "主动离开")["id"]
    crm.as_("m1").leads.transfer(lead, "wang")
    assert owner(customer) == "wang"
    crm.as_("m1").leads.convert(lead)
    assert owner(customer) == "wang"  # converting keeps the customer with its holder


def test_only_the_owner_or_a_manager_over_them_may_return_it(crm):
    customer = customer_of(crm, "li")
    with pytest.raises(PermissionDenied):
        crm.as_("wang").leads.return_customer(customer, "被挖走")
    with pytest.raises(PermissionDenied):
        crm.as_("m2").leads.return_customer(customer, "被挖走")  # a manager of another department
    assert owner(customer) == "li"


def test_bad_reason_and_a_customer_already_in_a_pool_are_refused(crm):
    customer = customer_of(crm, "li")
    with pytest.raises(Invalid):
        crm.as_("li").leads.return_customer(customer, "不想要了")
    crm.as_("li").leads.return_customer(customer, "被挖走")
    with pytest.raises(Conflict):  # the gm sees ownerless customers; a manager would not even see it
        crm.as_("gm").leads.return_customer(customer, "被挖走")


def test_the_command(crm):
    customer = customer_of(crm, "li")
    kehu = KehuCli(crm.app, workspace="acme", user="li", now="2025-03-03T10:00")
    done = kehu.ok("leads", "return-customer", customer, "--reason", "被挖走")
    assert done["customer"] == customer and done["state"] == "in_pool"
    assert "reason must be one of" in kehu.fails("leads", "return-customer", customer, "--reason", "x")
