"""Pools and their rules: defaults, create, set (other values kept), validation, team pools, 0 = rule off."""

import pytest

from kehu.errors import KehuError

from .conftest import DEFAULT_RULES, EAST, NORTH, days


def error_code(call, *args, **kwargs):
    with pytest.raises(KehuError) as caught:
        call(*args, **kwargs)
    return caught.value.code


def by_name(pools):
    return {p["name"]: p for p in pools}


def test_every_workspace_has_the_public_pool_with_the_domain_defaults(crm):
    pools = by_name(crm.admin().leads.pools())
    assert set(pools) == {"public", "east", "north"}
    public = pools["public"]
    assert {k: public[k] for k in DEFAULT_RULES} == DEFAULT_RULES
    assert public["team"] is None
    assert pools["east"]["team"] == EAST and pools["north"]["team"] == NORTH
    assert [p["name"] for p in crm.as_("root", workspace="other").leads.pools()] == ["public"]


def test_create_takes_the_rules_given_and_defaults_for_the_rest(crm):
    made = crm.as_("m1").leads.pool_create("telesales", max_held=5, cooldown_hours=1)
    assert made["max_held"] == 5 and made["cooldown_hours"] == 1
    assert {k: made[k] for k in DEFAULT_RULES if k not in ("max_held", "cooldown_hours")} == \
        {k: v for k, v in DEFAULT_RULES.items() if k not in ("max_held", "cooldown_hours")}
    assert by_name(crm.admin().leads.pools())["telesales"] == made
    assert [e.action for e in crm.events("leads.pool_created")][-1:] == ["leads.pool_created"]


def test_set_changes_only_the_options_given(crm):
    admin = crm.admin()
    admin.leads.pool_set("public", protect_days=45, warn_days=3)
    after = admin.leads.pool_set("public", max_held=7)
    assert {k: after[k] for k in DEFAULT_RULES} == {**DEFAULT_RULES, "protect_days": 45, "warn_days": 3,
                                                     "max_held": 7}
    assert after["team"] is None
    after = admin.leads.pool_set("east", daily_claims=0)
    assert after["team"] == EAST and after["daily_claims"] == 0 and after["max_held"] == 100
    event = crm.events("leads.pool_changed")[-1]
    assert event.before["daily_claims"] == 20 and event.after["daily_claims"] == 0


def test_set_moves_a_pool_to_another_team_and_back_to_everyone(crm):
    admin = crm.admin()
    assert admin.leads.pool_set("east", team=NORTH)["team"] == NORTH
    assert admin.leads.pool_set("east", team="")["team"] is None
    assert crm.pool("east").max_held == 100


@pytest.mark.parametrize("rules", [{"max_held": -1}, {"daily_claims": "many"}, {"protect_days": 4000},
                                   {"cooldown_hours": -5}, {"team": "总公司/没有这个部门"}])
def test_bad_rule_values_are_refused_and_nothing_changes(crm, rules):
    before = crm.admin().leads.pools()
    code = error_code(crm.admin().leads.pool_set, "public", **rules)
    assert code in ("invalid", "not_found")
    if "team" not in rules:
        assert code == "invalid"
    assert crm.admin().leads.pools() == before


def test_set_without_options_and_unknown_pools(crm):
    assert error_code(crm.admin().leads.pool_set, "public") == "invalid"
    assert error_code(crm.admin().leads.pool_set, "nope", max_held=1) == "not_found"
    assert error_code(crm.admin().leads.pool_create, "public") == "conflict"
    assert error_code(crm.admin().leads.pool_create, "has space") == "invalid"


def test_only_a_manager_or_above_creates_or_changes_pools(crm):
    assert error_code(crm.as_("li").leads.pool_create, "mine") == "permission_denied"
    assert error_code(crm.as_("li").leads.pool_set, "public", max_held=1000) == "permission_denied"
    assert error_code(crm.as_("finance").leads.pool_set, "public", max_held=1000) == "permission_denied"
    assert crm.pool().max_held == 100
    assert crm.as_("d1").leads.pool_set("public", max_held=50)["max_held"] == 50


