"""Logging calls: annotation rules both ways, intent stages and talk tracks, dispositions and their next actions,
leads, permissions, workspace isolation, sources, settings (DOMAIN.md §4.1–4.3, §2.5)."""

import datetime as dt
import itertools

import pytest

from kehu.core.models import Activity, Customer
from kehu.core.services.activities import remind_due_tasks
from kehu.errors import Invalid, NotFound, PermissionDenied, Vetoed
from kehu.plugins.callcenter import calls
from kehu.plugins.callcenter.models import CallLog, InvalidPhone
from kehu.plugins.callcenter.settings import DEFAULT_SETTINGS

from .conftest import T0

NEED = "品牌曝光 brand exposure"
AWARE = "无认知 unaware"
FIRST_THREE = ("outlook", "targets", "competition")


def stored(crm):
    return CallLog.select().count(), Activity.select().count()


def annotate(keys):
    return [f"{key}={key} notes" for key in keys]


def test_a_call_is_a_core_activity_with_the_call_center_details(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    first = li.calls.log(tea, 1, annotations=annotate(FIRST_THREE), need_category=NEED, notes="intro")
    second = crm.as_("li", dt.timedelta(hours=1)).calls.log(tea, 2)
    activity = Activity.get_by_id(first["activity"])
    assert (activity.kind, activity.customer_id, activity.user_id, activity.notes) == ("call", tea, crm.uid("li"),
                                                                                       "intro")
    row = CallLog.get_by_id(first["call"])
    assert (row.customer_id, row.lead_id, row.rep_id, row.intent, row.intent_before) == (tea, None, crm.uid("li"), 1,
                                                                                         None)
    assert row.annotations == {k: f"{k} notes" for k in FIRST_THREE} and row.need_category == NEED
    assert row.at == T0 and row.phone == "13900000001"
    assert (second["intent_before"], second["intent"]) == (1, 2)
    assert second["talk_track"][-1] == "push for a visit"
    assert [e.entity_id for e in crm.events("call.logged")] == [str(first["call"]), str(second["call"])]


def test_the_first_three_annotations_and_the_need_category_require_each_other(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    for size, with_category in itertools.product(range(4), (False, True)):
        for keys in itertools.combinations(FIRST_THREE, size):
            before = stored(crm)
            arguments = dict(annotations=annotate(keys), need_category=NEED if with_category else None)
            allowed = size < 3 and not with_category or size == 3 and with_category
            if allowed:
                li.calls.log(tea, 1, **arguments)
                assert stored(crm) == (before[0] + 1, before[1] + 2)  # the call and its stage callback task
                continue
            with pytest.raises(Invalid) as caught:
                li.calls.log(tea, 1, **arguments)
            assert stored(crm) == before, (keys, with_category)
            message = caught.value.message
            if with_category:
                missing = [k for k in FIRST_THREE if k not in keys]
                expected = f"annotation{'s' if len(missing) > 1 else ''} {', '.join(missing)} (the need category"
                assert f"missing: {expected}" in message, message
            else:
                assert "need category (required once all of outlook, targets, competition are filled)" in message


def test_the_awareness_annotation_and_category_require_each_other(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    li.calls.log(tea, 0)
    li.calls.log(tea, 0, annotations=["awareness=has heard of search ads"], awareness_category=AWARE)
    with pytest.raises(Invalid, match=r"missing: awareness category \(required once awareness is filled\)"):
        li.calls.log(tea, 0, annotations=["awareness=has heard of search ads"])
    with pytest.raises(Invalid, match=r"missing: annotation awareness \(the awareness category requires awareness\)"):
        li.calls.log(tea, 0, awareness_category=AWARE)
    assert CallLog.select().count() == 2


def test_every_missing_item_is_named_at_once(crm):
    with pytest.raises(Invalid) as caught:
        crm.as_("li").calls.log(crm.customer("tea"), 0, annotations=annotate(FIRST_THREE), awareness_category=AWARE,
                                disposition="visit_booked")
    message = caught.value.message
    for item in ("need category", "annotation awareness", "notes (--notes", "a callback time (--callback"):
        assert item in message, message
    assert stored(crm) == (0, 0)


def test_category_values_come_from_the_settings(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    with pytest.raises(Invalid, match="need category must be one of: 品牌曝光 brand exposure; "):
        li.calls.log(tea, 1, annotations=annotate(FIRST_THREE), need_category="everything")
    # The Chinese or the English half of a value names it; the full value is stored.
    call = li.calls.log(tea, 1, annotations=annotate(FIRST_THREE), need_category="lead generation")
    assert CallLog.get_by_id(call["call"]).need_category == "获客引流 lead generation"
    assert li.calls.categories() == DEFAULT_SETTINGS["categories"]
    with pytest.raises(Invalid, match="unknown annotation 'mood'"):
        li.calls.log(tea, 1, annotations=["mood=happy"])
    with pytest.raises(Invalid, match="an annotation is KEY=TEXT"):
        li.calls.log(tea, 1, annotations=["nokey"])


def test_every_intent_stage_shows_its_talk_track(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    stages = {s["stage"]: s for s in DEFAULT_SETTINGS["intent_stages"]}
    assert [s["stage"] for s in li.calls.stages()] == [-1, 0, 1, 2, 3, 4]
    for number, stage in stages.items():
        result = li.calls.log(tea, number)
        assert (result["intent"], result["stage"], result["talk_track"]) == (number, stage["name"],
                                                                              stage["talk_track"])
    assert stages[4]["talk_track"] == [] and stages[3]["talk_track"][-1] == "closing pressure (逼单)"
    for bad in (9, "abc", None):
        with pytest.raises(Invalid, match="intent"):
            li.calls.log(tea, bad)
    assert CallLog.select().count() == 6


def test_disposition_requirements(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    with pytest.raises(Invalid, match=r"notes \(--notes; disposition refused requires them\)"):
        li.calls.log(tea, -1, disposition="refused")
    with pytest.raises(Invalid, match="callback time .* disposition callback_requested requires it"):
        li.calls.log(tea, 1, disposition="callback_requested")
    with pytest.raises(Invalid, match="disposition must be one of connected, no_answer"):
        li.calls.log(tea, 1, disposition="hung up")
    with pytest.raises(Invalid, match="not after the call"):
        li.calls.log(tea, 1, disposition="callback_requested", callback="2025-03-03T09:00")
    assert stored(crm) == (0, 0)


def task(result):
    return Activity.get_by_id(result["next"]["task"])


def test_callbacks_for_the_caller(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    busy = li.calls.log(tea, 1, disposition="busy")
    assert busy["next"]["action"] == "callback" and busy["next"]["for"] == "caller"
    assert (task(busy).kind, task(busy).user_id, task(busy).due_at) == ("task", crm.uid("li"),
                                                                        T0 + dt.timedelta(hours=2))
    explicit = li.calls.log(tea, 1, disposition="no_answer", callback="2025-03-05T15:00")
    assert task(explicit).due_at == dt.datetime(2025, 3, 5, 7, tzinfo=dt.timezone.utc)
    # No disposition (or one without a next action): the stage's callback_days (−1: 30 days).
    refused_stage = li.calls.log(tea, -1)
    assert task(refused_stage).due_at == T0 + dt.timedelta(days=30)
    connected = li.calls.log(tea, 3, disposition="connected")
    assert task(connected).due_at == T0 + dt.timedelta(days=1)


def test_a_team_callback_goes_to_the_owner(crm):
    tea = crm.customer("tea")
    asked = crm.as_("m1").calls.log(tea, 1, disposition="callback_requested", callback="2025-03-04T09:00")
    assert asked["next"]["for"] == "team" and asked["next"]["assignee"] == "li"
    assert "anyone in the team may take it" in asked["next"]["note"]
    assert task(asked).user_id == crm.uid("li")
    # The reminder reaches the owner when it falls due.
    remind_due_tasks(crm.as_(None, dt.timedelta(days=1)).context)
    assert [n.entity for n in crm.notifications("li", "task_due")] == [f"activity:{asked['next']['task']}"]
    own = crm.as_("li").calls.log(tea, 1, disposition="callback_requested", callback="2025-03-04T09:00")
    assert task(own).user_id == crm.uid("li")


def test_a_booked_visit_and_a_deal(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    booked = li.calls.log(tea, 2, disposition="visit_booked", callback="2025-03-06T14:00", notes="meet the boss")
    assert booked["next"]["action"] == "book_visit"
    assert (task(booked).subject, task(booked).due_at) == ("visit 杭州西湖茶叶有限公司",
                                                           dt.datetime(2025, 3, 6, 6, tzinfo=dt.timezone.utc))
    deal = li.calls.log(tea, 4, disposition="deal", notes="signed")
    # The survey plugin sends the nps form, in the call's transaction.
    assert (deal["next"]["action"], deal["next"]["form"]) == ("send_survey", "nps")
    assert deal["next"]["survey"]["token"] and deal["next"]["survey"]["after"] == f"activity:{deal['activity']}"
    assert CallLog.get_by_id(deal["call"]).disposition == "deal"
    # Where the survey plugin is disabled, the call is still stored and the action says so.
    crm.as_("admin").plugins.disable("survey")
    again = crm.as_("li").calls.log(tea, 4, disposition="deal", notes="second contract")  # a fresh handle
    assert again["next"] == {"action": "send_survey", "form": "nps", "skipped": "plugin_disabled"}
    assert CallLog.get_by_id(again["call"]).disposition == "deal"


def test_an_invalid_number_is_marked(crm):
    result = crm.as_("li").calls.log(crm.customer("milk"), 0, disposition="invalid_number", notes="empty number")
    assert result["next"]["action"] == "mark_invalid"
    mark = InvalidPhone.get()
    assert (mark.customer_id, mark.phone, mark.reason) == (crm.customer("milk"), "13900000002", "empty number")
    again = crm.as_("li").calls.log(crm.customer("milk"), 0, disposition="invalid_number", notes="still empty")
    assert again["next"]["id"] == mark.id and InvalidPhone.select().count() == 1


def held_lead(crm, name="张伟", phone="13700000001"):
    lead = crm.as_("admin").leads.add(name=name, phone=phone, source="公司资源")
    crm.as_("li").leads.claim(lead["id"])
    return lead["id"]


def test_a_refused_lead_returns_to_the_pool_through_the_leads_plugin(crm):
    lead = held_lead(crm)
    result = crm.as_("li").calls.log(f"lead:{lead}", -1, disposition="refused", notes="not interested")
    assert result["next"]["action"] == "return_to_pool" and result["next"]["moved"] is True
    assert crm.as_("admin").leads.show(lead)["state"] == "in_pool"
    assert crm.as_("admin").leads.history(lead)[-1]["to_state"] == "in_pool"
    row = CallLog.get_by_id(result["call"])
    assert (row.customer_id, row.lead_id, Activity.get_by_id(result["activity"]).entity) == (None, lead,
                                                                                             f"lead:{lead}")
    on_customer = crm.as_("li").calls.log(crm.customer("tea"), -1, disposition="refused", notes="no")
    assert on_customer["next"] == {"action": "return_to_pool", "skipped": "not_a_lead"}


def test_leads_calls_need_the_leads_plugin(crm, monkeypatch):
    lead = held_lead(crm)
    crm.as_("admin").plugins.disable("leads")
    with pytest.raises(Invalid, match="leads plugin not enabled"):
        crm.as_("li").calls.log(f"lead:{lead}", -1, disposition="refused", notes="no")
    assert stored(crm)[0] == 0
    # Were a lead callable anyway, the pool return would be skipped, and the call stored.
    monkeypatch.setattr(calls, "_lead_target", lambda context, raw: calls.Target("lead", int(raw), "张伟",
                                                                                 crm.uid("li"), None))
    result = crm.as_("li").calls.log(f"lead:{lead}", -1, disposition="refused", notes="no")
    assert result["next"] == {"action": "return_to_pool", "skipped": "plugin_disabled"}
    assert CallLog.get_by_id(result["call"]).lead_id == lead


def test_who_may_call_whom(crm):
    shop, lead = crm.customer("shop"), held_lead(crm)
    with pytest.raises(PermissionDenied):
        crm.as_("li").calls.log(shop, 1)
    with pytest.raises(PermissionDenied):
        crm.as_("wang").calls.log(f"lead:{lead}", 1)
    with pytest.raises(PermissionDenied):
        crm.as_("sun").calls.history(crm.customer("tea"))
    assert stored(crm)[0] == 0
    assert crm.as_("m1").calls.log(f"lead:{lead}", 1)["target"] == f"lead:{lead}"
    assert crm.as_("m1").calls.log(shop, 1)["next"]["assignee"] == "m1"
    with pytest.raises(NotFound):
        crm.as_("li").calls.log("lead:9999", 1)


def test_workspaces_are_isolated(crm):
    crm.as_("li").calls.log(crm.customer("tea"), 1)
    olga = crm.as_("olga", workspace="other")
    with pytest.raises(NotFound):
        olga.calls.log(crm.customer("tea"), 1)
    crm.as_("gm").calls.settings_set({"categories": {"need": ["only this"]}})
    assert olga.calls.categories()["need"] == DEFAULT_SETTINGS["categories"]["need"]
    assert crm.as_("li").calls.categories()["need"] == ["only this"]


def test_history_is_newest_first_with_stage_moves(crm):
    tea = crm.customer("tea")
    for hours, intent in ((0, 0), (1, 1), (2, 3)):
        crm.as_("li", dt.timedelta(hours=hours)).calls.log(tea, intent)
    history = crm.as_("m1").calls.history(tea)
    assert [h["move"] for h in history] == ["1 → 3", "0 → 1", "new → 0"]
    assert {h["rep"] for h in history} == {"li"}


def test_the_script_panel(crm):
    li, tea = crm.as_("li"), crm.customer("tea")
    blank = li.calls.script(tea)
    assert (blank["intent"], blank["assumed"], blank["need_script"]) == (0, True, None)
    assert len(blank["objections"]) == 3
    li.calls.log(tea, 1, annotations=annotate(FIRST_THREE) + ["awareness=some"], need_category=NEED,
                 awareness_category=AWARE)
    crm.as_("li", dt.timedelta(hours=1)).calls.log(tea, 2)
    script = li.calls.script(tea)
    assert (script["intent"], script["assumed"], script["need_category"]) == (2, False, NEED)
    assert script["need_script"] == DEFAULT_SETTINGS["scripts"]["need"][NEED]
    assert script["awareness_script"] == DEFAULT_SETTINGS["scripts"]["awareness"][AWARE]


def test_settings_are_validated_whole_and_audited(crm):
    with pytest.raises(PermissionDenied):
        crm.as_("m1").calls.settings_set({"categories": {"need": ["x"]}})
    with pytest.raises(Invalid, match="invalid call-center settings"):
        crm.as_("admin").calls.settings_set({"categories": {"need": ["x"]}, "default_source": "nowhere"})
    assert crm.events("callcenter.settings_set") == []
    stages = [{**s, "callback_days": None} for s in DEFAULT_SETTINGS["intent_stages"]]
    crm.as_("admin").calls.settings_set({"intent_stages": stages})
    assert crm.as_("li").calls.log(crm.customer("tea"), -1)["next"] is None  # no interval: nothing scheduled
    assert crm.events("callcenter.settings_set")[0].after == {"intent_stages": stages}


def test_sources(crm):
    admin, li = crm.as_("admin"), crm.as_("li")
    imported = admin.customers.create(name="导入客户", origin="import")
    assert imported["source"] == "系统客户"
    # A rep entering by hand must choose from the picklist; others (an admin typing a pack's source) need not.
    assert admin.customers.create(name="手工客户")["source"] is None
    assert admin.customers.create(name="手工客户展会", source="展会")["source"] == "展会"
    with pytest.raises(Vetoed, match="choose a source: 个人搜索-公共资源, 个人搜索-个人人脉, 老客户介绍"):
        li.customers.create(name="手工客户二")
    with pytest.raises(Vetoed, match="source '展会' is not in the picklist: 个人搜索-公共资源"):
        li.customers.create(name="手工客户三", source="展会")
    with pytest.raises(Vetoed, match="choose a source"):
        li.leads.add(name="王五", phone="13700000009")
    assert li.leads.add(name="王五", phone="13700000009", source="CSC网单")["source"] == "CSC网单"
    assert li.customers.create(name="手工客户四", source="公司资源")["source"] == "公司资源"
    # The roles are data: [] turns the rule off.
    crm.as_("gm").calls.settings_set({"source_required_for_roles": []})
    assert li.customers.create(name="手工客户五")["source"] is None
    assert Customer.select().where(Customer.name.startswith("手工客户")).count() == 4
