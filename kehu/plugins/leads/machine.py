"""The one ownership state machine of leads: every path that changes a lead's state or holder calls :func:`move`.

States: ``in_pool`` → ``held`` → ``converted``; a held lead goes back to ``in_pool`` when released or recycled,
or to another holder when transferred. Every move is a conditional, set-based UPDATE (only rows still in an
expected state move, so two racing workers cannot both win), one history row per lead with its reason code,
one audit row per lead, and one ``kehu_leads_moved`` call per committed batch.
"""

import datetime as dt

import attrs
from peewee import SQL, Cast, NodeList, Value

from kehu.core.db import ListSlot, Prepared, Slot, bulk_insert, database, ids_in, is_postgres, json_object_sql
from kehu.core.models import Customer, Event, User
from kehu.core.services import ownership
from kehu.errors import Invalid
from kehu.plugins.leads.models import CONVERTED, HELD, IN_POOL, Lead, LeadTransition, Pool

# Reason codes of the ownership timeline.
ADDED, IMPORTED, CLAIMED, ASSIGNED, TRANSFERRED = "added", "imported", "claimed", "assigned", "transferred"
RELEASED, RECYCLED_UNCONVERTED, RECYCLED_NO_FOLLOWUP = "released", "recycled_unconverted", "recycled_no_followup"
CONVERTED_REASON, HANDOVER, DEACTIVATED = "converted", "handover", "holder_deactivated"
CUSTOMER_RETURNED = "customer_returned"
RETURNED_BY_PLUGIN = "returned"  # by another plugin's operation, e.g. a call disposition
# Moves after which the previous holder waits out the pool's cooldown before claiming the lead again.
COOLDOWN_REASONS = (RELEASED, RECYCLED_UNCONVERTED, RECYCLED_NO_FOLLOWUP, RETURNED_BY_PLUGIN)

ALLOWED = {
    IN_POOL: {HELD},
    HELD: {HELD, IN_POOL, CONVERTED},
    CONVERTED: set(),
}


@attrs.frozen
class Move:
    """One lead's move, as announced by ``kehu_leads_moved``."""

    lead: int
    from_state: str
    to_state: str
    from_holder: int | None
    to_holder: int | None
    reason: str


def deadlines(pool, start):
    """``(protected_until, followup_due, protect_warn_at, followup_warn_at)`` for a holding starting at ``start``."""
    protected = start + dt.timedelta(days=pool.protect_days) if pool.protect_days else None
    followup = start + dt.timedelta(days=pool.followup_days) if pool.followup_days else None
    return protected, followup, warn_instant(pool, protected), warn_instant(pool, followup)


def warn_instant(pool, deadline):
    if deadline is None or not pool.warn_days:
        return None
    return deadline - dt.timedelta(days=pool.warn_days)


def lock_leads(query, skip_locked=False):
    """Lock the selected lead rows for this transaction (PostgreSQL); SQLite holds its write lock already."""
    if is_postgres():
        return query.for_update("FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE")
    return query


def _require_active_holder(context, holder_id):
    """A lead is only ever given to an active user of the workspace (locked against a concurrent deactivation)."""
    query = User.select(User.id).where(User.id == holder_id, User.workspace == context.workspace, User.active)
    if is_postgres():
        query = query.for_update("FOR SHARE")
    if not query.exists():
        raise Invalid(f"user {holder_id} is not an active user of this workspace")


def move(context, lead_ids, to_state, holder_id, reason, expect_states, note=None, skip_locked=False,
         pools=None, batch_audit=False):
    """Move leads ``lead_ids`` that are in one of ``expect_states`` to ``to_state`` with ``holder_id``.

    Runs in the caller's transaction. Returns the list of :class:`Move` actually made: a lead that another
    worker moved first (or that is locked, with ``skip_locked``) is left out, never moved twice.
    ``pools`` (id → Pool) saves reading pools the caller has already read. ``batch_audit``: one audit row
    listing the ids instead of one per lead (imports, DESIGN decision 10); the history stays per lead.
    """
    if not lead_ids:
        return []
    # Look the ids up by primary key only and check workspace and state here: with `workspace_id = ? AND
    # state IN (...)` in the WHERE, planners pick the (workspace, state) index and scan a whole pool.
    read = _READ_LOCKED if not skip_locked else _READ_SKIP_LOCKED
    rows = [(lead_id, state, holder, pool, customer)
            for lead_id, workspace_id, state, holder, pool, customer in read.rows(ids=lead_ids)
            if workspace_id == context.workspace.id and state in expect_states]
    return move_rows(context, rows, to_state, holder_id, reason, expect_states, note, pools, batch_audit)


