"""Custom fields: declared per workspace, validated and converted on every write, nothing stored on failure."""

import pytest

import kehu
from kehu.core.models import Customer, FieldDefinition

GOOD = {"tier": "B"}


@pytest.fixture
def admin(as_):
    """acme's admin after declaring one field of each type; ``tier`` is required."""
    handle = as_("admin")
    handle.fields.add("note", "text")
    handle.fields.add("employees", "int")
    handle.fields.add("revenue", "decimal")
    handle.fields.add("founded", "date")
    handle.fields.add("tier", "choice", choices=["A", "B", "C"], required=True)
    return handle


def invalid(call, *names):
    with pytest.raises(kehu.Invalid) as caught:
        call()
    assert caught.value.code == "invalid"
    for name in names:
        assert name in caught.value.message
    return caught.value


def test_declared_fields_are_listed(admin):
    fields = {f["name"]: f for f in admin.fields.list(entity="customer")}
    assert {name: (f["type"], f["required"]) for name, f in fields.items()} == {
        "note": ("text", False), "employees": ("int", False), "revenue": ("decimal", False),
        "founded": ("date", False), "tier": ("choice", True)}
    assert fields["tier"]["choices"] == ["A", "B", "C"]


def test_valid_values_are_converted_and_stored(admin):
    created = admin.customers.create(name="杭州茶叶", custom={
        "note": 42, "employees": " 120 ", "revenue": "1234.50", "founded": "2020-05-01", "tier": " C "})
    expected = {"note": "42", "employees": 120, "revenue": "1234.50", "founded": "2020-05-01", "tier": "C"}
    assert created["custom"] == expected
    assert admin.customers.show(created["id"])["custom"] == expected
    assert Customer.get_by_id(created["id"]).custom == expected  # stored, not only echoed
    assert admin.customers.create(name="负数", custom={"employees": -3, "revenue": "-0.5", **GOOD})["custom"] == \
        {"employees": -3, "revenue": "-0.5", "tier": "B"}


BAD_VALUES = [
    ("employees", "12.5"),
    ("employees", "许多"),
    ("employees", True),
    ("employees", "1e3"),
    ("revenue", "abc"),
    ("revenue", "NaN"),
    ("revenue", "Infinity"),
    ("founded", "2026-02-30"),
    ("founded", "yesterday"),
    ("tier", "D"),
    ("tier", "b"),
]


@pytest.mark.parametrize("field, value", BAD_VALUES)
def test_a_bad_value_is_invalid_names_the_field_and_stores_nothing(crm, admin, field, value):
    existing = admin.customers.create(name="已有", custom={"employees": 7, **GOOD})
    before = crm.snapshot(Customer)

    invalid(lambda: admin.customers.create(name="新客户", custom={**GOOD, field: value}), field)
    invalid(lambda: admin.customers.update(existing["id"], custom={field: value}), field)

    assert crm.snapshot(Customer) == before
    assert Customer.get_by_id(existing["id"]).custom == {"employees": 7, "tier": "B"}


def test_every_bad_field_is_named_at_once(admin):
    error = invalid(lambda: admin.customers.create(name="x", custom={"employees": "x", "founded": "x"}),
                    "employees", "founded", "tier")
    assert "tier: required" in error.message


def test_an_unknown_field_is_invalid(crm, admin):
    before = crm.snapshot(Customer)
    invalid(lambda: admin.customers.create(name="x", custom={"colour": "red", **GOOD}), "colour")
    assert crm.snapshot(Customer) == before


def test_a_required_field_missing_on_create_is_invalid(crm, admin):
    before = crm.snapshot(Customer)
    invalid(lambda: admin.customers.create(name="没等级"), "tier")
    invalid(lambda: admin.customers.create(name="空等级", custom={"tier": ""}), "tier")
    invalid(lambda: admin.customers.create(name="None等级", custom={"tier": None}), "tier")
    assert crm.snapshot(Customer) == before


def test_a_batch_keeps_the_good_records_and_reports_the_bad(crm, admin):
    outcome = admin.customers.create_many([
        {"name": "好一", "custom": GOOD},
        {"name": "坏", "custom": {"tier": "Z"}},
        {"name": "好二", "custom": {"tier": "A", "employees": "3"}},
    ])
    assert [c["name"] for c in outcome["created"]] == ["好一", "好二"]
    [rejected] = outcome["rejected"]
    assert rejected["index"] == 1 and rejected["code"] == "invalid" and "tier" in rejected["error"]
    assert crm.count(Customer) == 2


def test_update_merges_and_none_clears_a_field(crm, admin):
    cid = admin.customers.create(name="杭州茶叶", custom={"note": "老客户", "employees": 5, **GOOD})["id"]
    assert admin.customers.update(cid, custom={"employees": "6"})["custom"] == \
        {"note": "老客户", "employees": 6, "tier": "B"}
    assert admin.customers.update(cid, custom={"note": None})["custom"] == {"employees": 6, "tier": "B"}
    assert Customer.get_by_id(cid).custom == {"employees": 6, "tier": "B"}

    # A required field cannot be cleared; the record is left as it was.
    invalid(lambda: admin.customers.update(cid, custom={"tier": None}), "tier")
    assert Customer.get_by_id(cid).custom == {"employees": 6, "tier": "B"}
    [merged, cleared] = crm.events(action="customer.updated")  # the refused update wrote no event
    assert merged.before["custom"]["employees"] == 5 and merged.after["custom"]["employees"] == 6
    assert cleared.before["custom"]["note"] == "老客户" and "note" not in cleared.after["custom"]


@pytest.mark.parametrize("arguments, code", [
    ({"name": "Bad Name", "type": "text"}, "invalid"),
    ({"name": "x", "type": "colour"}, "invalid"),
    ({"name": "level", "type": "choice"}, "invalid"),  # a choice field needs choices
    ({"name": "size", "type": "int", "choices": ["1"]}, "invalid"),
    ({"name": "name", "type": "text"}, "invalid"),  # a built-in column
    ({"name": "tier", "type": "text"}, "conflict"),  # declared already
])
def test_bad_field_declarations_are_refused(crm, admin, arguments, code):
    before = crm.snapshot(FieldDefinition)
    with pytest.raises(kehu.KehuError) as caught:
        admin.fields.add(**arguments)
    assert caught.value.code == code
    assert crm.snapshot(FieldDefinition) == before


def test_only_admins_declare_fields(crm, as_):
    for login in ("li", "m1", "vp", "finance"):
        with pytest.raises(kehu.PermissionDenied):
            as_(login).fields.add("note", "text")
    assert crm.count(FieldDefinition) == 0
