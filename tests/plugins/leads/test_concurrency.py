"""Claims and sweeps from several real processes at once, on SQLite and PostgreSQL (DESIGN rule 10).

Ten processes (multiprocessing ``spawn``; each opens its own ``kehu.connect(url)``) wait on one start event, then
claim random in-pool leads of one pool as eight reps — three of the processes act as the *same* rep, racing its
caps. Each process converts about half of what it claims (converted leads leave ``max_held``'s count, so reps
run into both caps) and stops at the daily cap. Afterwards the history, the audit trail and the final state
must agree exactly: no lead was claimed twice or has a holder other than its claimer, no rep went over
``max_held`` at any moment or over ``daily_claims``, and every refused claim has one of the expected codes
(never a database error or a deadlock).
"""

import collections
import multiprocessing
import queue
import random
import time

import pytest

import kehu
from kehu.core.models import Customer, Event, User
from kehu.plugins.leads.models import Lead, LeadTransition

from .conftest import EAST_1, T0, days

LEADS = 60
MAX_HELD = 5
DAILY_CLAIMS = 7
EXTRA_REPS = ("r5", "r6", "r7", "r8")
REPS = ("li", "wang", "zhao", "sun") + EXTRA_REPS
# Eight reps, one process each, plus two more processes acting as li.
PROCESSES = REPS + ("li", "li")
EXPECTED_CODES = {"already_held", "claim_limit_held", "claim_limit_daily"}
BUDGET = 20.0  # seconds of claiming at most per process
START_TIMEOUT = 60.0


def claim_worker(url, login, seed, ready, start, results):
    """Claim random in-pool leads as ``login`` until the daily cap (or the time budget) stops it."""
    outcome = {"login": login, "claimed": [], "converted": [], "codes": collections.Counter(), "unexpected": []}
    app = None
    try:
        app = kehu.connect(url)
        handle = app.workspace("acme", user=login, now=T0)
        rng = random.Random(seed)
        ready.put(login)
        if not start.wait(START_TIMEOUT):
            raise RuntimeError("the start signal never came")
        deadline = time.monotonic() + BUDGET
        candidates, mine, waits = [], [], 0
        while time.monotonic() < deadline:
            if not candidates:
                candidates = [lead["id"] for lead in handle.leads.list(state="in_pool", limit=0)]
                rng.shuffle(candidates)
                if not candidates:
                    break
            lead = candidates.pop()
            try:
                handle.leads.claim(lead)
            except kehu.KehuError as exc:
                outcome["codes"][exc.code] += 1
                if exc.code == "claim_limit_daily":
                    break
                if exc.code == "claim_limit_held":
                    if mine:
                        converted = mine.pop()
                        handle.leads.convert(converted)
                        outcome["converted"].append(converted)
                    else:  # another process of the same rep holds the leads; wait for it to convert
                        waits += 1
                        if waits > 100:
                            break
                        time.sleep(0.02)
                continue
            outcome["codes"]["ok"] += 1
            outcome["claimed"].append(lead)
            mine.append(lead)
            if rng.random() < 0.5:
                converted = mine.pop(rng.randrange(len(mine)))
                handle.leads.convert(converted)
                outcome["converted"].append(converted)
    except BaseException as exc:  # anything else is a failure the parent reports
        outcome["unexpected"].append(f"{type(exc).__name__}: {exc}")
    finally:
        if app is not None:
            app.close()
        results.put(outcome)


def sweep_worker(url, batch, ready, start, results):
    """Run the sweep once, in batches of ``batch``, at day 7 (every held lead is past its follow-up)."""
    outcome = {"result": None, "unexpected": []}
    app = None
    try:
        from kehu.plugins.leads import services

        services.SWEEP_BATCH = batch
        app = kehu.connect(url)
        handle = app.workspace("acme", now=T0 + days(7))
        ready.put("sweeper")
        if not start.wait(START_TIMEOUT):
            raise RuntimeError("the start signal never came")
        outcome["result"] = handle.leads.sweep()
    except BaseException as exc:
        outcome["unexpected"].append(f"{type(exc).__name__}: {exc}")
    finally:
        if app is not None:
            app.close()
        results.put(outcome)


def run_together(target, argument_lists):
    """Start one spawned process per argument tuple, release them together, return their outcomes."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    processes = [ctx.Process(target=target, args=(*args, ready, start, results), daemon=True)
                 for args in argument_lists]
    for process in processes:
        process.start()
    try:
        outcomes, arrived = [], 0
        give_up = time.monotonic() + START_TIMEOUT
        while arrived < len(processes):
            # A worker that fails before it is ready reports its outcome instead of "ready".
            assert time.monotonic() < give_up, "the workers did not get ready in time"
            try:
                ready.get(timeout=0.2)
                arrived += 1
            except queue.Empty:
                pass
            while not results.empty():
                outcomes.append(results.get())
                arrived += 1
        start.set()
        while len(outcomes) < len(processes):
            outcomes.append(results.get(timeout=BUDGET + START_TIMEOUT))
        for process in processes:
            process.join(timeout=30)
        assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
        return outcomes
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()


@pytest.fixture
def racing_pool(crm):
    """acme's public pool with max_held 5 and daily_claims 7, 60 leads in it and eight reps."""
    admin = crm.admin()
    for login in EXTRA_REPS:
        admin.users.add(login, "rep", unit=EAST_1)
    crm.set_pool(max_held=MAX_HELD, daily_claims=DAILY_CLAIMS)
    return crm.add_leads(LEADS)