def _read_for_move(skip_locked):
    return lock_leads(Lead.select(Lead.id, Lead.workspace, Lead.state, Lead.holder, Lead.pool, Lead.customer)
                      .where(ids_in(Lead.id)), skip_locked)


_READ_LOCKED = Prepared(lambda: _read_for_move(False))
_READ_SKIP_LOCKED = Prepared(lambda: _read_for_move(True))


def move_rows(context, rows, to_state, holder_id, reason, expect_states, note=None, pools=None,
              batch_audit=False):
    """Move the already read and locked lead ``rows`` — ``(id, state, holder, pool_id, customer_id)`` tuples.

    The set-based half of :func:`move`, for callers that select their rows themselves (the sweep selects and
    locks a batch of due leads in one statement; a claim reads its lead with the pool's rules): history and
    audit rows are written by the database with INSERT ... SELECT, and each pool's rows change in one
    conditional UPDATE. The statements are compiled once per process (:class:`~kehu.core.db.Prepared`).
    """
    rows = [row for row in rows
            if to_state in ALLOWED[row[1]] and not (to_state == HELD and row[2] == holder_id)]
    if not rows:
        return []
    if to_state == HELD and not (context.user is not None and holder_id == context.user.id):
        # The acting user was checked active when the handle was opened; anyone else is checked here.
        _require_active_holder(context, holder_id)
    ids = [row[0] for row in rows]
    actor = context.user.id if context.user is not None else None
    # Before the UPDATE: the timeline reads each lead's state and holder as they were.
    history, audit = _TIMELINE[to_state if to_state in (HELD, CONVERTED) else IN_POOL, note is not None]
    values = dict(ids=ids, workspace=context.workspace.id, to_state=to_state, holder=holder_id, reason=reason,
                  note=note, actor=actor, at=context.now, action=f"lead.{reason}")
    history.execute(**values)
    if batch_audit:
        _batch_event(context, reason, ids, {"state": to_state, "holder": holder_id, "note": note})
    else:
        audit.execute(**values)
    now = context.now
    by_pool = {}
    for lead_id, _, _, pool_id, _ in rows:
        by_pool.setdefault(pool_id, []).append(lead_id)
    for pool_id, pool_ids in by_pool.items():
        # Still conditional on the state, against a mover that did not take the row lock.
        if to_state == HELD:
            pool = (pools or {}).get(pool_id) or Pool.get_by_id(pool_id)
            protected, followup, protect_warn, followup_warn = deadlines(pool, now)
            _TAKE.execute(ids=pool_ids, holder=holder_id, now=now, protected=protected, followup=followup,
                          protect_warn=protect_warn, followup_warn=followup_warn, expect=list(expect_states))
        elif to_state == CONVERTED:
            _CONVERT.execute(ids=pool_ids, now=now, expect=list(expect_states))
        else:
            _RETURN.execute(ids=pool_ids, to_state=to_state, now=now, expect=list(expect_states))
    moves = [Move(lead_id, state, to_state, holder,
                  holder_id if to_state == HELD else holder if to_state == CONVERTED else None, reason)
             for lead_id, state, holder, _, _ in rows]
    context.after_commit(lambda: context.hooks.kehu_leads_moved(context=context, moves=moves))
    customers = [customer for _, _, _, _, customer in rows if customer is not None]
    if customers and to_state != CONVERTED:
        # A customer returned to a pool is owned by whoever holds its lead, and by nobody while it waits;
        # its owner changes through core's owner service (one writer per column, DESIGN decision 6).
        ownership.write_owner(context, Customer, "customer", customers, holder_id if to_state == HELD else None,
                              f"lead_{reason}")
    return moves


def _moving(query):
    return query.where(ids_in(Lead.id), NodeList((Lead.state, ListSlot("expect"))))


_CLEARED = {Lead.held_since: None, Lead.protected_until: None, Lead.followup_due: None,
            Lead.protect_warn_at: None, Lead.followup_warn_at: None}
_TAKE = Prepared(lambda: _moving(Lead.update({
    Lead.state: HELD, Lead.holder: Slot("holder"), Lead.updated_at: Slot("now", Lead.updated_at),
    Lead.held_since: Slot("now", Lead.held_since), Lead.protected_until: Slot("protected", Lead.protected_until),
    Lead.followup_due: Slot("followup", Lead.followup_due),
    Lead.protect_warn_at: Slot("protect_warn", Lead.protect_warn_at),
    Lead.followup_warn_at: Slot("followup_warn", Lead.followup_warn_at), Lead.last_followup_at: None})))
