"""Sending surveys, answering them once, answers recorded by a rep, the low-score loop and the request hook."""

import datetime as dt

import pytest

import kehu
from kehu.core.db import database

from kehu.core.models import Activity
from kehu.errors import Conflict, Invalid, NotFound, PermissionDenied
from kehu.plugins.survey import responses
from kehu.plugins.survey.models import SurveyResponse

from .conftest import T0


def send(crm, form="nps", customer="tea", login="li", **options):
    return crm.as_(login).survey.send(form, crm.customer(customer), **options)


def test_send_creates_a_slot_with_a_url_safe_token(crm):
    slot = send(crm, after=None)
    assert (slot["form"], slot["customer"], slot["sent_by"], slot["answered_at"]) == (
        "nps", crm.customer("tea"), "li", None)
    assert len(slot["token"]) == 32 and set(slot["token"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    row = SurveyResponse.get_by_id(slot["response"])
    assert row.form["questions"][0]["key"] == "score"  # the form as it was sent
    assert crm.events("survey.sent")[0].entity_id == str(row.id)
    assert send(crm)["token"] != slot["token"]


def test_tokens_never_begin_with_a_dash(crm, monkeypatch):
    drawn = iter(["-abcdefgh", "-second", "good-token_1"])
    monkeypatch.setattr(responses.secrets, "token_urlsafe", lambda n: next(drawn))
    assert send(crm)["token"] == "good-token_1"


def test_who_may_send_and_what_may_prompt_it(crm):
    with pytest.raises(PermissionDenied):
        send(crm, customer="shop")  # wang's customer
    assert send(crm, customer="shop", login="m1")["sent_by"] == "m1"
    with pytest.raises(NotFound):
        send(crm, form="nope")
    with pytest.raises(Invalid, match="activity:ID or complaint:ID"):
        send(crm, after="call:3")
    with pytest.raises(NotFound, match="no activity 999"):
        send(crm, after="activity:999")
    visit = crm.as_("li").activities.log("visit", "拜访", customer=crm.customer("tea"))
    assert send(crm, "visit", after=f"activity:{visit['id']}")["after"] == f"activity:{visit['id']}"


@pytest.mark.parametrize("answers, problem", [
    ({}, "service_quality: required"),
    ({"service_quality": 6, "product_quality": 4}, "service_quality: must be a whole number from 1 to 5, not 6"),
    ({"service_quality": 0, "product_quality": 4}, "from 1 to 5, not 0"),
    ({"service_quality": 4.0, "product_quality": 4}, "not 4.0"),
    ({"service_quality": True, "product_quality": 4}, "not True"),
    ({"service_quality": "4", "product_quality": 4}, "not '4'"),
    ({"service_quality": 4, "product_quality": 4, "expectation": 11}, "from 1 to 10"),
    ({"service_quality": 4, "product_quality": 4, "comments": 5}, "comments: must be text"),
    ({"service_quality": 4, "product_quality": 4, "colour": "red"}, "colour: unknown question"),
])
def test_bad_answers_name_each_problem_and_store_nothing(crm, answers, problem):
    slot = send(crm, "satisfaction")
    with pytest.raises(Invalid) as error:
        crm.as_(None).survey.answer(slot["token"], answers)
    assert problem in error.value.message
    row = SurveyResponse.get_by_id(slot["response"])
    assert (row.answered_at, row.answers) == (None, None)


def test_nps_choice_and_text_answers(crm):
    with pytest.raises(Invalid, match="score: must be a whole number from 0 to 10, not 11"):
        crm.as_(None).survey.answer(send(crm)["token"], {"score": 11})
    with pytest.raises(Invalid, match=r"reasons: unknown question \(form nps asks score, reason\); score: required"):
        crm.as_(None).survey.answer(send(crm)["token"], {"reasons": "x"})
    feedback = send(crm, "feedback")["token"]
    with pytest.raises(Invalid, match="'价格' not among the choices"):
        crm.as_(None).survey.answer(feedback, {"topic": ["服务 service", "价格"]})
    with pytest.raises(Invalid, match="satisfaction: must be one of"):
        crm.as_(None).survey.answer(feedback, {"topic": ["服务 service"], "satisfaction": "ok"})
    with pytest.raises(Invalid, match="topic: must be a list"):
        crm.as_(None).survey.answer(feedback, {"topic": "服务 service"})
    with pytest.raises(Invalid, match="is 2001 characters, at most 2000"):
        crm.as_(None).survey.answer(feedback, {"topic": ["产品 product"], "product_opinion": "好" * 2001})
    done = crm.as_(None).survey.answer(feedback, {"topic": ["产品 product"], "product_opinion": "  包装好  ",
                                                  "satisfaction": "满意 satisfied", "service_opinion": ""})
    assert done["answers"] == {"topic": ["产品 product"], "product_opinion": "包装好",
                               "satisfaction": "满意 satisfied"}
    assert (done["nps"], done["csat_points"], done["follow_up"]) == (None, None, None)


def test_a_token_answers_once(crm):
    token = send(crm)["token"]
    first = crm.as_(None, dt.timedelta(hours=1)).survey.answer(token, {"score": 10, "reason": "快"})
    assert (first["nps"], first["collected_by"], first["answered_at"]) == (10, None, "2025-03-03T03:00:00+00:00")
    with pytest.raises(Conflict):
        crm.as_(None).survey.answer(token, {"score": 3})
    assert SurveyResponse.get_by_id(first["response"]).nps == 10
    with pytest.raises(NotFound):
        crm.as_(None).survey.answer("no-such-token", {"score": 3})
    with pytest.raises(NotFound):  # another workspace's token is unknown here
        crm.as_("root", workspace="other").survey.answer(send(crm)["token"], {"score": 3})
    assert [e.action for e in crm.events() if e.action.startswith("survey.")].count("survey.answered") == 1


def test_satisfaction_figures_and_answers_recorded_by_a_rep(crm):
    token = send(crm, "satisfaction")["token"]
    with pytest.raises(PermissionDenied):
        crm.as_("zhao").survey.answer(token, {"service_quality": 4, "product_quality": 5}, by_rep=True)
    with pytest.raises(PermissionDenied):
        crm.as_(None).survey.answer(token, {"service_quality": 4, "product_quality": 5}, by_rep=True)
    done = crm.as_("li").survey.answer(token, {"service_quality": 4, "product_quality": 5, "expectation": 8,
                                               "perception": 6}, by_rep=True)
    assert done["collected_by"] == "li"
    assert {k: done[k] for k in ("nps", "csat_points", "csat_max", "expectation", "perception")} == {
        "nps": None, "csat_points": 9, "csat_max": 10, "expectation": 8, "perception": 6}


def test_a_low_score_is_followed_up_once(crm):
    done = crm.as_(None).survey.answer(send(crm)["token"], {"score": 6})
    follow = done["follow_up"]
    assert (follow["owner"], follow["notified"]) == ("li", ["m1"])
    task = Activity.get_by_id(follow["task"])
    assert (task.kind, task.user_id, task.customer_id) == ("task", crm.uid("li"), crm.customer("tea"))
    assert task.due_at == dt.datetime(2025, 3, 5, 2, tzinfo=dt.timezone.utc)  # T0 + 2 days
    assert [n.entity for n in crm.notifications("m1", "survey_low_score")] == [f"survey_response:{done['response']}"]
    assert crm.as_(None).survey.answer(send(crm)["token"], {"score": 7})["follow_up"] is None
    # zhao's department has no manager: the director hears; sun's is m2.
    mart = crm.as_(None).survey.answer(send(crm, customer="mart", login="zhao")["token"], {"score": 0})
    assert mart["follow_up"]["notified"] == ["d1"]
    # CSAT below 60%: 5 of 10 points.
    low = crm.as_(None).survey.answer(send(crm, "satisfaction")["token"], {"service_quality": 2,
                                                                           "product_quality": 3})
    assert low["follow_up"]["owner"] == "li"
    # The job finds nothing more to do, then catches what a raised threshold makes low, once.
    assert responses.follow_up_low_scores(crm.as_(None).context) == {"followed_up": 0}
    workspace = crm.workspace_row()
    workspace.settings = {**workspace.settings, "survey_low_score": {"nps": 7}}
    workspace.save()
    assert responses.follow_up_low_scores(crm.as_(None).context) == {"followed_up": 1}
    assert responses.follow_up_low_scores(crm.as_(None).context) == {"followed_up": 0}
    assert len(crm.notifications("m1", "survey_low_score")) == 3
    assert len(crm.activities("task")) == 4


def test_the_tick_job_is_registered(crm):
    result = crm.app.tick(now=crm.as_(None).context.now, workspace="acme")[0]["jobs"]
    assert {"job": "survey.low_scores", "plugin": "survey", "ran": True, "result": {"followed_up": 0}} in result


def test_a_deal_call_sends_an_nps_survey(crm):
    call = crm.as_("li").calls.log(crm.customer("tea"), 4, disposition="deal", notes="签约")
    nxt = call["next"]
    assert (nxt["action"], nxt["form"], nxt["survey"]["form"]) == ("send_survey", "nps", "nps")
    row = SurveyResponse.get(SurveyResponse.token == nxt["survey"]["token"])
    assert (row.customer_id, row.after, row.sent_by_id) == (crm.customer("tea"), f"activity:{call['activity']}",
                                                            crm.uid("li"))


class Listener:
    """Records every ``kehu_survey_answered`` call and whether a transaction was still open."""

    def __init__(self):
        self.calls = []

    @kehu.hookimpl
    def kehu_survey_answered(self, context, responses):
        self.calls.append(([r["customer"] for r in responses], database.in_transaction()))


def test_an_answer_is_announced_after_commit(crm, kehu_connect_with):
    listener = Listener()
    app = kehu_connect_with(plugins=[("listener", listener)])
    app.workspace("acme", user="admin").plugins.enable("listener")
    token = app.workspace("acme", user="li", now=T0).survey.send("nps", customer=crm.customer("tea"))["token"]
    app.workspace("acme", user=None, now=T0).survey.answer(token, {"score": 9})
    assert listener.calls == [([crm.customer("tea")], False)]
    with pytest.raises(Invalid):  # a refused answer announces nothing
        app.workspace("acme", user=None, now=T0).survey.answer(
            app.workspace("acme", user="li", now=T0).survey.send("nps", customer=crm.customer("tea"))["token"],
            {"score": 11})
    assert len(listener.calls) == 1
