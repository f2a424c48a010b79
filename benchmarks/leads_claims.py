"""Lead claims per second: kehu's claim service against a raw claim loop in sqlite3 (same checks, same writes).

Each run starts P processes (1, then 4; multiprocessing ``spawn``) released together; each claims its own
slice of one pool's leads, one claim per transaction, taking turns among its own reps so that no rep passes
the pool's default caps (20 claims a day, 100 held): a rep's checks count what a real rep's would.
kehu calls ``handle.leads.claim(id)`` on one handle per rep.
The baseline, per claim, in plain ``sqlite3`` with ``BEGIN IMMEDIATE``: read the lead and its pool's rules,
check the cooldown (last release/recycle by this rep), the rep's held count and today's claims (local day),
then a conditional UPDATE of state, holder and deadlines, one history row and one audit row, and read the
result back (holder login and deadlines). Every rule is on, so both sides run every check.

    python benchmarks/leads_claims.py --rows 2000
"""

import argparse
import datetime as dt
import json
import multiprocessing
import os
import sqlite3
import tempfile
import time
from urllib.parse import urlparse

from _common import fresh_app, report

from kehu.core.models import User
from kehu.plugins.leads.models import Lead

PROCESS_COUNTS = (1, 4)
NOW = dt.datetime(2025, 6, 2, 3, 0, tzinfo=dt.timezone.utc)  # 11:00 in Shanghai
DAILY = 20  # the pool's default daily cap: how many claims each rep makes


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000, help="claims per run (default %(default)s)")
    parser.add_argument("--db", help="a SQLite URL for the runs (default: new files in a temp directory)")
    return parser.parse_args()


def text(instant):
    """How kehu stores an instant in SQLite: naive UTC, ``YYYY-MM-DD HH:MM:SS``."""
    return instant.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")


def setup(url, rows, processes):
    """Workspaces ``raw`` and ``bench``, each with ``rows`` leads in its public pool and ``rows / 20`` reps; a
    plan per process: ``[(rep logins, lead ids)]``."""
    app = fresh_app(url)
    plan = {}
    per_process = -(-rows // (processes * DAILY))
    for name in ("raw", "bench"):
        app.create_workspace(name, "admin", now=NOW)
        admin = app.workspace(name, user="admin", now=NOW)
        for r in range(per_process * processes):
            admin.users.add(f"rep{r}", "rep")
        for start in range(0, rows, 1000):
            outcome = admin.leads.add_many([{"name": f"线索{i}", "phone": f"139{i:08d}"}
                                            for i in range(start, min(rows, start + 1000))])
            assert not outcome["rejected"], outcome["rejected"][:3]
        ws = admin.workspace
        ids = [i for (i,) in Lead.select(Lead.id).where(Lead.workspace == ws).order_by(Lead.id).tuples()]
        reps = [u for (u,) in User.select(User.login).where(User.workspace == ws, User.role == "rep")
                .order_by(User.id).tuples()]
        plan[name] = {"workspace": ws.id, "slices": [(reps[p::processes], ids[p::processes])
                                                     for p in range(processes)]}
    app.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    url = app.url
    app.close()
    return url, plan


# --- the workers --------------------------------------------------------------------------------------


def kehu_worker(url, workspace, logins, ids, ready, start, results):
    import kehu

    app = kehu.connect(url)
    handles = [app.workspace(workspace, user=login, now=NOW) for login in logins]
    ready.put(logins)
    start.wait()
    began = time.time()
    for n, lead_id in enumerate(ids):
        handles[n % len(handles)].leads.claim(lead_id)
    results.put((began, time.time(), len(ids)))
    app.close()


def raw_worker(url, workspace_id, logins, ids, ready, start, results):
    path = urlparse(url).path
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    for pragma in ("journal_mode = wal", "foreign_keys = 1", "busy_timeout = 30000", "synchronous = normal"):
        db.execute(f"PRAGMA {pragma}")
    users = [db.execute("SELECT id FROM user WHERE workspace_id = ? AND login = ?", (workspace_id, login))
             .fetchone()[0] for login in logins]
    tz = db.execute("SELECT timezone FROM workspace WHERE id = ?", (workspace_id,)).fetchone()[0]
    from zoneinfo import ZoneInfo

    local = NOW.astimezone(ZoneInfo(tz))
    midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=ZoneInfo(tz))
    day = (text(midnight), text(midnight + dt.timedelta(days=1)))
    ready.put(logins)
    start.wait()
    began = time.time()
    for n, lead_id in enumerate(ids):
        raw_claim(db, workspace_id, users[n % len(users)], lead_id, day)
    results.put((began, time.time(), len(ids)))
    db.close()