# A converted lead stays with (and visible to) the rep who converted it.
_CONVERT = Prepared(lambda: _moving(Lead.update({
    Lead.state: CONVERTED, Lead.updated_at: Slot("now", Lead.updated_at),
    Lead.converted_at: Slot("now", Lead.converted_at), **_CLEARED})))
_RETURN = Prepared(lambda: _moving(Lead.update({
    Lead.state: Slot("to_state"), Lead.holder: None, Lead.updated_at: Slot("now", Lead.updated_at), **_CLEARED})))


def _timeline(to_state, with_note):
    """INSERT ... SELECT statements writing one history row and one audit row per lead."""
    if to_state == HELD:
        to_holder = Slot("holder")
    elif to_state == CONVERTED:
        to_holder = Lead.holder
    else:
        to_holder = SQL("NULL")
    history = Prepared(lambda: LeadTransition.insert_from(
        Lead.select(Lead.workspace, Lead.id, Lead.state, Slot("to_state"), Lead.holder, to_holder, Slot("reason"),
                    Slot("note"), Slot("actor"), Slot("at", LeadTransition.at)).where(ids_in(Lead.id)),
        [LeadTransition.workspace, LeadTransition.lead, LeadTransition.from_state, LeadTransition.to_state,
         LeadTransition.from_holder, LeadTransition.to_holder, LeadTransition.reason, LeadTransition.note,
         LeadTransition.actor, LeadTransition.at]).as_rowcount())
    after = [("holder", to_holder), ("state", Slot("to_state"))] + ([("note", Slot("note"))] if with_note else [])
    audit = Prepared(lambda: Event.insert_from(
        Lead.select(Lead.workspace, Slot("actor"), Slot("at", Event.at), Slot("action"), Value("lead"),
                    Cast(Lead.id, "TEXT"), json_object_sql(("holder", Lead.holder), ("state", Lead.state)),
                    json_object_sql(*after)).where(ids_in(Lead.id)),
        [Event.workspace, Event.actor, Event.at, Event.action, Event.entity_type, Event.entity_id, Event.before,
         Event.after]).as_rowcount())
    return history, audit


_TIMELINE = {(state, with_note): _timeline(state, with_note)
             for state in (HELD, CONVERTED, IN_POOL) for with_note in (False, True)}


def record(context, moves, note=None, batch_audit=False):
    """Write the history and audit rows of ``moves`` built in Python (new leads: added, imported) and announce
    them after commit (one hook call). ``batch_audit``: one audit row listing the ids (see :func:`move`)."""
    if not moves:
        return
    actor = context.user.id if context.user is not None else None
    ws = context.workspace.id
    # bulk_insert chunks under SQLite's bound-parameter limit and builds each statement once (fast paths).
    bulk_insert(LeadTransition, [
        {"workspace": ws, "lead": m.lead, "from_state": m.from_state, "to_state": m.to_state,
         "from_holder": m.from_holder, "to_holder": m.to_holder, "reason": m.reason, "note": note,
         "actor": actor, "at": context.now}
        for m in moves
    ], returning=False)
    if batch_audit:
        for reason in sorted({m.reason for m in moves}):
            _batch_event(context, reason, [m.lead for m in moves if m.reason == reason],
                         {"state": moves[0].to_state, "holder": moves[0].to_holder, "note": note})
    else:
        bulk_insert(Event, [
            {"workspace": ws, "actor": actor, "at": context.now, "action": f"lead.{m.reason}",
             "entity_type": "lead", "entity_id": str(m.lead), "before": {"state": m.from_state,
                                                                         "holder": m.from_holder},
             "after": {"state": m.to_state, "holder": m.to_holder, **({"note": note} if note else {})}}
            for m in moves
        ], returning=False)
    context.after_commit(lambda: context.hooks.kehu_leads_moved(context=context, moves=moves))


def _batch_event(context, reason, ids, after):
    """One audit row for a whole batch of leads (``entity_id`` empty, the ids listed in ``after``)."""
    bulk_insert(Event, [{
        "workspace": context.workspace.id, "actor": context.user.id if context.user is not None else None,
        "at": context.now, "action": f"lead.{reason}", "entity_type": "lead", "entity_id": None, "before": None,
        "after": {"ids": ids, "count": len(ids), **{k: v for k, v in after.items() if v is not None}}}],
        returning=False)


def in_transaction():
    return database.in_transaction()
