"""NPS, CSAT and C = b/a on hand-computed fixtures; the report's grouping, scope and isolation; the score hook."""

import datetime as dt
from decimal import Decimal

import pytest

from kehu.core.models import Customer
from kehu.errors import Invalid, PluginDisabled
from kehu.plugins.survey.scores import c_ratio, csat_value, half_up, nps_value

# 10 NPS answers: promoters 10 9 9 10 9, passives 7 8 7, detractors 3 6 → (5 − 2) × 100 ÷ 10 = 30.
NPS_ANSWERS = {"tea": [10, 9, 3], "milk": [9, 7], "shop": [10, 8], "mart": [9, 6], "plant": [7]}
OWNERS = {"tea": "li", "milk": "li", "shop": "wang", "mart": "zhao", "plant": "sun"}
INDUSTRIES = {"tea": "食品", "milk": "食品", "shop": "零售", "mart": "零售", "plant": None}
PERIOD = {"start": "2025-03-01", "end": "2025-03-03"}


def answered(crm, customer, form, answers):
    token = crm.as_(OWNERS[customer]).survey.send(form, crm.customer(customer))["token"]
    return crm.as_(None).survey.answer(token, answers)


@pytest.fixture
def scored(crm):
    for key, industry in INDUSTRIES.items():
        Customer.update(industry=industry).where(Customer.id == crm.customer(key)).execute()
    for customer, scores in NPS_ANSWERS.items():
        for score in scores:
            answered(crm, customer, "nps", {"score": score})
    # CSAT: tea 4+5 of 10, a = 8, b = 6; shop 3+3 of 10, a = 10, b = 9 → 15 of 20 = 75%, C = 15/18.
    answered(crm, "tea", "satisfaction", {"service_quality": 4, "product_quality": 5, "expectation": 8,
                                          "perception": 6})
    answered(crm, "shop", "satisfaction", {"service_quality": 3, "product_quality": 3, "expectation": 10,
                                           "perception": 9})
    return crm


def test_exact_arithmetic():
    assert nps_value(5, 3, 2) == Decimal("30.0")
    assert nps_value(2, 0, 1) == Decimal("33.3") and nps_value(1, 0, 2) == Decimal("-33.3")
    assert nps_value(0, 0, 0) is None and nps_value(0, 4, 0) == Decimal("0.0")
    assert nps_value(10, 0, 0) == 100 and nps_value(0, 0, 3) == -100
    assert csat_value(2, 3) == Decimal("66.7") and csat_value(0, 0) is None
    assert c_ratio(6, 8) == Decimal("0.75") and c_ratio(5, 0) is None
    assert half_up(1, 8, 2) == Decimal("0.13") and half_up(-1, 8, 2) == Decimal("-0.13")  # 四舍五入


def test_the_report_for_the_whole_workspace(scored):
    report = scored.as_("gm").survey.report(**PERIOD)
    assert {k: report[k] for k in ("responses", "nps", "promoters", "passives", "detractors", "csat",
                                   "c_ratio", "groups")} == {
        "responses": 12, "nps": Decimal("30.0"), "promoters": 5, "passives": 3, "detractors": 2,
        "csat": Decimal("75.0"), "c_ratio": Decimal("0.83"), "groups": []}
    nps_only = scored.as_("gm").survey.report(form="nps", **PERIOD)
    assert (nps_only["responses"], nps_only["csat"], nps_only["c_ratio"]) == (10, None, None)
    assert scored.as_("gm").survey.report(start="2025-03-04", end="2025-03-05")["responses"] == 0
    later = scored.as_("gm", dt.timedelta(hours=1)).survey.report()  # default: the 30 days before now
    assert later["responses"] == 12


def test_the_report_by_rep_unit_and_industry(scored):
    def groups(by):
        report = scored.as_("admin").survey.report(form="nps", by=by, **PERIOD)
        return {g["group"]: (g["responses"], g["nps"]) for g in report["groups"]}

    assert groups("rep") == {"li": (5, 40), "wang": (2, 50), "zhao": (2, 0), "sun": (1, 0)}
    assert groups("unit") == {"总公司/华东/销售一部": (7, Decimal("42.9")), "总公司/华东/销售二部": (2, 0),
                              "总公司/华北/销售一部": (1, 0)}
    assert groups("industry") == {"食品": (5, 40), "零售": (4, 25), None: (1, 0)}
    with pytest.raises(Invalid, match="--by must be one of rep, unit, industry"):
        scored.as_("admin").survey.report(by="region")


def test_the_report_keeps_to_the_data_scope_and_the_workspace(scored):
    assert scored.as_("li").survey.report(form="nps", **PERIOD)["responses"] == 5
    m1 = scored.as_("m1").survey.report(form="nps", by="rep", **PERIOD)
    assert (m1["responses"], {g["group"] for g in m1["groups"]}) == (7, {"li", "wang"})
    assert scored.as_("d1").survey.report(form="nps", **PERIOD)["responses"] == 9
    assert scored.as_("qa").survey.report(form="nps", **PERIOD)["responses"] == 10
    other = scored.as_("olga", workspace="other").survey.report(**PERIOD)
    assert (other["responses"], other["nps"], other["csat"]) == (0, None, None)


def test_scores_for_other_plugins_through_the_hook(scored):
    context = scored.as_(None).context
    ids = [scored.customer(k) for k in ("tea", "shop", "open1")]
    answers = context.hooks.kehu_customer_scores(context=context, customer_ids=ids)
    assert answers == [{
        scored.customer("tea"): {"nps": Decimal("33.3"), "csat": Decimal("90.0"), "responses": 4},
        scored.customer("shop"): {"nps": Decimal("50.0"), "csat": Decimal("60.0"), "responses": 3}}]
    tea = scored.as_("li").survey.report(form="satisfaction", **PERIOD)
    assert (tea["csat"], tea["c_ratio"]) == (Decimal("90.0"), Decimal("0.75"))  # a = 8, b = 6


def test_with_the_plugin_disabled_nothing_else_breaks(scored):
    scored.as_("admin").plugins.disable("survey")
    context = scored.as_(None).context
    assert context.hooks.kehu_customer_scores(context=context, customer_ids=[scored.customer("tea")]) == []
    with pytest.raises(PluginDisabled):
        scored.as_("admin").survey.report()
    deal = scored.as_("li").calls.log(scored.customer("tea"), 4, disposition="deal", notes="签约")
    assert deal["next"] == {"action": "send_survey", "form": "nps", "skipped": "plugin_disabled"}
    assert scored.cli("admin").fails("survey", "forms", code="plugin_disabled")