def raw_claim(db, workspace_id, user_id, lead_id, day):
    now = text(NOW)
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT state, holder_id, pool_id FROM leads_lead WHERE workspace_id = ? AND id = ?",
                         (workspace_id, lead_id)).fetchone()
        if row is None or row[0] != "in_pool":
            raise RuntimeError(f"lead {lead_id}: not claimable")
        pool_id = row[2]
        max_held, daily, protect, followup, warn, cooldown = db.execute(
            "SELECT max_held, daily_claims, protect_days, followup_days, warn_days, cooldown_hours "
            "FROM leads_pool WHERE id = ?", (pool_id,)).fetchone()
        if cooldown:
            last = db.execute(
                "SELECT MAX(at) FROM leads_transition WHERE workspace_id = ? AND lead_id = ? "
                "AND from_holder_id = ? AND reason IN ('released', 'recycled_unconverted', 'recycled_no_followup')",
                (workspace_id, lead_id, user_id)).fetchone()[0]
            if last is not None and last > text(NOW - dt.timedelta(hours=cooldown)):
                raise RuntimeError("cooldown")
        if max_held:
            held = db.execute("SELECT COUNT(*) FROM leads_lead WHERE workspace_id = ? AND pool_id = ? "
                              "AND holder_id = ? AND state = 'held'", (workspace_id, pool_id, user_id)).fetchone()[0]
            if held >= max_held:
                raise RuntimeError("claim_limit_held")
        if daily:
            today = db.execute(
                "SELECT COUNT(*) FROM leads_transition t JOIN leads_lead l ON t.lead_id = l.id "
                "WHERE t.workspace_id = ? AND t.to_holder_id = ? AND t.reason = 'claimed' AND t.at >= ? "
                "AND t.at < ? AND l.pool_id = ?", (workspace_id, user_id, *day, pool_id)).fetchone()[0]
            if today >= daily:
                raise RuntimeError("claim_limit_daily")
        protected = NOW + dt.timedelta(days=protect) if protect else None
        due = NOW + dt.timedelta(days=followup) if followup else None
        protect_warn = protected - dt.timedelta(days=warn) if protected and warn else None
        followup_warn = due - dt.timedelta(days=warn) if due and warn else None
        changed = db.execute(
            "UPDATE leads_lead SET state = 'held', holder_id = ?, updated_at = ?, held_since = ?, "
            "protected_until = ?, followup_due = ?, protect_warn_at = ?, followup_warn_at = ?, "
            "last_followup_at = NULL WHERE workspace_id = ? AND id = ? AND state = 'in_pool'",
            (user_id, now, now, *(text(x) if x else None for x in (protected, due, protect_warn, followup_warn)),
             workspace_id, lead_id)).rowcount
        if changed != 1:
            raise RuntimeError("already_held")
        db.execute("INSERT INTO leads_transition (workspace_id, lead_id, from_state, to_state, from_holder_id, "
                   "to_holder_id, reason, note, actor_id, at) VALUES (?, ?, 'in_pool', 'held', NULL, ?, 'claimed', "
                   "NULL, ?, ?)", (workspace_id, lead_id, user_id, user_id, now))
        db.execute("INSERT INTO event (workspace_id, actor_id, at, action, entity_type, entity_id, before, after) "
                   "VALUES (?, ?, ?, 'lead.claimed', 'lead', ?, ?, ?)",
                   (workspace_id, user_id, now, str(lead_id),
                    json.dumps({"holder": None, "state": "in_pool"}, sort_keys=True),
                    json.dumps({"holder": user_id, "state": "held"}, sort_keys=True)))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    login, held_until, due_at = db.execute(
        "SELECT u.login, l.protected_until, l.followup_due FROM leads_lead l JOIN user u ON u.id = l.holder_id "
        "WHERE l.id = ?", (lead_id,)).fetchone()
    return {"lead": lead_id, "holder": login, "protected_until": held_until, "followup_due": due_at}


