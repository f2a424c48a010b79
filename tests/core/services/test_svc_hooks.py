"""Announcement hooks fire after commit (decision 4), only where enabled, and never for a failed service."""

import pytest

import kehu
from kehu.core.context import OwnerChange, service
from kehu.core.db import database
from kehu.core.models import Customer, User
from kehu.core.services import customers as customer_services


class Spy:
    """Records announcements, with whether the change was visible to a second connection at that moment."""

    def __init__(self, observer):
        self.observer = observer  # another connection to the same database (the fixture's app)
        self.calls = []
        self.fail_deactivation = False

    def committed(self, customer_id):
        """The owner id of customer ``customer_id`` as another connection sees it (``missing`` if absent)."""
        rows = self.observer.execute_sql(f"SELECT owner_id FROM customer WHERE id = {int(customer_id)}").fetchall()
        return rows[0][0] if rows else "missing"

    @kehu.hookimpl
    def kehu_records_created(self, context, entity, records):
        seen = [self.committed(r["id"]) for r in records] if entity == "customer" else None
        self.calls.append(("created", entity, [r["id"] for r in records], database.in_transaction(), seen))

    @kehu.hookimpl
    def kehu_records_updated(self, context, entity, changes):
        self.calls.append(("updated", entity, [(b["name"], a["name"]) for b, a in changes],
                           database.in_transaction()))

    @kehu.hookimpl
    def kehu_records_deleted(self, context, entity, records):
        self.calls.append(("deleted", entity, [r["id"] for r in records], database.in_transaction()))

    @kehu.hookimpl
    def kehu_owner_changed(self, context, entity, changes):
        seen = [self.committed(c.id) for c in changes] if entity == "customer" else None
        self.calls.append(("owner_changed", entity, list(changes), database.in_transaction(), seen))

    @kehu.hookimpl
    def kehu_before_create(self, context, entity, records):
        if entity != "customer":
            return None
        return [kehu.Veto("no test customers") if r["name"].startswith("测试") else None for r in records]

    @kehu.hookimpl
    def kehu_user_deactivated(self, context, user, handover):
        if self.fail_deactivation:
            raise RuntimeError("the HR system is down")


@pytest.fixture
def spied(crm, connect_with, kehu_app):
    """``(app, spy)``: an app with the spy plugin, enabled in acme only."""
    spy = Spy(kehu_app.db)
    app = connect_with(plugins=[("spy", spy)])
    app.workspace("acme", user="admin").plugins.enable("spy")
    return app, spy


def uid(login):
    return User.get(User.login == login).id


def test_records_created_fires_after_commit(spied):
    app, spy = spied
    created = app.workspace("acme", user="li").customers.create(name="杭州茶叶")
    assert spy.calls == [("created", "customer", [created["id"]], False, [uid("li")])]


def test_a_batch_is_announced_once_without_the_vetoed_records(spied):
    app, spy = spied
    outcome = app.workspace("acme", user="admin").customers.create_many(
        [{"name": "甲"}, {"name": "测试乙"}, {"name": "丙", "owner": "li"}])
    ids = [c["id"] for c in outcome["created"]]
    assert outcome["rejected"] == [{"index": 1, "error": "no test customers", "code": "vetoed"}]
    assert spy.calls == [("created", "customer", ids, False, [uid("admin"), uid("li")])]


def test_owner_changed_fires_after_commit_with_the_change(spied):
    app, spy = spied
    cid = app.workspace("acme", user="li").customers.create(name="杭州茶叶")["id"]
    spy.calls.clear()
    app.workspace("acme", user="m1").customers.transfer([cid], "wang")
    assert spy.calls == [("owner_changed", "customer", [OwnerChange("customer", cid, uid("li"), uid("wang"),
                                                                    "transfer")], False, [uid("wang")])]


def test_update_with_a_new_owner_announces_both_once_after_commit(spied):
    app, spy = spied
    cid = app.workspace("acme", user="li").customers.create(name="杭州茶叶")["id"]
    spy.calls.clear()
    app.workspace("acme", user="m1").customers.update(cid, name="杭州茶叶集团", owner="wang")
    kinds = sorted(call[0] for call in spy.calls)
    assert kinds == ["owner_changed", "updated"]
    assert all(call[3] is False for call in spy.calls)
    [updated] = [c for c in spy.calls if c[0] == "updated"]
    assert updated[2] == [("杭州茶叶", "杭州茶叶集团")]


