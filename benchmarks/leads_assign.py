"""Round-robin assignment of a pool's leads to 50 reps: kehu's assign service against hand-written SQL.

Both sides work on the same data (two workspaces seeded alike: 50 reps, ``--rows`` leads in the public pool,
no holding cap) and make the same writes in batches of ``ASSIGN_BATCH`` leads, one transaction each: per rep
one conditional UPDATE of state, holder and deadlines; one history row and one audit row per lead; the saved
cursor (DESIGN Decision 12). The baseline reads the batch, the reps and the cursor and rotates in Python; kehu
also locks, checks scope, counts holdings, routes through the strategy registry and announces each batch.

``--analyze`` gives the planner statistics (``ANALYZE``) after seeding. Without them SQLite answers
``workspace_id = ? AND id IN (...) AND state = ?`` through the (workspace, state, ...) index, reading every lead
in that state instead of looking the ids up: both sides pay for it, in every batch.

    python benchmarks/leads_assign.py --rows 10000
    python benchmarks/leads_assign.py --rows 100000 --db postgres
"""

import argparse
import datetime as dt
import json

from _common import DB_HELP, fresh_app, report, timed

from peewee import fn

from kehu.core.db import database, is_postgres, utcnow
from kehu.core.models import Event, User
from kehu.plugins.leads import assignment, machine
from kehu.plugins.leads.models import HELD, IN_POOL, Lead, LeadTransition, Pool

REPS = 50
SEED_BATCH = 1000


def seed(app, name, rows):
    """Workspace ``name``: a gm, 50 reps, ``rows`` leads waiting in the public pool (which has no cap)."""
    app.create_workspace(name, "admin")
    admin = app.workspace(name, user="admin")
    admin.users.add("boss", "gm")
    for n in range(REPS):
        admin.users.add(f"rep{n:02d}", "rep")
    admin.leads.pool_set("public", max_held=0)
    workspace = admin.workspace
    pool = Pool.get(Pool.workspace == workspace, Pool.name == "public")
    now = utcnow()
    for start in range(0, rows, SEED_BATCH):  # set-up only, not timed: plain inserts
        with database.atomic():
            Lead.insert_many([{"workspace": workspace.id, "name": f"线索{i}", "phone": f"139{i:08d}",
                               "region": "华东", "source": "网络", "pool": pool.id, "state": IN_POOL,
                               "custom": {}, "created_at": now, "updated_at": now}
                              for i in range(start, min(rows, start + SEED_BATCH))]).execute()
    return app.workspace(name, user="boss"), pool


