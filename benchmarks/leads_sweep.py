"""The leads sweep: kehu's ``leads sweep`` against hand-written SQL making the same writes (DESIGN Decision 12).

Each of two workspaces gets ``--rows`` held leads spread over ``--reps`` reps; every other lead is past its
protection deadline. kehu recycles them with its sweep (batches of 5000, each its own transaction: a
conditional UPDATE, one history and one audit row per lead, one notice per holder). The baseline makes the
same writes set-based in one transaction: INSERT ... SELECT of the history rows, INSERT ... SELECT of the audit
rows, INSERT ... SELECT of one notice per holder, and one UPDATE of state, holder and deadlines.

    python benchmarks/leads_sweep.py --rows 100000
    python benchmarks/leads_sweep.py --rows 1000000 --db postgres
    python benchmarks/leads_sweep.py --rows 100000 --profile     # where kehu's time goes
"""

import argparse
import contextlib
import cProfile
import datetime as dt
import pstats
import time

from _common import DB_HELP, fresh_app, report, timed

from kehu.core.db import database, is_postgres
from kehu.core.models import User
from kehu.plugins.leads.models import Pool

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
HELD_SINCE = "2025-05-01 11:00:00"
PAST = "2025-06-01 11:00:00"  # an hour ago: due
FUTURE = "2025-06-11 12:00:00"  # in ten days: not due
WARN_FUTURE = "2025-06-09 12:00:00"
FAR = "2025-07-01 12:00:00"  # the follow-up deadline of every lead: not due


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="held leads per side (default %(default)s)")
    parser.add_argument("--reps", type=int, default=50, help="reps holding them (default %(default)s)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--profile", action="store_true", help="profile kehu's sweep (cProfile, top 25)")
    return parser.parse_args()


def ts(text):
    """A timestamp literal: text on SQLite (how peewee stores it there), a cast on PostgreSQL."""
    return f"CAST('{text}' AS TIMESTAMP)" if is_postgres() else f"'{text}'"


def series(rows):
    """``(cte, table)``: a row source of ``i`` = 1..rows in this dialect."""
    if is_postgres():
        return "", f"generate_series(1, {rows}) AS seq(i)"
    return f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows}) ", "seq"


def setup(app, name, rows, reps):
    """Workspace ``name`` with ``reps`` reps holding ``rows`` leads of its public pool, every other one due."""
    app.create_workspace(name, "admin", now=NOW)
    admin = app.workspace(name, user="admin", now=NOW)
    for r in range(reps):
        admin.users.add(f"rep{r}", "rep")
    context = admin.context
    ids = [u.id for u in User.select(User.id).where(User.workspace == context.workspace, User.role == "rep")
           .order_by(User.id)]
    assert ids == list(range(ids[0], ids[0] + reps)), "rep ids must be consecutive"
    pool_id = Pool.get(Pool.workspace == context.workspace, Pool.name == "public").id
    cte, source = series(rows)
    false, mod = "FALSE", "%%" if is_postgres() else "%"  # psycopg2 reads a lone % as a placeholder
    with database.atomic():
        database.execute_sql(
            f"{cte}INSERT INTO leads_lead (workspace_id, name, company, phone, region, source, custom, pool_id, "
            "state, holder_id, phone_key, phone_mobile, held_since, protected_until, followup_due, "
            "protect_warn_at, followup_warn_at, created_at, updated_at) "
            f"SELECT {context.workspace.id}, 'lead ' || i, 'company ' || i, '139' || i, '浙江', '公司资源', '{{}}', "
            f"{pool_id}, 'held', {ids[0]} + i {mod} {reps}, '+86139' || i, {false}, {ts(HELD_SINCE)}, "
            f"CASE WHEN i {mod} 2 = 0 THEN {ts(PAST)} ELSE {ts(FUTURE)} END, {ts(FAR)}, "
            f"CASE WHEN i {mod} 2 = 0 THEN NULL ELSE {ts(WARN_FUTURE)} END, NULL, {ts(HELD_SINCE)}, {ts(HELD_SINCE)} "
            f"FROM {source}")
    if is_postgres():
        database.execute_sql("ANALYZE leads_lead")
    else:
        database.execute_sql("ANALYZE")
    return context.workspace.id


