"""The sweep: recycling at exact deadlines, warnings sent once (and re-armed), idempotence, batches, the hook,
and ``kehu tick``.

Deadlines are exact instants (start + N x 24 h), due when now >= deadline (DESIGN Decision 7).
"""

import pytest

import kehu
from kehu.core.db import database
from kehu.plugins.leads import services

from .conftest import T0, days, hours, seconds


class Spy:
    """Records every ``kehu_leads_moved`` call: the moves and whether a transaction was still open."""

    def __init__(self):
        self.calls = []

    @kehu.hookimpl
    def kehu_leads_moved(self, context, moves):
        self.calls.append((list(moves), database.in_transaction()))


@pytest.fixture
def spied(crm, connect_with):
    """``(app, spy)``: an app with the spy plugin, enabled in acme only (as admin)."""
    spy = Spy()
    app = connect_with(plugins=[("spy", spy)])
    app.workspace("acme", user="admin").plugins.enable("spy")
    return app, spy


def sweep(crm, at):
    return crm.system(at).leads.sweep()


# --- recycling at the deadlines ------------------------------------------------------------------------


def test_protection_ends_exactly_30_days_after_the_claim(crm):
    crm.set_pool(followup_days=0)
    lead = crm.claimed("li")[0]
    assert sweep(crm, days(29)) == {"recycled": 0, "warned": 1}  # the protection warning (2 days ahead)
    assert sweep(crm, days(30) - seconds(1)) == {"recycled": 0, "warned": 0}
    assert crm.holder(lead) == "li"
    assert sweep(crm, days(30)) == {"recycled": 1, "warned": 0}
    row = crm.lead(lead)
    assert (row.state, row.holder_id, row.held_since, row.protected_until) == ("in_pool", None, None, None)
    last = crm.transitions(lead)[-1]
    assert (last.reason, last.from_holder_id, last.to_holder_id, last.actor_id, last.at) == (
        "recycled_unconverted", crm.uid("li"), None, None, T0 + days(30))


def test_no_follow_up_for_7_days_recycles_but_6_days_does_not(crm):
    crm.set_pool(protect_days=0, warn_days=0)
    lead = crm.claimed("li")[0]
    assert sweep(crm, days(6)) == {"recycled": 0, "warned": 0}
    assert sweep(crm, days(7) - seconds(1)) == {"recycled": 0, "warned": 0}
    assert crm.holder(lead) == "li"
    assert sweep(crm, days(7)) == {"recycled": 1, "warned": 0}
    assert crm.reasons(lead)[-1] == "recycled_no_followup"
    assert crm.lead(lead).state == "in_pool"


def test_a_follow_up_moves_the_follow_up_deadline(crm):
    crm.set_pool(protect_days=0, warn_days=0)
    lead = crm.claimed("li")[0]
    crm.as_("li", now=days(6)).leads.follow_up(lead, notes="回访，客户在比价")
    assert sweep(crm, days(7)) == {"recycled": 0, "warned": 0}
    assert sweep(crm, days(13) - seconds(1))["recycled"] == 0
    assert sweep(crm, days(13))["recycled"] == 1


def test_follow_ups_do_not_extend_protection(crm):
    crm.set_pool(warn_days=0)
    lead = crm.claimed("li")[0]
    for day in range(5, 30, 5):
        crm.as_("li", now=days(day)).leads.follow_up(lead, notes=f"第{day}天回访")
    assert sweep(crm, days(30) - seconds(1))["recycled"] == 0
    assert sweep(crm, days(30))["recycled"] == 1
    assert crm.reasons(lead)[-1] == "recycled_unconverted"


def test_a_lead_past_both_deadlines_is_recycled_once(crm):
    crm.set_pool(protect_days=7, followup_days=7)
    lead = crm.claimed("li")[0]
    assert sweep(crm, days(40)) == {"recycled": 1, "warned": 0}
    assert crm.reasons(lead) == ["added", "claimed", "recycled_unconverted"]


def test_the_holder_is_told_what_was_recycled(crm):
    crm.set_pool(warn_days=0)
    li = crm.claimed("li", 2)
    wang = crm.claimed("wang", 1)
    sweep(crm, days(7))
    [notice] = crm.inbox("li", "lead_recycled")
    assert "2 lead(s)" in notice["message"] and all(str(i) in notice["message"] for i in li)
    assert "no follow-up" in notice["message"]
    [notice] = crm.inbox("wang", "lead_recycled")
    assert str(wang[0]) in notice["message"]


def test_the_sweep_leaves_pool_converted_and_fresh_leads_alone(crm):
    in_pool = crm.add_leads(1)[0]
    converted = crm.claimed("li")[0]
    crm.as_("li").leads.convert(converted)
    fresh = crm.claimed("wang", now=days(5))[0]
    due = crm.claimed("zhao")[0]
    assert sweep(crm, days(7))["recycled"] == 1
    assert crm.lead(due).state == "in_pool"
    assert (crm.lead(in_pool).state, crm.lead(converted).state, crm.holder(fresh)) == (
        "in_pool", "converted", "wang")
    assert crm.reasons(in_pool) == ["added"]


