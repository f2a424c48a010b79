"""The audit trail: every write leaves Event rows; who may read a record's history and the whole log."""

import pytest

import kehu
from kehu.core.models import User


def user_id(login):
    return User.get(User.login == login).id


def test_every_customer_write_is_audited_with_before_and_after(crm, as_):
    created = as_("li", now="2026-11-23T10:00").customers.create(name="杭州茶叶", phone="13800138000")
    cid = created["id"]
    as_("li", now="2026-11-23T11:00").customers.update(cid, name="杭州茶叶集团", region="浙江")
    as_("m1", now="2026-11-23T12:00").customers.transfer([cid], "wang")
    as_("m1", now="2026-11-23T13:00").customers.delete(cid)

    rows = crm.events(entity=f"customer:{cid}")
    assert [e.action for e in rows] == ["customer.created", "customer.updated", "customer.owner_changed",
                                        "customer.deleted"]
    created_row, updated_row, owner_row, deleted_row = rows
    li, wang, m1 = user_id("li"), user_id("wang"), user_id("m1")

    assert created_row.actor_id == li
    assert created_row.before is None
    assert created_row.after["name"] == "杭州茶叶" and created_row.after["owner"] == "li"
    assert created_row.after["origin"] == "manual"

    assert updated_row.actor_id == li
    assert (updated_row.before["name"], updated_row.before["region"]) == ("杭州茶叶", None)
    assert (updated_row.after["name"], updated_row.after["region"]) == ("杭州茶叶集团", "浙江")

    assert owner_row.actor_id == m1
    assert owner_row.before == {"owner": li}
    assert owner_row.after == {"owner": wang, "reason": "transfer"}

    assert deleted_row.actor_id == m1
    assert deleted_row.before["name"] == "杭州茶叶集团" and deleted_row.before["owner"] == "wang"

    # Each row carries the (injected) time of its operation, as aware UTC.
    assert [e.at.isoformat() for e in rows] == ["2026-11-23T02:00:00+00:00", "2026-11-23T03:00:00+00:00",
                                                "2026-11-23T04:00:00+00:00", "2026-11-23T05:00:00+00:00"]


def test_a_batch_create_writes_one_event_per_customer(crm, as_):
    outcome = as_("admin").customers.create_many([{"name": "甲"}, {"name": ""}, {"name": "丙", "owner": "li"}])
    ids = [c["id"] for c in outcome["created"]]
    assert len(ids) == 2 and [r["index"] for r in outcome["rejected"]] == [1]
    assert [int(e.entity_id) for e in crm.events(action="customer.created")] == ids


def test_admin_writes_are_audited(crm, as_, connect_with):
    admin = as_("admin")
    admin.org.add("总公司/西南/成都")
    added = admin.users.add("qian", "rep", unit="总公司/西南/成都")
    admin.users.update("qian", role="manager")
    field = admin.fields.add("tier", "choice", choices=["A", "B"])

    units = crm.events(action="org.unit_added")
    assert [e.after["path"] for e in units][-2:] == ["总公司/西南", "总公司/西南/成都"]  # missing ancestor too
    [user_added] = crm.events(action="user.added", entity=f"user:{added['id']}")
    assert user_added.after["login"] == "qian" and user_added.after["unit"] == "总公司/西南/成都"
    [changed] = crm.events(action="user.changed", entity=f"user:{added['id']}")
    assert (changed.before["role"], changed.after["role"]) == ("rep", "manager")
    [field_added] = crm.events(action="field.added")
    assert field_added.entity_id == str(field["id"]) and field_added.after["choices"] == ["A", "B"]

    class Quiet:
        """A plugin with no hooks, to switch on and off."""

    app = connect_with(plugins=[("quiet", Quiet())])
    handle = app.workspace("acme", user="admin")
    handle.plugins.enable("quiet")
    handle.plugins.disable("quiet")
    assert [e.action for e in crm.events(entity="plugin:quiet")] == ["plugin.enabled", "plugin.disabled"]
    assert all(e.actor_id == user_id("admin") for e in crm.events(entity="plugin:quiet"))


def test_deactivation_and_contact_opportunity_activity_writes_are_audited(crm, as_, owned):
    li = as_("li")
    contact = li.contacts.add(owned["li"], "张经理")
    opportunity = li.opportunities.create(owned["li"], "一期", "初步接触")
    li.opportunities.update(opportunity["id"], stage="方案")
    activity = li.activities.log("task", "回访", customer=owned["li"], due="2026-11-24T09:00")
    li.activities.complete(activity["id"])
    as_("admin").users.deactivate("wang")

    def actions(entity):
        return [e.action for e in crm.events(entity=entity)]

    assert actions(f"contact:{contact['id']}") == ["contact.added"]
    opportunity_actions = actions(f"opportunity:{opportunity['id']}")
    assert "opportunity.created" in opportunity_actions and opportunity_actions[-1] == "opportunity.updated"
    assert actions(f"activity:{activity['id']}") == ["activity.logged", "activity.done"]
    assert actions(f"user:{user_id('wang')}")[-1] == "user.deactivated"


def test_a_records_history_is_listed_for_whoever_may_see_the_record(crm, as_, owned):
    cid = owned["li"]
    as_("li").customers.update(cid, industry="乳业")

    history = as_("li").audit.list(entity=f"customer:{cid}")
    assert [e["action"] for e in history] == ["customer.updated", "customer.created"]  # newest first
    assert {e["actor"] for e in history} == {"li"}
    assert all(e["entity"] == f"customer:{cid}" for e in history)
    assert [e["action"] for e in as_("m1").audit.list(entity=f"customer:{cid}")] == [e["action"] for e in history]

    for login in ("wang", "zhao", "sun"):
        with pytest.raises(kehu.PermissionDenied):
            as_(login).audit.list(entity=f"customer:{cid}")

    # After a transfer the new owner reads the whole history and the old one no longer does.
    as_("m1").customers.transfer([cid], "wang")
    assert [e["action"] for e in as_("wang").audit.list(entity=f"customer:{cid}")][0] == "customer.owner_changed"
    with pytest.raises(kehu.PermissionDenied):
        as_("li").audit.list(entity=f"customer:{cid}")


@pytest.mark.parametrize("login", ["li", "m1", "d1", "vp", "finance"])
def test_the_whole_log_needs_admin(as_, owned, login):
    with pytest.raises(kehu.PermissionDenied) as caught:
        as_(login).audit.list()
    assert caught.value.code == "permission_denied"
    with pytest.raises(kehu.PermissionDenied):
        as_(login).audit.list(entity="user:1")


@pytest.mark.parametrize("login", ["admin", "gm"])
def test_admins_read_the_whole_log(crm, as_, owned, login):
    log = as_(login).audit.list(limit=0)
    assert len(log) == len(crm.events())
    assert {e["action"] for e in log} >= {"workspace.created", "org.unit_added", "user.added", "customer.created"}
    assert [e["id"] for e in log] == sorted((e["id"] for e in log), reverse=True)
    assert [e["action"] for e in as_(login).audit.list(action="customer.created", actor="li")] == \
        ["customer.created"]