# --- team pools ---------------------------------------------------------------------------------------


def test_a_team_pool_is_invisible_and_unclaimable_outside_the_team(crm):
    east = crm.add_leads(2, pool="east")
    public = crm.add_leads(1)
    sun = crm.as_("sun")  # 华北
    assert [lead["id"] for lead in sun.leads.list()] == public
    assert sun.leads.list(pool="east") == []
    assert error_code(sun.leads.show, east[0]) == "permission_denied"
    assert error_code(sun.leads.claim, east[0]) == "permission_denied"
    assert crm.lead(east[0]).state == "in_pool"
    assert crm.transitions(east[0], reason="claimed") == []
    # Every rep in the team's subtree may use it: 销售一部 and 销售二部 of 华东.
    assert [lead["id"] for lead in crm.as_("zhao").leads.list(pool="east")] == east
    assert crm.as_("li").leads.claim(east[0])["holder"] == "li"
    assert crm.as_("zhao").leads.claim(east[1])["holder"] == "zhao"


def test_managers_above_the_team_and_whole_workspace_roles_see_the_team_pool(crm):
    east = crm.add_leads(1, pool="east")
    for login in ("m1", "d1", "vp", "gm", "admin"):
        assert [lead["id"] for lead in crm.as_(login).leads.list(pool="east")] == east, login
    assert crm.as_("m2").leads.list(pool="east") == []


def test_moving_the_team_changes_who_may_claim(crm):
    lead = crm.add_leads(1, pool="north")[0]
    assert error_code(crm.as_("li").leads.claim, lead) == "permission_denied"
    crm.set_pool("north", team="")
    assert crm.as_("li").leads.claim(lead)["holder"] == "li"


def test_a_rep_holding_a_team_pool_lead_still_sees_it(crm):
    lead = crm.claimed("li", pool="east")[0]
    crm.set_pool("east", team=NORTH)
    assert crm.as_("li").leads.show(lead)["holder"] == "li"
    assert [x["id"] for x in crm.as_("li").leads.list(mine=True)] == [lead]


# --- turning rules off with pool set --------------------------------------------------------------------


def test_turning_protection_off_stops_recycling_leads_held_now(crm):
    crm.set_pool(followup_days=0)
    lead = crm.claimed("li")[0]
    crm.set_pool(protect_days=0)
    assert crm.lead(lead).protected_until is None and crm.lead(lead).protect_warn_at is None
    assert crm.system(days(400)).leads.sweep() == {"recycled": 0, "warned": 0}
    assert crm.holder(lead) == "li"


def test_turning_follow_up_off_stops_recycling_leads_held_now(crm):
    crm.set_pool(protect_days=0)
    lead = crm.claimed("li")[0]
    crm.set_pool(followup_days=0)
    assert crm.lead(lead).followup_due is None
    assert crm.system(days(400)).leads.sweep() == {"recycled": 0, "warned": 0}
    assert crm.holder(lead) == "li"


def test_turning_warnings_off_clears_pending_warnings(crm):
    lead = crm.claimed("li")[0]
    crm.set_pool(warn_days=0)
    assert crm.system(days(6)).leads.sweep() == {"recycled": 0, "warned": 0}
    assert crm.inbox("li") == []
    assert crm.holder(lead) == "li"


def test_new_rules_apply_from_the_next_claim(crm):
    first = crm.claimed("li")[0]
    crm.set_pool(followup_days=3, protect_days=10)
    second = crm.claimed("li")[0]
    assert crm.lead(first).followup_due == crm.lead(first).held_since + days(7)
    assert crm.lead(second).followup_due == crm.lead(second).held_since + days(3)
    assert crm.lead(second).protected_until == crm.lead(second).held_since + days(10)