def test_each_pool_keeps_its_own_clock(crm):
    crm.set_pool("east", followup_days=3, warn_days=0)
    crm.set_pool(warn_days=0)
    east = crm.claimed("li", pool="east")[0]
    public = crm.claimed("li")[0]
    assert sweep(crm, days(3))["recycled"] == 1
    assert (crm.lead(east).state, crm.holder(public)) == ("in_pool", "li")


def test_the_sweep_stays_in_its_workspace(crm):
    crm.claimed("li")
    olga = crm.as_("root", workspace="other")
    outcome = olga.leads.add_many([{"name": "外部线索", "phone": "13700000001", "owner": "olga"}])
    other_lead = outcome["created"][0]["id"]
    assert sweep(crm, days(7))["recycled"] == 1
    assert crm.lead(other_lead).state == "held"


# --- warnings ------------------------------------------------------------------------------------------


def test_a_warning_is_sent_once_and_a_follow_up_re_arms_it(crm):
    crm.set_pool(protect_days=0)  # follow-up every 7 days, warned 2 days ahead
    lead = crm.claimed("li")[0]
    assert sweep(crm, days(5) - seconds(1)) == {"recycled": 0, "warned": 0}
    assert crm.inbox("li") == []
    assert sweep(crm, days(5)) == {"recycled": 0, "warned": 1}
    assert sweep(crm, days(5) + hours(1)) == {"recycled": 0, "warned": 0}
    assert sweep(crm, days(6)) == {"recycled": 0, "warned": 0}
    [warning] = crm.inbox("li")
    assert warning["kind"] == "lead_deadline" and warning["entity"] == f"lead:{lead}"
    assert "follow it up" in warning["message"] and "2025-03-10 10:00" in warning["message"]  # local time
    # The follow-up moves the deadline to day 13 and re-arms its warning for day 11.
    crm.as_("li", now=days(6)).leads.follow_up(lead, notes="电话回访")
    assert sweep(crm, days(11) - seconds(1)) == {"recycled": 0, "warned": 0}
    assert sweep(crm, days(11)) == {"recycled": 0, "warned": 1}
    assert sweep(crm, days(12)) == {"recycled": 0, "warned": 0}
    warnings = crm.inbox("li", "lead_deadline")
    assert len(warnings) == 2 and "2025-03-16 10:00" in warnings[0]["message"]
    assert sweep(crm, days(13)) == {"recycled": 1, "warned": 0}


def test_the_protection_warning_comes_two_days_ahead_once(crm):
    crm.set_pool(followup_days=0)
    crm.claimed("li")
    assert sweep(crm, days(28) - seconds(1))["warned"] == 0
    assert sweep(crm, days(28))["warned"] == 1
    assert sweep(crm, days(29))["warned"] == 0
    [warning] = crm.inbox("li", "lead_deadline")
    assert "convert it" in warning["message"] and "2025-04-02 10:00" in warning["message"]


def test_a_follow_up_does_not_re_arm_the_protection_warning(crm):
    crm.set_pool(followup_days=30)
    lead = crm.claimed("li")[0]
    assert sweep(crm, days(28))["warned"] == 2  # one per deadline
    crm.as_("li", now=days(28) + hours(1)).leads.follow_up(lead, notes="再联系")
    assert sweep(crm, days(29))["warned"] == 0
    assert len(crm.inbox("li", "lead_deadline")) == 2


def test_a_sweep_that_finds_both_deadlines_passed_recycles_without_warning(crm):
    crm.claimed("li")
    assert sweep(crm, days(8)) == {"recycled": 1, "warned": 0}
    assert crm.inbox("li", "lead_deadline") == []


def test_warn_days_zero_sends_no_warnings(crm):
    crm.set_pool(warn_days=0)
    crm.claimed("li")
    assert sweep(crm, days(6)) == {"recycled": 0, "warned": 0}
    assert crm.inbox("li") == []


def test_a_warning_goes_to_the_current_holder_after_a_transfer(crm):
    crm.set_pool(protect_days=0)
    lead = crm.claimed("li")[0]
    crm.as_("m1", now=days(1)).leads.transfer(lead, to="wang")
    assert sweep(crm, days(5))["warned"] == 0  # wang's clock started on day 1
    assert sweep(crm, days(6))["warned"] == 1
    assert crm.inbox("li") == [] and len(crm.inbox("wang", "lead_deadline")) == 1


# --- idempotence, batches, the hook ---------------------------------------------------------------------


def test_the_sweep_is_idempotent(crm):
    crm.set_pool(warn_days=1)
    due = crm.claimed("li", 3)
    warned = crm.claimed("wang", 2, now=days(1))
    assert sweep(crm, days(7)) == {"recycled": 3, "warned": 2}
    counts = (len(crm.transitions()), len(crm.events()), len(crm.notifications()))
    assert sweep(crm, days(7)) == {"recycled": 0, "warned": 0}
    assert sweep(crm, days(7) + seconds(1)) == {"recycled": 0, "warned": 0}
    assert (len(crm.transitions()), len(crm.events()), len(crm.notifications())) == counts
    assert all(len(crm.transitions(lead, reason="recycled_no_followup")) == 1 for lead in due)
    assert all(crm.holder(lead) == "wang" for lead in warned)