def raw_sweep(workspace_id):
    """The same writes as kehu's sweep, set-based: history, audit, notices, then one UPDATE."""
    now = ts(NOW.replace(tzinfo=None).isoformat(sep=" "))
    due = (f"workspace_id = {workspace_id} AND state = 'held' AND protected_until IS NOT NULL "
           f"AND protected_until <= {now}")
    holder_text = "CAST(holder_id AS TEXT)"
    with database.atomic():
        database.execute_sql(
            "INSERT INTO leads_transition (workspace_id, lead_id, from_state, to_state, from_holder_id, "
            "to_holder_id, reason, note, actor_id, at) "
            f"SELECT workspace_id, id, 'held', 'in_pool', holder_id, NULL, 'recycled_unconverted', NULL, NULL, {now} "
            f"FROM leads_lead WHERE {due}")
        database.execute_sql(
            "INSERT INTO event (workspace_id, actor_id, at, action, entity_type, entity_id, before, after) "
            f"SELECT workspace_id, NULL, {now}, 'lead.recycled_unconverted', 'lead', CAST(id AS TEXT), "
            f"'{{\"holder\": ' || {holder_text} || ', \"state\": \"held\"}}', "
            "'{\"holder\": null, \"state\": \"in_pool\"}' "
            f"FROM leads_lead WHERE {due}")
        database.execute_sql(
            "INSERT INTO notification (workspace_id, user_id, at, kind, message, entity) "
            f"SELECT workspace_id, holder_id, {now}, 'lead_recycled', "
            "CAST(COUNT(*) AS TEXT) || ' lead(s) returned to the pool (not converted in time)', NULL "
            f"FROM leads_lead WHERE {due} GROUP BY workspace_id, holder_id")
        cursor = database.execute_sql(
            f"UPDATE leads_lead SET state = 'in_pool', holder_id = NULL, updated_at = {now}, held_since = NULL, "
            "protected_until = NULL, followup_due = NULL, protect_warn_at = NULL, followup_warn_at = NULL "
            f"WHERE {due}")
    return cursor.rowcount


def kehu_sweep(app, name):
    return app.workspace(name, now=NOW).leads.sweep()


def counts(workspace_id):
    ph = "%s" if is_postgres() else "?"
    one = lambda sql: database.execute_sql(sql.replace("?", ph), (workspace_id,)).fetchone()[0]  # noqa: E731
    return {
        "in_pool": one("SELECT COUNT(*) FROM leads_lead WHERE workspace_id = ? AND state = 'in_pool' "
                       "AND holder_id IS NULL AND protected_until IS NULL"),
        "held": one("SELECT COUNT(*) FROM leads_lead WHERE workspace_id = ? AND state = 'held'"),
        "history": one("SELECT COUNT(*) FROM leads_transition WHERE workspace_id = ? "
                       "AND reason = 'recycled_unconverted'"),
        "audit": one("SELECT COUNT(*) FROM event WHERE workspace_id = ? AND action = 'lead.recycled_unconverted'"),
    }


@contextlib.contextmanager
def database_time():
    """Sum the time spent inside the driver while the block runs: ``[seconds]``."""
    spent = [0.0]
    db = database.obj
    execute = db.execute_sql

    def measured(sql, params=None, *args, **kwargs):
        start = time.perf_counter()
        try:
            return execute(sql, params, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    db.execute_sql = measured
    try:
        yield spent
    finally:
        del db.execute_sql


def main():
    args = arguments()
    app = fresh_app(args.db)
    started = time.perf_counter()
    raw_ws = setup(app, "raw", args.rows, args.reps)
    bench_ws = setup(app, "bench", args.rows, args.reps)
    print(f"set-up: 2 x {args.rows} held leads in {time.perf_counter() - started:.1f} s "
          f"({type(database.obj).__name__})", flush=True)
    baseline, moved = timed(raw_sweep, raw_ws)
    with database_time() as in_database:
        if args.profile:
            profiler = cProfile.Profile()
            measured, result = timed(profiler.runcall, kehu_sweep, app, "bench")
        else:
            measured, result = timed(kehu_sweep, app, "bench")
    assert result == {"recycled": moved, "warned": 0}, (result, moved)
    raw_counts, kehu_counts = counts(raw_ws), counts(bench_ws)
    assert raw_counts == kehu_counts == {"in_pool": moved, "held": args.rows - moved, "history": moved,
                                         "audit": moved}, (raw_counts, kehu_counts)
    ratio = report(f"leads sweep ({moved} of {args.rows} held leads due)", moved, baseline, measured)
    print(f"target <= 1.50x: {'met' if ratio <= 1.5 else 'missed'}; kehu spent {in_database[0] * 1000:.1f} ms "
          f"executing SQL and {(measured - in_database[0]) * 1000:.1f} ms in Python (building rows and statements)")
    if args.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    app.close()


if __name__ == "__main__":
    main()
