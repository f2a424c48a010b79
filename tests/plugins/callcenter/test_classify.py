"""New vs old customer per rep and month (DOMAIN.md §2.6), derived from calls and visits: the 30-day boundary in
local calendar days (DESIGN decision 7), local months, the set-based query the reports use."""

import datetime as dt

import pytest

from kehu.errors import Invalid, PermissionDenied
from kehu.plugins.callcenter import calls

from .conftest import SHANGHAI


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def call(crm, login, key, when):
    return crm.as_(login, at(when)).calls.log(crm.customer(key), 1)


@pytest.fixture
def history(crm):
    call(crm, "li", "tea", "2025-02-01 10:00")    # tea: exactly 30 days before its March follow-up
    call(crm, "li", "tea", "2025-03-03 10:00")
    call(crm, "li", "tea", "2025-03-20 10:00")    # later March calls do not matter
    call(crm, "li", "milk", "2025-02-02 00:00")   # milk: 29 days 23:59, 29 calendar days
    call(crm, "li", "milk", "2025-03-03 23:59")
    call(crm, "wang", "shop", "2025-02-01 10:01")  # shop: 29 days 23:59 as instants, but 30 calendar days
    call(crm, "wang", "shop", "2025-03-03 10:00")
    crm.as_("zhao", at("2025-02-20 15:00")).visits.log(crm.customer("mart"), "met")  # a visit is a follow-up
    call(crm, "zhao", "mart", "2025-03-05 09:00")
    call(crm, "vp", "plant", "2025-02-25 09:00")  # another rep's call does not count for sun
    call(crm, "sun", "plant", "2025-03-05 09:00")
    return crm


def classify(crm, login, key, month="2025-03", as_="admin"):
    return crm.as_(as_).calls.classify(crm.customer(key), login, month)


def test_the_thirty_day_boundary_in_calendar_days(history):
    tea = classify(history, "li", "tea")
    assert (tea["classification"], tea["first"], tea["previous"]) == ("new", "2025-03-03", "2025-02-01")
    assert tea["reason"] == ("first follow-up by li in 2025-03 on 2025-03-03, 30 days after the previous one on "
                             "2025-02-01 (≥ 30)")
    milk = classify(history, "li", "milk")
    assert milk["classification"] == "old" and "29 days after" in milk["reason"] and "(< 30)" in milk["reason"]
    assert classify(history, "wang", "shop")["classification"] == "new"


def test_visits_count_other_reps_do_not_and_no_follow_up_is_none(history):
    mart = classify(history, "zhao", "mart")
    assert (mart["classification"], mart["previous"]) == ("old", "2025-02-20")
    plant = classify(history, "sun", "plant")
    assert plant["classification"] == "new" and plant["reason"].endswith("none before")
    nothing = classify(history, "li", "shop")
    assert nothing == {"customer": history.customer("shop"), "rep": "li", "month": "2025-03",
                       "classification": "none", "reason": f"no call or visit by li on customer "
                                                           f"{history.customer('shop')} in 2025-03"}
    assert classify(history, "li", "tea", "2025-02")["classification"] == "new"


def test_months_are_local_calendar_months(history):
    call(history, "li", "milk", "2025-03-31 23:30")  # 15:30 UTC: still March
    call(history, "li", "tea", "2025-04-01 00:30")   # 2025-03-31 16:30 UTC: April
    assert classify(history, "li", "milk", "2025-04")["classification"] == "none"
    april = classify(history, "li", "tea", "2025-04")
    assert (april["classification"], april["first"], april["previous"]) == ("old", "2025-04-01", "2025-03-20")


def test_the_set_based_query_agrees_with_one_by_one(history):
    context = history.as_("admin").context
    rows = calls.classify_month(context, "2025-03")
    expected = {(history.uid(rep), history.customer(key)): classify(history, rep, key)["classification"]
                for rep, key in (("li", "tea"), ("li", "milk"), ("wang", "shop"), ("zhao", "mart"),
                                 ("sun", "plant"))}
    assert {(rep, customer): kind for rep, customer, kind in rows} == expected
    only_li = calls.classify_month(context, "2025-03", reps_query=[history.uid("li")])
    assert sorted(kind for _, _, kind in only_li) == ["new", "old"]
    assert calls.classify_month(history.as_("root", workspace="other").context, "2025-03") == []


def test_the_exclusive_rule_and_bad_input(history):
    history.as_("gm").calls.settings_set({"new_customer": {"gap_days": 30, "inclusive": False}})
    tea = classify(history, "li", "tea")
    assert tea["classification"] == "old" and "(≤ 30)" in tea["reason"]
    assert classify(history, "wang", "shop")["classification"] == "old"
    for month in ("2025-13", "March", "2025-3"):
        with pytest.raises(Invalid, match="month must be YYYY-MM"):
            classify(history, "li", "tea", month)
    with pytest.raises(PermissionDenied):
        classify(history, "wang", "shop", as_="li")
    assert classify(history, "li", "tea", as_="m1")["classification"] == "old"
    assert classify(history, "li", "tea", as_="li")["classification"] == "old"