def test_the_sweep_writes_one_audit_row_per_recycled_lead(crm):
    leads = crm.claimed("li", 3)
    sweep(crm, days(7))
    events = crm.events("lead.recycled_no_followup")
    assert sorted(int(e.entity_id) for e in events) == leads
    assert all(e.actor_id is None and e.before == {"state": "held", "holder": crm.uid("li")}
               and e.after == {"state": "in_pool", "holder": None} for e in events)


def test_moves_are_announced_once_per_batch_after_commit(spied, crm, monkeypatch):
    app, spy = spied
    monkeypatch.setattr(services, "SWEEP_BATCH", 2)
    crm.set_pool(warn_days=0)
    leads = crm.claimed("li", 5)
    spy.calls.clear()
    assert app.workspace("acme", now=T0 + days(7)).leads.sweep() == {"recycled": 5, "warned": 0}
    assert [len(moves) for moves, _ in spy.calls] == [2, 2, 1]
    assert not any(open_ for _, open_ in spy.calls)
    moves = [m for batch, _ in spy.calls for m in batch]
    assert sorted(m.lead for m in moves) == leads
    assert {(m.from_state, m.to_state, m.from_holder, m.to_holder, m.reason) for m in moves} == {
        ("held", "in_pool", crm.uid("li"), None, "recycled_no_followup")}
    spy.calls.clear()
    assert app.workspace("acme", now=T0 + days(7)).leads.sweep() == {"recycled": 0, "warned": 0}
    assert spy.calls == []


def test_a_default_size_sweep_announces_its_batch_in_one_call(spied, crm):
    app, spy = spied
    crm.set_pool(warn_days=0, max_held=0, daily_claims=0)
    leads = crm.claimed("li", 30)
    spy.calls.clear()
    app.workspace("acme", now=T0 + days(7)).leads.sweep()
    assert len(spy.calls) == 1 and sorted(m.lead for m in spy.calls[0][0]) == leads


def test_claims_and_releases_are_announced_too(spied, crm):
    app, spy = spied
    lead = crm.add_leads(1)[0]
    spy.calls.clear()
    app.workspace("acme", user="li", now=T0).leads.claim(lead)
    app.workspace("acme", user="li", now=T0).leads.release(lead)
    assert [(m.reason, m.lead) for moves, _ in spy.calls for m in moves] == [("claimed", lead), ("released", lead)]


# --- kehu tick --------------------------------------------------------------------------------------------


def test_tick_runs_the_sweep_in_every_workspace(crm):
    crm.set_pool(warn_days=0)
    lead = crm.claimed("li")[0]
    other = crm.as_("root", workspace="other").leads.add_many(
        [{"name": "外部线索", "phone": "13700000001", "owner": "olga"}])["created"][0]["id"]
    results = {r["workspace"]: r["jobs"] for r in crm.app.tick(now=T0 + days(7) - seconds(1))}
    assert next(j for j in results["acme"] if j["job"] == "leads.sweep")["result"] == {"recycled": 0, "warned": 0}
    results = {r["workspace"]: r["jobs"] for r in crm.app.tick(now=T0 + days(7))}
    for name in ("acme", "other"):
        job = next(j for j in results[name] if j["job"] == "leads.sweep")
        assert job["ran"] and job["result"]["recycled"] == 1, job
    assert crm.lead(lead).state == "in_pool" and crm.lead(other).state == "in_pool"
    results = {r["workspace"]: r["jobs"] for r in crm.app.tick(now=T0 + days(7))}
    assert next(j for j in results["acme"] if j["job"] == "leads.sweep")["result"] == {"recycled": 0, "warned": 0}


def test_tick_skips_the_sweep_where_leads_is_disabled(crm):
    crm.set_pool(warn_days=0)
    lead = crm.claimed("li")[0]
    crm.admin().plugins.disable("leads")
    results = {r["workspace"]: r["jobs"] for r in crm.app.tick(now=T0 + days(7))}
    assert all(j["job"] != "leads.sweep" for j in results["acme"])
    assert crm.holder(lead) == "li"
    crm.admin().plugins.enable("leads")
    crm.app.tick(now=T0 + days(7))
    assert crm.lead(lead).state == "in_pool"


# --- portability ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kehu_backend", ["sqlite"], indirect=True)
def test_a_full_batch_fits_in_a_stock_sqlite_build(crm, kehu_app):
    """Stock SQLite (3.32+) binds at most 32766 variables a statement (Debian builds allow more): a full batch
    of moves (up to 5000 leads, ten values each) must not pass that."""
    import sqlite3

    kehu_app.db.connection().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)
    crm.set_pool(warn_days=0, max_held=0, daily_claims=0)
    for _ in range(7):
        crm.add_leads(500, owner="li")
    assert sweep(crm, days(7)) == {"recycled": 3500, "warned": 0}
    assert len(crm.transitions(reason="recycled_no_followup")) == 3500
