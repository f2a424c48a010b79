"""Activities (calls, visits, notes, tasks), workspace-time due dates and the task-reminder job."""

import datetime as dt

import pytest

import kehu
from kehu.core.models import Activity, Notification

UTC = dt.timezone.utc


def reminders(tick_result, workspace="acme"):
    """What the core reminder job reported in ``workspace`` for one ``app.tick``."""
    [entry] = [w for w in tick_result if w["workspace"] == workspace]
    [job] = [j for j in entry["jobs"] if j["job"] == "core.task_reminders"]
    assert job["ran"] is True, job
    return job["result"]["reminded"]


@pytest.mark.parametrize("kind", ["call", "visit", "note", "task"])
def test_a_rep_logs_an_activity_against_a_visible_customer(crm, as_, owned, kind):
    logged = as_("li", now="2026-11-23T10:00").activities.log(kind, f"{kind} 一次", customer=owned["li"],
                                                             notes="谈了价格")
    assert (logged["kind"], logged["customer"], logged["user"], logged["notes"]) == \
        (kind, owned["li"], "li", "谈了价格")
    assert logged["created_at"] == "2026-11-23T02:00:00+00:00"
    assert [a["id"] for a in as_("li").activities.list(customer=owned["li"])] == [logged["id"]]
    [event] = crm.events(action="activity.logged")
    assert event.entity_id == str(logged["id"]) and event.actor.login == "li"


def test_a_rep_cannot_log_against_a_customer_they_cannot_see(crm, as_, owned):
    before = crm.snapshot(Activity)
    with pytest.raises(kehu.PermissionDenied):
        as_("li").activities.log("visit", "拜访", customer=owned["zhao"])
    with pytest.raises(kehu.PermissionDenied):
        as_("li").activities.log_many([{"kind": "call", "subject": "一", "customer": owned["li"]},
                                       {"kind": "call", "subject": "二", "customer": owned["zhao"]}])
    assert crm.snapshot(Activity) == before


def test_a_due_time_without_a_zone_is_workspace_time(as_, owned):
    li = as_("li", now="2026-11-23T10:00")
    local = li.activities.log("task", "回访", customer=owned["li"], due="2026-11-24T09:00")
    assert local["due_at"] == "2026-11-24T01:00:00+00:00"  # Asia/Shanghai is UTC+8
    explicit = li.activities.log("task", "回访", customer=owned["li"], due="2026-11-24T09:00+00:00")
    assert explicit["due_at"] == "2026-11-24T09:00:00+00:00"
    day = li.activities.log("task", "整天", customer=owned["li"], due="2026-11-24")
    assert day["due_at"] == "2026-11-23T16:00:00+00:00"  # local midnight
    stored = Activity.get_by_id(local["id"]).due_at
    assert stored == dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC) and stored.utcoffset() == dt.timedelta(0)


def test_the_reminder_job_notifies_the_author_once_when_the_task_falls_due(crm, as_, owned):
    app = crm.app
    li = as_("li", now="2026-11-23T10:00")
    task = li.activities.log("task", "给杭州茶叶回电话", customer=owned["li"], due="2026-11-24T09:00")
    li.activities.log("call", "不是任务", customer=owned["li"], due="2026-11-24T08:00")

    assert reminders(app.tick(now="2026-11-24T08:59")) == 0
    assert as_("li").inbox.list() == []

    assert reminders(app.tick(now="2026-11-24T09:00")) == 1  # due when now >= due
    [notice] = as_("li").inbox.list()
    assert notice["kind"] == "task_due"
    assert notice["entity"] == f"activity:{task['id']}"
    assert "给杭州茶叶回电话" in notice["message"]
    assert notice["read"] is False
    assert as_("wang").inbox.list() == []
    assert as_("admin").inbox.list() == []

    assert reminders(app.tick(now="2026-11-24T09:30")) == 0  # idempotent
    assert reminders(app.tick(now="2026-11-25T09:00")) == 0
    assert len(as_("li").inbox.list()) == 1
    assert crm.count(Notification) == 1


def test_the_author_is_reminded_not_the_customer_owner(crm, as_, owned):
    as_("m1", now="2026-11-23T10:00").activities.log("task", "检查李的客户", customer=owned["li"],
                                                     due="2026-11-24T09:00")
    crm.app.tick(now="2026-11-24T10:00")
    assert [n["kind"] for n in as_("m1").inbox.list()] == ["task_due"]
    assert as_("li").inbox.list() == []


def test_a_task_done_before_its_due_time_is_never_reminded(crm, as_, owned):
    li = as_("li", now="2026-11-23T10:00")
    task = li.activities.log("task", "准备报价", customer=owned["li"], due="2026-11-24T09:00")
    done = as_("li", now="2026-11-23T15:00").activities.complete(task["id"])
    assert done["done_at"] == "2026-11-23T07:00:00+00:00"
    assert as_("li").activities.list(open_only=True) == []
    assert reminders(crm.app.tick(now="2026-11-24T10:00")) == 0
    assert as_("li").inbox.list() == []


def test_complete_marks_done_once_and_only_for_who_sees_it(crm, as_, owned):
    task = as_("li").activities.log("task", "寄样品", customer=owned["li"], due="2026-11-24T09:00")
    with pytest.raises(kehu.NotFound):
        as_("wang").activities.complete(task["id"])  # wang cannot see li's activities
    assert Activity.get_by_id(task["id"]).done_at is None

    done = as_("m1", now="2026-11-24T10:00").activities.complete(task["id"])
    assert done["done_at"] == "2026-11-24T02:00:00+00:00"
    assert Activity.get_by_id(task["id"]).done_at == dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    with pytest.raises(kehu.Conflict):
        as_("li").activities.complete(task["id"])
    assert [e.action for e in crm.events(entity=f"activity:{task['id']}")] == ["activity.logged", "activity.done"]


def test_inbox_mark_read(crm, as_, owned):
    as_("li", now="2026-11-23T10:00").activities.log("task", "任务", customer=owned["li"], due="2026-11-24T09:00")
    crm.app.tick(now="2026-11-24T10:00")
    assert [n["read"] for n in as_("li").inbox.list(mark_read=True)] == [False]
    assert [n["read"] for n in as_("li").inbox.list()] == [True]
    assert as_("li").inbox.list(unread_only=True) == []
