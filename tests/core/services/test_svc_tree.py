"""Parent customers (DOMAIN §2.9): a tree of at most 4 levels, no cycles, ancestors and children on show."""

import pytest

import kehu
from kehu.core.models import Customer


def invalid(call):
    with pytest.raises(kehu.Invalid) as caught:
        call()
    assert caught.value.code == "invalid"
    return caught.value


@pytest.fixture
def chain(as_):
    """A ← B ← C ← D: a full four-level tree owned by admin; returns ``(admin handle, [A, B, C, D] ids)``."""
    admin = as_("admin")
    ids = []
    for name in ("集团", "华东公司", "杭州分公司", "西湖门店"):
        ids.append(admin.customers.create(name=name, parent=ids[-1] if ids else None)["id"])
    return admin, ids


def test_four_levels_are_allowed_and_a_fifth_is_invalid(crm, chain):
    admin, (a, b, c, d) = chain
    assert admin.customers.show(d)["parent"] == c
    before = crm.snapshot(Customer)
    error = invalid(lambda: admin.customers.create(name="第五层", parent=d))
    assert "4" in error.message
    loose = admin.customers.create(name="散户")["id"]
    invalid(lambda: admin.customers.update(loose, parent=d))
    assert Customer.get_by_id(loose).parent_id is None
    assert crm.count(Customer) == before["Customer"] + 1


def test_show_returns_the_ancestors_nearest_first_and_the_children(chain):
    admin, (a, b, c, d) = chain
    shown = admin.customers.show(d)
    assert shown["ancestors"] == [c, b, a]
    assert shown["children"] == []
    top = admin.customers.show(a)
    assert (top["ancestors"], top["children"], top["parent"]) == ([], [b], None)
    sibling = admin.customers.create(name="上海分公司", parent=b)["id"]
    assert admin.customers.show(b)["children"] == [c, sibling]
    assert admin.customers.list(parent=b, limit=0)[1]["id"] == sibling


@pytest.mark.parametrize("child, new_parent", [(0, 3), (0, 0), (1, 2), (2, 2), (1, 3)])
def test_cycles_are_refused(crm, chain, child, new_parent):
    admin, ids = chain
    before = crm.snapshot(Customer)
    error = invalid(lambda: admin.customers.update(ids[child], parent=ids[new_parent]))
    assert "loop" in error.message
    assert [Customer.get_by_id(i).parent_id for i in ids] == [None, *ids[:-1]]
    assert crm.snapshot(Customer) == before


def test_moving_a_subtree_that_would_exceed_the_depth_is_invalid(crm, chain):
    admin, (a, b, c, d) = chain
    x = admin.customers.create(name="宁波公司")["id"]
    y = admin.customers.create(name="宁波门店", parent=x)["id"]

    before = crm.snapshot(Customer)
    invalid(lambda: admin.customers.update(x, parent=c))  # 3 levels above + 2 in the subtree = 5
    assert Customer.get_by_id(x).parent_id is None
    assert crm.snapshot(Customer) == before

    assert admin.customers.update(x, parent=b)["parent"] == b  # 2 + 2 = 4
    assert admin.customers.show(y)["ancestors"] == [x, b, a]
    assert admin.customers.show(b)["children"] == [c, x]


def test_clearing_the_parent_makes_a_root(chain):
    admin, (a, b, c, d) = chain
    assert admin.customers.update(c, parent=None)["parent"] is None
    assert admin.customers.show(d)["ancestors"] == [c]
    assert admin.customers.show(b)["children"] == []
    # With C a root again, the tree under B has room for two more levels.
    e = admin.customers.create(name="新层", parent=d)["id"]
    assert admin.customers.show(e)["ancestors"] == [d, c]


def test_the_parent_must_exist_and_be_visible(crm, as_, owned):
    li = as_("li")
    before = crm.snapshot(Customer)
    with pytest.raises(kehu.PermissionDenied):
        li.customers.create(name="王的子公司", parent=owned["wang"])
    with pytest.raises(kehu.PermissionDenied):
        li.customers.update(owned["li"], parent=owned["wang"])
    with pytest.raises(kehu.NotFound):
        li.customers.create(name="孤儿", parent=10**9)
    for bad in ("abc", -1, 0):
        invalid(lambda: li.customers.create(name="坏父", parent=bad))
    for bad in ("abc", -1):  # (on update, 0 means "no parent", like None)
        invalid(lambda: li.customers.update(owned["li"], parent=bad))
    assert crm.snapshot(Customer) == before
    assert li.customers.create(name="李的子公司", parent=owned["li"])["parent"] == owned["li"]


def test_a_deleted_customer_cannot_become_a_parent(as_, owned):
    as_("m1").customers.delete(owned["wang"])
    with pytest.raises(kehu.NotFound):
        as_("m1").customers.create(name="挂在已删客户下", parent=owned["wang"])