def run(target, jobs):
    """Run ``target`` once per job in its own spawned process, released together; wall-clock seconds."""
    ctx = multiprocessing.get_context("spawn")
    ready, start, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*job, ready, start, results)) for job in jobs]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    start.set()
    outcomes = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a worker failed (exit {process.exitcode})")
    return max(o[1] for o in outcomes) - min(o[0] for o in outcomes), sum(o[2] for o in outcomes)


def same_writes(url, plan):
    """Whether both workspaces hold the same leads, history and audit rows after the runs (ids aside)."""
    db = sqlite3.connect(urlparse(url).path)
    rows = []
    for name in ("raw", "bench"):
        ws = plan[name]["workspace"]
        rows.append((
            db.execute("SELECT state, u.login, held_since, protected_until, followup_due, protect_warn_at, "
                       "followup_warn_at FROM leads_lead l JOIN user u ON u.id = l.holder_id "
                       "WHERE l.workspace_id = ? ORDER BY l.id", (ws,)).fetchall(),
            db.execute("SELECT from_state, to_state, reason, at, COUNT(*) FROM leads_transition WHERE workspace_id = ? "
                       "GROUP BY 1, 2, 3, 4", (ws,)).fetchall(),
            db.execute("SELECT action, COUNT(*) FROM event WHERE workspace_id = ? AND action LIKE 'lead.%' "
                       "GROUP BY 1", (ws,)).fetchall()))
    db.close()
    return rows[0] == rows[1]


def split(rows):
    """Where one process's kehu claims spend their time: executing SQL, and the rest."""
    import kehu
    from kehu.core.db import database

    url, plan = setup(None, rows, 1)
    app = kehu.connect(url)
    logins, ids = plan["bench"]["slices"][0]
    handles = [app.workspace("bench", user=login, now=NOW) for login in logins]
    db, spent = database.obj, {"sql": 0.0, "statements": 0}
    execute_sql = db.execute_sql

    def sql(text, params=None, *args, **kwargs):
        start = time.perf_counter()
        spent["statements"] += 1
        try:
            return execute_sql(text, params, *args, **kwargs)
        finally:
            spent["sql"] += time.perf_counter() - start

    db.execute_sql = sql
    start = time.perf_counter()
    for n, lead_id in enumerate(ids):
        handles[n % len(handles)].leads.claim(lead_id)
    total = (time.perf_counter() - start) / len(ids) * 1000
    del db.execute_sql
    app.close()
    each = spent["sql"] / len(ids) * 1000
    print(f"  kehu per claim (1 process): {total:.2f} ms = {each:.2f} ms executing "
          f"{spent['statements'] / len(ids):.0f} statements + {total - each:.2f} ms the rest (building "
          "statements, commit, checks, hooks)")


def main():
    args = arguments()
    if args.db and not args.db.startswith("sqlite"):
        raise SystemExit("the raw baseline is sqlite3: pass a sqlite:/// URL (or none)")
    for processes in PROCESS_COUNTS:
        url = args.db or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="kehu-bench-"), "claims.db")
        url, plan = setup(url, args.rows, processes)
        raw = plan["raw"]
        baseline, raw_claims = run(raw_worker, [(url, raw["workspace"], *job) for job in raw["slices"]])
        measured, kehu_claims = run(kehu_worker, [(url, "bench", *job) for job in plan["bench"]["slices"]])
        assert raw_claims == kehu_claims == args.rows
        assert same_writes(url, plan), "the baseline and kehu wrote different rows"
        ratio = report(f"lead claims, {processes} process(es)", args.rows, baseline, measured)
        raw_rate, kehu_rate = args.rows / baseline, args.rows / measured
        print(f"  raw {raw_rate:,.0f} claims/s | kehu {kehu_rate:,.0f} claims/s | kehu/raw throughput "
              f"{1 / ratio:.2f} (target >= 0.50: {'met' if 1 / ratio >= 0.5 else 'missed'})")
        if args.db:
            break  # a given database holds one run's data
    split(min(args.rows, 1000))


if __name__ == "__main__":
    main()