def raw_assign(workspace_id, actor_id, pool):
    """Hand-written round robin: same batches, same UPDATEs, history and audit rows, and the cursor."""
    pg = is_postgres()
    ph = "%s" if pg else "?"

    def stamp(value):
        naive = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return naive if pg else naive.isoformat(sep=" ")

    reps = [uid for (uid,) in database.execute_sql(
        f"SELECT id FROM {q('user')} WHERE workspace_id = {ph} AND active AND role = 'rep' ORDER BY id",
        (workspace_id,)).fetchall()]
    after, last_user = 0, 0
    while True:
        with database.atomic():
            ids = [i for (i,) in database.execute_sql(
                f"SELECT id FROM leads_lead WHERE workspace_id = {ph} AND pool_id = {ph} AND state = 'in_pool' "
                f"AND id > {ph} ORDER BY id LIMIT {assignment.ASSIGN_BATCH}"
                + (" FOR UPDATE SKIP LOCKED" if pg else ""),
                (workspace_id, pool.id, after)).fetchall()]
            if not ids:
                break
            row = database.execute_sql(
                f"SELECT last_user_id FROM leads_cursor WHERE workspace_id = {ph} AND pool_id = {ph} "
                "AND team_key = ''",
                (workspace_id, pool.id)).fetchone()
            last_user = row[0] if row else 0
            start = next((n for n, uid in enumerate(reps) if uid > last_user), 0)
            by_rep = {}
            for n, lead_id in enumerate(ids):
                by_rep.setdefault(reps[(start + n) % len(reps)], []).append(lead_id)
            last_user = reps[(start + len(ids) - 1) % len(reps)]
            now = utcnow()
            protected, followup, protect_warn, followup_warn = machine.deadlines(pool, now)
            for rep, lead_ids in by_rep.items():
                marks = ", ".join([ph] * len(lead_ids))
                database.execute_sql(
                    f"UPDATE leads_lead SET state = 'held', holder_id = {ph}, updated_at = {ph}, "
                    f"held_since = {ph}, protected_until = {ph}, followup_due = {ph}, protect_warn_at = {ph}, "
                    f"followup_warn_at = {ph}, last_followup_at = NULL "
                    f"WHERE workspace_id = {ph} AND id IN ({marks}) AND state = 'in_pool'",
                    (rep, stamp(now), stamp(now), stamp(protected), stamp(followup), stamp(protect_warn),
                     stamp(followup_warn), workspace_id, *lead_ids))
            owner = {lead_id: rep for rep, lead_ids in by_rep.items() for lead_id in lead_ids}
            history = []
            audit = []
            for lead_id in ids:
                history += [workspace_id, lead_id, IN_POOL, HELD, None, owner[lead_id], machine.ASSIGNED, None,
                            actor_id, stamp(now)]
                audit += [workspace_id, actor_id, stamp(now), "lead.assigned", "lead", str(lead_id),
                          json.dumps({"holder": None, "state": IN_POOL}, sort_keys=True),
                          json.dumps({"holder": owner[lead_id], "state": HELD}, sort_keys=True)]
            rows10 = ", ".join([f"({', '.join([ph] * 10)})"] * len(ids))
            database.execute_sql(
                "INSERT INTO leads_transition (workspace_id, lead_id, from_state, to_state, from_holder_id, "
                f"to_holder_id, reason, note, actor_id, at) VALUES {rows10}", history)
            rows8 = ", ".join([f"({', '.join([ph] * 8)})"] * len(ids))
            database.execute_sql(
                "INSERT INTO event (workspace_id, actor_id, at, action, entity_type, entity_id, before, after) "
                f"VALUES {rows8}", audit)
            updated = database.execute_sql(
                f"UPDATE leads_cursor SET last_user_id = {ph} WHERE workspace_id = {ph} AND pool_id = {ph} "
                "AND team_key = ''", (last_user, workspace_id, pool.id)).rowcount
            if not updated:
                database.execute_sql(
                    f"INSERT INTO leads_cursor (workspace_id, pool_id, team_key, last_user_id) VALUES "
                    f"({ph}, {ph}, '', {ph})", (workspace_id, pool.id, last_user))
            after = ids[-1]


def q(name):
    return f'"{name}"'


def kehu_assign(handle):
    return handle.leads.assign(pool="public", strategy="round_robin")


def outcome(workspace, pool):
    """What both sides must agree on: per rep (by login), how many leads; and the history and audit counts."""
    counts = dict(Lead.select(User.login, fn.COUNT(Lead.id)).join(User, on=(Lead.holder == User.id))
                  .where(Lead.workspace == workspace, Lead.pool == pool, Lead.state == HELD)
                  .group_by(User.login).tuples())
    history = LeadTransition.select().where(LeadTransition.workspace == workspace,
                                            LeadTransition.reason == machine.ASSIGNED).count()
    audit = Event.select().where(Event.workspace == workspace, Event.action == "lead.assigned").count()
    return counts, history, audit


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10000, help="leads to assign (default %(default)s)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after seeding")
    return parser.parse_args()


def main():
    args = arguments()
    app = fresh_app(args.db)
    raw, raw_pool = seed(app, "raw", args.rows)
    bench, bench_pool = seed(app, "bench", args.rows)
    if args.analyze:
        database.execute_sql("ANALYZE")
    baseline, _ = timed(raw_assign, raw.workspace.id, raw.user.id, raw_pool)
    measured, results = timed(kehu_assign, bench)
    assert len(results) == args.rows
    same = outcome(raw.workspace, raw_pool) == outcome(bench.workspace, bench_pool)
    assert same, (outcome(raw.workspace, raw_pool), outcome(bench.workspace, bench_pool))
    backend = "PostgreSQL" if is_postgres() else "SQLite"
    label = f"leads assign round_robin, {REPS} reps, {backend}{' (analyzed)' if args.analyze else ''}"
    report(label, args.rows, baseline, measured)
    app.close()


if __name__ == "__main__":
    main()