def test_deleted_fires_after_commit(spied):
    app, spy = spied
    cid = app.workspace("acme", user="li").customers.create(name="杭州茶叶")["id"]
    spy.calls.clear()
    app.workspace("acme", user="m1").customers.delete(cid)
    assert spy.calls == [("deleted", "customer", [cid], False)]


def test_a_vetoed_customer_is_not_stored_or_announced(crm, spied):
    app, spy = spied
    before = crm.snapshot(Customer)
    with pytest.raises(kehu.Vetoed) as caught:
        app.workspace("acme", user="li").customers.create(name="测试客户")
    assert caught.value.code == "vetoed" and "no test customers" in caught.value.message
    assert spy.calls == []
    assert crm.snapshot(Customer) == before


def test_when_the_service_raises_nothing_is_announced_or_stored(crm, spied, owned):
    app, spy = spied
    spy.fail_deactivation = True
    before = crm.snapshot(Customer, User)
    with pytest.raises(RuntimeError):
        app.workspace("acme", user="admin").users.deactivate("li", handover="wang")
    assert spy.calls == []  # the handover's owner changes were rolled back, so never announced
    assert crm.snapshot(Customer, User) == before
    assert User.get(User.login == "li").active
    assert Customer.get_by_id(owned["li"]).owner_id == uid("li")

    spy.fail_deactivation = False
    app.workspace("acme", user="admin").users.deactivate("li", handover="wang")
    assert [(c[0], [ch.reason for ch in c[2]]) for c in spy.calls] == [("owner_changed", ["handover"])]


def test_a_nested_service_announces_nothing_when_the_outer_one_fails(crm, spied):
    app, spy = spied

    @service
    def create_then_fail(context):
        customer_services.create_customer(context, name="半途而废")
        raise kehu.Invalid("changed my mind")

    handle = app.workspace("acme", user="li")
    before = crm.snapshot(Customer)
    with pytest.raises(kehu.Invalid):
        create_then_fail(handle.context)
    assert spy.calls == []
    assert crm.snapshot(Customer) == before

    # The same context works normally afterwards: nothing left queued from the failed call.
    created = handle.customers.create(name="这次成了")
    assert spy.calls == [("created", "customer", [created["id"]], False, [uid("li")])]


def test_hooks_do_not_run_where_the_plugin_is_not_enabled(crm, spied):
    app, spy = spied
    app.workspace("other", user="olga").customers.create(name="测试也没事")
    assert spy.calls == []
    app.workspace("acme", user="admin").plugins.disable("spy")
    app.workspace("acme", user="li").customers.create(name="测试客户")
    assert spy.calls == []


def test_a_nested_service_that_failed_inside_a_successful_one_announces_nothing(crm, spied):
    # A bulk service may catch one record's failure and go on; the failed inner call's savepoint is rolled
    # back, so what it queued must not be announced when the outer call commits.
    app, spy = spied

    @service
    def create_then_fail(context, name):
        customer_services.create_customer(context, name=name)
        raise kehu.Invalid("changed my mind")

    @service
    def tolerant_batch(context):
        try:
            create_then_fail(context, "回滚的")
        except kehu.Invalid:
            pass
        return customer_services.create_customer(context, name="留下的")

    kept = tolerant_batch(app.workspace("acme", user="li").context)
    assert [c["name"] for c in app.workspace("acme", user="admin").customers.list(limit=0)] == ["留下的"]
    assert spy.calls == [("created", "customer", [kept["id"]], False, [uid("li")])]


def test_the_clock_is_pinned_for_one_service_call_only(as_):
    import datetime as dt
    import time

    handle = as_("li")  # the real clock
    first = dt.datetime.fromisoformat(handle.customers.create(name="一")["created_at"])
    time.sleep(0.02)
    assert handle.context.now > first  # not still the instant of the last call
    second = dt.datetime.fromisoformat(handle.customers.create(name="二")["created_at"])
    assert second > first