def test_racing_claims_never_double_hold_or_break_a_cap(crm, racing_pool):
    began = time.monotonic()
    ws = crm.workspace_row()
    outcomes = run_together(claim_worker, [(crm.app.url, login, seed) for seed, login in enumerate(PROCESSES)])
    assert time.monotonic() - began < 60
    assert [o["unexpected"] for o in outcomes if o["unexpected"]] == []
    codes = collections.Counter()
    for outcome in outcomes:
        codes.update(outcome["codes"])
    assert set(codes) - {"ok"} <= EXPECTED_CODES, codes
    assert codes["ok"] > 0 and codes["claim_limit_daily"] > 0, codes
    assert codes["already_held"] + codes["claim_limit_held"] > 0, codes  # the race really happened

    uid = {u.login: u.id for u in User.select().where(User.workspace == ws)}
    login_of = {v: k for k, v in uid.items()}
    claims = list(LeadTransition.select().where(LeadTransition.workspace == ws, LeadTransition.reason == "claimed")
                  .order_by(LeadTransition.id))
    # What the workers were told matches the history exactly: every success is one claimed transition.
    reported = sorted((lead, o["login"]) for o in outcomes for lead in o["claimed"])
    assert sorted((t.lead_id, login_of[t.to_holder_id]) for t in claims) == reported

    # No lead was claimed twice, and each claimed lead is held (or was converted) by exactly its claimer.
    per_lead = collections.Counter(t.lead_id for t in claims)
    assert max(per_lead.values()) == 1
    leads = {lead.id: lead for lead in Lead.select().where(Lead.workspace == ws)}
    for t in claims:
        lead = leads[t.lead_id]
        assert lead.state in ("held", "converted") and lead.holder_id == t.to_holder_id, (t.lead_id, lead.state)
    untouched = set(racing_pool) - set(per_lead)
    assert all(leads[i].state == "in_pool" and leads[i].holder_id is None for i in untouched)
    converted = [i for i, lead in leads.items() if lead.state == "converted"]
    assert sorted(converted) == sorted(i for o in outcomes for i in o["converted"])
    assert Customer.select().where(Customer.workspace == ws).count() == len(converted)

    # No rep over the daily cap, nor ever over max_held (replaying their own history in order).
    per_rep = collections.Counter(login_of[t.to_holder_id] for t in claims)
    assert max(per_rep.values()) <= DAILY_CLAIMS, per_rep
    assert per_rep["li"] == DAILY_CLAIMS  # three processes raced li's caps and stopped exactly at it
    moves = LeadTransition.select().where(LeadTransition.workspace == ws,
                                          LeadTransition.reason.in_(["claimed", "converted"])) \
        .order_by(LeadTransition.id)
    held, peak = collections.Counter(), collections.Counter()
    for t in moves:
        rep = t.to_holder_id
        held[rep] += 1 if t.reason == "claimed" else -1
        peak[rep] = max(peak[rep], held[rep])
    assert max(peak.values()) <= MAX_HELD, {login_of[k]: v for k, v in peak.items()}
    for rep, count in held.items():
        assert count == sum(1 for lead in leads.values() if lead.holder_id == rep and lead.state == "held")

    # The audit trail matches the final state exactly: one lead.claimed row per claim, by the claimer.
    events = list(Event.select().where(Event.workspace == ws, Event.action == "lead.claimed"))
    assert sorted((int(e.entity_id), e.actor_id) for e in events) == sorted((t.lead_id, t.to_holder_id)
                                                                           for t in claims)
    assert all(e.after == {"state": "held", "holder": e.actor_id} for e in events)
    converted_events = Event.select().where(Event.workspace == ws, Event.action == "lead.converted").count()
    assert converted_events == len(converted)
    holding = sorted((i, lead.holder_id) for i, lead in leads.items() if lead.holder_id is not None)
    assert holding == sorted((int(e.entity_id), e.actor_id) for e in events)


def test_sweeps_running_at_once_recycle_each_lead_once(crm):
    crm.set_pool(max_held=0, daily_claims=0, warn_days=0)
    leads = crm.claimed("li", 150) + crm.claimed("wang", 150)
    outcomes = run_together(sweep_worker, [(crm.app.url, 20)] * 4)
    assert [o["unexpected"] for o in outcomes if o["unexpected"]] == []
    assert sum(o["result"]["recycled"] for o in outcomes) == len(leads)
    ws = crm.workspace_row()
    recycled = collections.Counter(t.lead_id for t in LeadTransition.select().where(
        LeadTransition.workspace == ws, LeadTransition.reason == "recycled_no_followup"))
    assert sorted(recycled) == sorted(leads) and set(recycled.values()) == {1}
    assert Lead.select().where(Lead.workspace == ws, Lead.state == "held").count() == 0
    assert Event.select().where(Event.workspace == ws, Event.action == "lead.recycled_no_followup").count() == 300
    # Running it again finds nothing.
    assert crm.system(days(7)).leads.sweep() == {"recycled": 0, "warned": 0}
