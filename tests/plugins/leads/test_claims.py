"""Claim, release, transfer, follow-up, convert, history and deactivation: every rule at its boundaries.

Times are injected (``now=``): the workspace is in Asia/Shanghai (UTC+8), :data:`T0` is 2025-03-03 10:00 there.
"""

import datetime as dt

import pytest

from kehu.core.models import Activity, Customer, User
from kehu.errors import KehuError

from .conftest import SHANGHAI, T0, days, hours, minutes, seconds, utc_iso


def error_code(call, *args, **kwargs):
    with pytest.raises(KehuError) as caught:
        call(*args, **kwargs)
    return caught.value.code


def local(*args):
    """An instant given as Shanghai wall-clock time."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


# --- claim ---------------------------------------------------------------------------------------------


def test_a_claim_returns_the_holder_and_both_deadlines(crm):
    lead = crm.add_leads(1)[0]
    result = crm.as_("li", now=minutes(5)).leads.claim(lead)
    assert result == {"lead": lead, "holder": "li", "protected_until": utc_iso(minutes(5) + days(30)),
                      "followup_due": utc_iso(minutes(5) + days(7))}
    row = crm.lead(lead)
    assert (row.state, row.holder_id, row.held_since) == ("held", crm.uid("li"), T0 + minutes(5))
    assert row.protect_warn_at == T0 + minutes(5) + days(28)
    assert row.followup_warn_at == T0 + minutes(5) + days(5)
    [event] = crm.events("lead.claimed")
    assert (event.entity_id, event.actor_id, event.before, event.after) == (
        str(lead), crm.uid("li"), {"state": "in_pool", "holder": None}, {"state": "held", "holder": crm.uid("li")})


def test_a_claim_in_a_pool_without_deadlines_has_none(crm):
    crm.set_pool(protect_days=0, followup_days=0)
    lead = crm.add_leads(1)[0]
    result = crm.as_("li").leads.claim(lead)
    assert (result["protected_until"], result["followup_due"]) == (None, None)
    row = crm.lead(lead)
    assert (row.protect_warn_at, row.followup_warn_at) == (None, None)
    assert crm.system(days(3650)).leads.sweep() == {"recycled": 0, "warned": 0}
    assert crm.holder(lead) == "li"


def test_a_zoneless_now_is_workspace_time(crm):
    lead = crm.add_leads(1)[0]
    result = crm.as_("li", now="2025-03-10T09:30:00").leads.claim(lead)
    assert result["followup_due"] == "2025-03-17T01:30:00+00:00"


def test_claim_errors(crm):
    li = crm.as_("li")
    assert error_code(li.leads.claim, 999999) == "not_found"
    assert error_code(li.leads.claim, "abc") == "invalid"
    lead = crm.claimed("wang")[0]
    assert error_code(li.leads.claim, lead) == "already_held"
    assert error_code(crm.as_("wang").leads.claim, lead) == "already_held"
    assert crm.holder(lead) == "wang"
    assert error_code(crm.system().leads.claim, crm.add_leads(1)[0]) == "invalid"  # a claim needs a user
    other = crm.as_("root", workspace="other")
    assert error_code(other.leads.claim, lead) == "not_found"  # another workspace's lead does not exist there


def test_a_converted_lead_cannot_be_claimed(crm):
    lead = crm.claimed("li")[0]
    crm.as_("li").leads.convert(lead)
    assert error_code(crm.as_("wang").leads.claim, lead) == "already_held"


# --- max_held ------------------------------------------------------------------------------------------


def test_max_held_counts_held_leads_only(crm):
    crm.set_pool(max_held=2)
    a, b, c = crm.add_leads(3)
    li = crm.as_("li")
    li.leads.claim(a)
    li.leads.claim(b)
    assert error_code(li.leads.claim, c) == "claim_limit_held"
    assert crm.lead(c).state == "in_pool"
    # Another rep is not affected.
    assert crm.as_("wang").leads.claim(c)["holder"] == "wang"
    d = crm.add_leads(1)[0]
    li.leads.convert(a)  # converted leads do not count
    assert li.leads.claim(d)["holder"] == "li"
    e = crm.add_leads(1)[0]
    assert error_code(li.leads.claim, e) == "claim_limit_held"
    li.leads.release(b)
    assert li.leads.claim(e)["holder"] == "li"


def test_max_held_is_per_pool(crm):
    crm.set_pool(max_held=1)
    crm.claimed("li")
    assert crm.claimed("li", pool="east")  # the east pool keeps its own limit of 100
    assert error_code(crm.as_("li").leads.claim, crm.add_leads(1)[0]) == "claim_limit_held"


def test_max_held_zero_is_no_limit(crm):
    crm.set_pool(max_held=0, daily_claims=0)
    assert len(crm.claimed("li", 120)) == 120


def test_max_held_counts_transferred_leads_but_transfers_ignore_it(crm):
    crm.set_pool(max_held=1)
    given = crm.add_leads(2)
    crm.as_("m1").leads.transfer(given[0], to="li")
    crm.as_("m1").leads.transfer(given[1], to="li")  # a manager's decision is not a self-claim
    assert crm.holder(given[1]) == "li"
    assert error_code(crm.as_("li").leads.claim, crm.add_leads(1)[0]) == "claim_limit_held"


# --- daily_claims: local calendar days -------------------------------------------------------------------


def test_the_daily_cap_counts_shanghai_dates_across_local_midnight(crm):
    """23:59 and 00:01 Shanghai are 15:59 and 16:01 UTC of the same UTC date, but two local days."""
    crm.set_pool(daily_claims=1)
    a, b, c = crm.add_leads(3)
    assert crm.as_("li", now=local(2025, 3, 3, 23, 59)).leads.claim(a)["holder"] == "li"
    assert error_code(crm.as_("li", now=local(2025, 3, 3, 23, 59, 59)).leads.claim, b) == "claim_limit_daily"
    assert crm.as_("li", now=local(2025, 3, 4, 0, 1)).leads.claim(b)["holder"] == "li"
    assert error_code(crm.as_("li", now=local(2025, 3, 4, 23, 0)).leads.claim, c) == "claim_limit_daily"


def test_the_daily_cap_is_one_local_day_even_across_a_utc_midnight(crm):
    """07:59 and 08:01 Shanghai are 23:59 and 00:01 UTC: two UTC dates, but one local day."""
    crm.set_pool(daily_claims=1)
    a, b = crm.add_leads(2)
    crm.as_("li", now=local(2025, 3, 5, 7, 59)).leads.claim(a)
    assert error_code(crm.as_("li", now=local(2025, 3, 5, 8, 1)).leads.claim, b) == "claim_limit_daily"
    assert crm.as_("li", now=local(2025, 3, 6, 0, 0)).leads.claim(b)["holder"] == "li"


def test_the_daily_cap_reads_the_day_of_now_when_claims_are_back_filled(crm):
    """Time is injected so claims can be back-filled: a later day's claims don't count against an earlier day."""
    crm.set_pool(daily_claims=1)
    a, b = crm.add_leads(2)
    crm.as_("li", now=local(2025, 3, 4, 0, 1)).leads.claim(a)
    assert crm.as_("li", now=local(2025, 3, 3, 23, 59)).leads.claim(b)["holder"] == "li"


def test_the_daily_cap_counts_claims_not_holdings(crm):
    crm.set_pool(daily_claims=2, cooldown_hours=0)
    a, b, c = crm.add_leads(3)
    li = crm.as_("li")
    li.leads.claim(a)
    li.leads.release(a)
    li.leads.claim(b)
    assert error_code(li.leads.claim, c) == "claim_limit_daily"
    assert error_code(li.leads.claim, a) == "claim_limit_daily"
    # Assignments and transfers by a manager are not self-claims.
    crm.as_("m1").leads.transfer(c, to="li")
    assert crm.holder(c) == "li"
    # Other reps have their own count.
    assert crm.as_("wang").leads.claim(a)["holder"] == "wang"


def test_the_daily_cap_is_per_pool(crm):
    crm.set_pool(daily_claims=1)
    crm.claimed("li")
    crm.claimed("li", pool="east")
    assert error_code(crm.as_("li").leads.claim, crm.add_leads(1)[0]) == "claim_limit_daily"


def test_daily_cap_zero_is_no_limit(crm):
    crm.set_pool(daily_claims=0)
    assert len(crm.claimed("li", 25)) == 25


def test_the_held_limit_is_checked_before_the_daily_cap(crm):
    crm.set_pool(max_held=1, daily_claims=1)
    crm.claimed("li")
    assert error_code(crm.as_("li").leads.claim, crm.add_leads(1)[0]) == "claim_limit_held"


# --- cooldown ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gap, code", [(hours(11), "cooldown"), (hours(12) - seconds(1), "cooldown"),
                                       (hours(12), None), (hours(13), None)])
def test_cooldown_after_release(crm, gap, code):
    lead = crm.claimed("li")[0]
    crm.as_("li", now=hours(1)).leads.release(lead, reason="号码空号")
    claim = crm.as_("li", now=hours(1) + gap).leads.claim
    if code:
        assert error_code(claim, lead) == code
        assert crm.lead(lead).state == "in_pool"
    else:
        assert claim(lead)["holder"] == "li"


@pytest.mark.parametrize("gap, code", [(hours(11), "cooldown"), (hours(12), None)])
def test_cooldown_after_recycle(crm, gap, code):
    lead = crm.claimed("li")[0]
    swept_at = days(7)  # no follow-up within 7 days
    assert crm.system(swept_at).leads.sweep()["recycled"] == 1
    claim = crm.as_("li", now=swept_at + gap).leads.claim
    if code:
        assert error_code(claim, lead) == code
    else:
        assert claim(lead)["holder"] == "li"


def test_cooldown_binds_only_the_previous_holder(crm):
    lead = crm.claimed("li")[0]
    crm.as_("li").leads.release(lead)
    assert crm.as_("wang").leads.claim(lead)["holder"] == "wang"


def test_cooldown_message_names_when_the_claim_is_possible_again(crm):
    lead = crm.claimed("li")[0]
    crm.as_("li").leads.release(lead)
    with pytest.raises(KehuError) as caught:
        crm.as_("li", now=hours(1)).leads.claim(lead)
    assert caught.value.code == "cooldown"
    assert (T0 + hours(12)).astimezone(dt.timezone.utc).isoformat() in caught.value.message


def test_cooldown_zero_is_off(crm):
    crm.set_pool(cooldown_hours=0)
    lead = crm.claimed("li")[0]
    crm.as_("li").leads.release(lead)
    assert crm.as_("li", now=seconds(1)).leads.claim(lead)["holder"] == "li"


def test_a_transfer_away_starts_no_cooldown(crm):
    lead = crm.claimed("li")[0]
    crm.as_("m1").leads.transfer(lead, to="wang")
    crm.as_("wang").leads.release(lead)
    assert crm.as_("li", now=minutes(1)).leads.claim(lead)["holder"] == "li"


# --- release -------------------------------------------------------------------------------------------


def test_release_returns_the_lead_with_its_reason(crm):
    lead = crm.claimed("li")[0]
    shown = crm.as_("li", now=hours(2)).leads.release(lead, reason="客户已找别家")
    assert (shown["state"], shown["holder"], shown["protected_until"], shown["followup_due"]) == \
        ("in_pool", None, None, None)
    last = crm.transitions(lead)[-1]
    assert (last.reason, last.note, last.from_holder_id, last.to_holder_id, last.at) == (
        "released", "客户已找别家", crm.uid("li"), None, T0 + hours(2))
    assert crm.events("lead.released")[-1].after["note"] == "客户已找别家"


def test_release_permissions(crm):
    lead = crm.claimed("li")[0]
    assert error_code(crm.as_("wang").leads.release, lead) == "permission_denied"
    assert error_code(crm.as_("sun").leads.release, lead) == "permission_denied"
    assert error_code(crm.as_("m2").leads.release, lead) == "permission_denied"  # another unit's manager
    assert crm.holder(lead) == "li"
    assert crm.as_("m1").leads.release(lead)["state"] == "in_pool"  # li's manager
    assert error_code(crm.as_("li").leads.release, lead) in ("conflict", "permission_denied")
    crm.as_("wang").leads.claim(lead)
    assert error_code(crm.as_("li").leads.release, lead) == "permission_denied"


def test_releasing_a_lead_in_the_pool_is_a_conflict(crm):
    lead = crm.add_leads(1)[0]
    assert error_code(crm.as_("m1").leads.release, lead) == "conflict"
    assert error_code(crm.as_("li").leads.release, 999999) == "not_found"


# --- visibility ----------------------------------------------------------------------------------------


def test_a_rep_sees_the_pool_and_their_own_leads_only(crm):
    pool = crm.add_leads(2)
    mine = crm.claimed("li", 2)
    wangs = crm.claimed("wang", 1)
    li = crm.as_("li")
    assert [x["id"] for x in li.leads.list()] == sorted(pool + mine)
    assert [x["id"] for x in li.leads.list(mine=True)] == mine
    assert [x["id"] for x in li.leads.list(state="in_pool")] == pool
    assert [x["id"] for x in li.leads.list(state="held")] == mine
    assert error_code(li.leads.show, wangs[0]) == "permission_denied"
    assert error_code(li.leads.history, wangs[0]) == "permission_denied"
    assert error_code(li.leads.list, state="gone") == "invalid"
    # A manager sees the unit's held leads; a director the region's; the vp everything.
    assert set(x["id"] for x in crm.as_("m1").leads.list(state="held")) == set(mine + wangs)
    assert crm.as_("m2").leads.list(state="held") == []
    assert len(crm.as_("vp").leads.list()) == 5


# --- transfer ------------------------------------------------------------------------------------------


def test_a_rep_cannot_transfer(crm):
    lead = crm.claimed("li")[0]
    assert error_code(crm.as_("li").leads.transfer, lead, to="wang") == "permission_denied"
    assert crm.holder(lead) == "li"


def test_a_manager_transfers_within_scope_and_the_clock_restarts(crm):
    lead = crm.claimed("li")[0]
    shown = crm.as_("m1", now=days(3)).leads.transfer(lead, to="wang")
    assert shown["holder"] == "wang"
    assert shown["protected_until"] == utc_iso(days(33)) and shown["followup_due"] == utc_iso(days(10))
    last = crm.transitions(lead)[-1]
    assert (last.reason, last.from_holder_id, last.to_holder_id, last.actor_id) == (
        "transferred", crm.uid("li"), crm.uid("wang"), crm.uid("m1"))


def test_a_manager_cannot_transfer_outside_scope(crm):
    lead = crm.claimed("li")[0]
    assert error_code(crm.as_("m1").leads.transfer, lead, to="sun") == "permission_denied"
    assert error_code(crm.as_("m1").leads.transfer, lead, to="zhao") == "permission_denied"  # 销售二部
    suns = crm.claimed("sun")[0]
    assert error_code(crm.as_("m1").leads.transfer, suns, to="li") == "permission_denied"
    assert (crm.holder(lead), crm.holder(suns)) == ("li", "sun")
    # The director of 华东 reaches both of its departments; the vp the whole workspace.
    assert crm.as_("d1").leads.transfer(lead, to="zhao")["holder"] == "zhao"
    assert crm.as_("vp").leads.transfer(suns, to="li")["holder"] == "li"


def test_transfer_from_the_pool_and_conflicts(crm):
    lead = crm.add_leads(1)[0]
    assert crm.as_("m1").leads.transfer(lead, to="li")["holder"] == "li"
    assert crm.reasons(lead) == ["added", "transferred"]
    assert error_code(crm.as_("m1").leads.transfer, lead, to="li") == "conflict"
    assert error_code(crm.as_("m1").leads.transfer, lead, to="nobody") == "not_found"
    crm.as_("li").leads.convert(lead)
    assert error_code(crm.as_("m1").leads.transfer, lead, to="wang") == "conflict"


# --- follow-up -----------------------------------------------------------------------------------------


def test_a_follow_up_logs_an_activity_and_restarts_the_follow_up_clock(crm):
    lead = crm.claimed("li")[0]
    shown = crm.as_("li", now=days(5)).leads.follow_up(lead, notes="约了下周三上门")
    assert shown["followup_due"] == utc_iso(days(12))
    assert shown["protected_until"] == utc_iso(days(30))  # protection counts from the claim, not follow-ups
    activity = Activity.get_by_id(shown["activity"])
    assert (activity.kind, activity.notes, activity.entity, activity.user_id) == (
        "call", "约了下周三上门", f"lead:{lead}", crm.uid("li"))
    row = crm.lead(lead)
    assert (row.last_followup_at, row.followup_warn_at) == (T0 + days(5), T0 + days(10))


def test_any_activity_on_the_lead_restarts_the_clock(crm):
    lead = crm.claimed("li")[0]
    crm.as_("li", now=days(6)).activities.log("visit", "上门拜访", entity=f"lead:{lead}")
    assert crm.lead(lead).followup_due == T0 + days(13)


def test_follow_up_permissions_and_state(crm):
    lead = crm.claimed("li")[0]
    assert error_code(crm.as_("wang").leads.follow_up, lead, notes="x") == "permission_denied"
    assert crm.as_("m1", now=days(1)).leads.follow_up(lead, notes="经理回访")["followup_due"] == utc_iso(days(8))
    in_pool = crm.add_leads(1)[0]
    assert error_code(crm.as_("m1").leads.follow_up, in_pool, notes="x") == "conflict"


# --- convert -------------------------------------------------------------------------------------------


def test_convert_creates_a_customer_owned_by_the_holder(crm):
    lead = crm.claimed("li")[0]
    row = crm.lead(lead)
    result = crm.as_("li", now=days(3)).leads.convert(lead)
    assert result["lead"] == lead and result["holder"] == "li" and result["linked_existing"] is False
    customer = Customer.get_by_id(result["customer"])
    assert (customer.name, customer.phone, customer.owner_id) == (row.company, row.phone, crm.uid("li"))
    converted = crm.lead(lead)
    assert (converted.state, converted.customer_id, converted.converted_at) == (
        "converted", customer.id, T0 + days(3))
    assert converted.protected_until is None and converted.followup_due is None
    assert crm.reasons(lead)[-1] == "converted"
    # Nothing recycles or warns about a converted lead.
    assert crm.system(days(100)).leads.sweep() == {"recycled": 0, "warned": 0}


def test_a_manager_converting_gives_the_customer_to_the_holder(crm):
    lead = crm.claimed("wang")[0]
    result = crm.as_("m1").leads.convert(lead)
    assert Customer.get_by_id(result["customer"]).owner_id == crm.uid("wang")


def test_convert_links_an_existing_customer_with_the_same_mobile(crm):
    existing = crm.as_("wang").customers.create(name="宁波老客户", phone="+86 139-0000-0001")
    lead = crm.claimed("li")[0]
    assert crm.lead(lead).phone == "13900000001"
    before = Customer.select().count()
    result = crm.as_("li").leads.convert(lead)
    assert (result["customer"], result["linked_existing"]) == (existing["id"], True)
    assert Customer.select().count() == before
    assert Customer.get_by_id(existing["id"]).owner_id == crm.uid("wang")  # linking changes no owner


def test_convert_links_an_existing_customer_with_the_same_email(crm):
    existing = crm.as_("li").customers.create(name="苏州精密", email="Buyer@Example.cn")
    lead = crm.add_leads(1, email="buyer@example.cn", phone=None)[0]
    crm.as_("li").leads.claim(lead)
    result = crm.as_("li").leads.convert(lead)
    assert (result["customer"], result["linked_existing"]) == (existing["id"], True)


def test_convert_needs_a_held_lead_in_scope(crm):
    in_pool = crm.add_leads(1)[0]
    assert error_code(crm.as_("li").leads.convert, in_pool) == "conflict"
    wangs = crm.claimed("wang")[0]
    assert error_code(crm.as_("li").leads.convert, wangs) == "permission_denied"
    crm.as_("wang").leads.convert(wangs)
    assert error_code(crm.as_("wang").leads.convert, wangs) == "conflict"
    assert len(crm.transitions(wangs, reason="converted")) == 1


def test_the_holder_still_sees_the_lead_they_converted(crm):
    lead = crm.claimed("li")[0]
    crm.as_("li").leads.convert(lead)
    shown = crm.as_("li").leads.show(lead)
    assert (shown["state"], shown["holder"]) == ("converted", "li")
    assert [x["id"] for x in crm.as_("li").leads.list(mine=True, state="converted")] == [lead]
    assert crm.as_("li").leads.history(lead)[-1]["to"] == "li"


# --- history -------------------------------------------------------------------------------------------


def test_history_lists_every_holder_with_reasons(crm):
    lead = crm.add_leads(1)[0]
    crm.as_("li", now=hours(1)).leads.claim(lead)
    crm.as_("li", now=hours(2)).leads.release(lead, reason="打不通")
    crm.as_("wang", now=hours(3)).leads.claim(lead)
    crm.as_("m1", now=hours(4)).leads.transfer(lead, to="li")
    crm.system(hours(4) + days(7)).leads.sweep()
    crm.as_("zhao", now=days(12)).leads.claim(lead)
    crm.as_("d1", now=days(13)).leads.convert(lead)
    history = crm.as_("admin").leads.history(lead)
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        (None, None, "added"),
        (None, "li", "claimed"),
        ("li", None, "released"),
        (None, "wang", "claimed"),
        ("wang", "li", "transferred"),
        ("li", None, "recycled_no_followup"),
        (None, "zhao", "claimed"),
        ("zhao", "zhao", "converted"),
    ]
    assert [h["at"] for h in history] == [utc_iso(x) for x in (
        dt.timedelta(0), hours(1), hours(2), hours(3), hours(4), hours(4) + days(7), days(12), days(13))]
    assert [h["by"] for h in history] == ["admin", "li", "li", "wang", "m1", None, "zhao", "d1"]
    assert history[2]["note"] == "打不通"
    assert [(h["from_state"], h["to_state"]) for h in history][-3:] == [
        ("held", "in_pool"), ("in_pool", "held"), ("held", "converted")]
    # Each move wrote one audit row with the same reason.
    actions = [e.action for e in crm.events(entity=f"lead:{lead}") if e.action.startswith("lead.")]
    assert actions == [f"lead.{h['reason']}" for h in history]


def test_a_lead_added_with_an_owner_is_held_from_the_start(crm):
    lead = crm.add_leads(1, owner="li")[0]
    assert crm.holder(lead) == "li"
    assert crm.reasons(lead) == ["added", "added"]
    assert crm.lead(lead).protected_until == T0 + days(30)


# --- deactivation (Decision 15) -------------------------------------------------------------------------


def test_deactivating_a_rep_returns_their_held_leads_to_the_pool(crm):
    held = crm.claimed("li", 3)
    converted = crm.claimed("li")[0]
    crm.as_("li").leads.convert(converted)
    wangs = crm.claimed("wang")[0]
    crm.as_("admin", now=days(1)).users.deactivate("li")
    for lead in held:
        row = crm.lead(lead)
        assert (row.state, row.holder_id, row.protected_until) == ("in_pool", None, None)
        last = crm.transitions(lead)[-1]
        assert (last.reason, last.from_holder_id, last.at) == ("holder_deactivated", crm.uid("li"), T0 + days(1))
    assert crm.lead(converted).state == "converted"
    assert crm.holder(wangs) == "wang"
    assert crm.as_("wang").leads.claim(held[0])["holder"] == "wang"


def test_deactivating_with_a_handover_gives_the_held_leads_to_the_successor(crm):
    held = crm.claimed("li", 2)
    crm.as_("admin", now=days(2)).users.deactivate("li", handover="wang")
    for lead in held:
        row = crm.lead(lead)
        assert (row.state, row.holder_id, row.held_since) == ("held", crm.uid("wang"), T0 + days(2))
        last = crm.transitions(lead)[-1]
        assert (last.reason, last.from_holder_id, last.to_holder_id) == ("handover", crm.uid("li"), crm.uid("wang"))
    assert [x["id"] for x in crm.as_("wang").leads.list(mine=True)] == held
    assert not User.get_by_id(crm.uid("li")).active
