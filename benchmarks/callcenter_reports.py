"""Call-center reports over many calls: kehu's ``call-performance`` and ``conversion-rates`` against hand-written
GROUP BY queries computing the same numbers, in the same run (DESIGN decision 12; issue 7: "reports over 1M
calls vs a hand-written GROUP BY").

One workspace gets 50 reps, 20,000 customers and ``--rows`` calls spread over 90 days (February to April
2025), each a core activity plus its call-center row, all with raw INSERT ... SELECT; a visit for every 20th
call, a won opportunity for every 200th. The reports run over March (Shanghai time, about a third of the calls)
as the workspace admin (whole workspace in scope). kehu's side is :func:`kehu.core.services.reports.run_report`
(period parsing, scope subquery, three or four GROUP BYs, labelling); the baseline is one hand-written statement
per report (CTEs of GROUP BYs joined to the users). Both results are asserted equal; each side is timed
``--repeat`` times and the best run is reported. The other five reports are timed once, kehu only.

    python benchmarks/callcenter_reports.py                       # 200000 calls on SQLite
    python benchmarks/callcenter_reports.py --rows 1000000
    python benchmarks/callcenter_reports.py --db postgres
"""

import argparse
import datetime as dt
import time

from _common import DB_HELP, fresh_app, report, timed

from kehu.core.db import database, is_postgres
from kehu.core.models import Customer, User
from kehu.core.services.reports import run_report
from kehu.plugins.callcenter.reports import percent

NOW = dt.datetime(2025, 5, 1, 2, 0, tzinfo=dt.timezone.utc)
BASE = "2025-02-01 00:00:00"  # UTC; calls fall in the 90 days after it
SPAN = 90 * 86400
PERIOD = ("2025-03-01", "2025-03-31")  # Shanghai: [2025-02-28 16:00, 2025-03-31 16:00) UTC
START, END = "2025-02-28 16:00:00", "2025-03-31 16:00:00"
REPS, CUSTOMERS = 50, 20_000


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="calls (default %(default)s)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side, best kept (default 3)")
    return parser.parse_args()


# --- dialect helpers --------------------------------------------------------------------------------------


def mod():
    return "%%" if is_postgres() else "%"  # psycopg2 reads a lone % as a placeholder


def ts(text):
    """A timestamp literal: text on SQLite (how peewee stores it there), a cast on PostgreSQL."""
    return f"CAST('{text}' AS TIMESTAMP)" if is_postgres() else f"'{text}'"


def plus_seconds(expression):
    """``BASE`` plus ``expression`` seconds, in the stored format of each dialect."""
    if is_postgres():
        return f"(TIMESTAMP '{BASE}' + ({expression}) * INTERVAL '1 second')"
    return f"datetime('{BASE}', '+' || ({expression}) || ' seconds')"


def series(rows):
    """``(cte, table)``: a row source of ``i`` = 1..rows in this dialect."""
    if is_postgres():
        return "", f"generate_series(1, {rows}) AS seq(i)"
    return f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows}) ", "seq"


def consecutive_ids(query, count, what):
    ids = [row.id for row in query.order_by(query.model.id)]
    assert len(ids) == count and ids == list(range(ids[0], ids[0] + count)), f"{what} ids must be consecutive"
    return ids[0]


# --- data -------------------------------------------------------------------------------------------------


def setup(app, rows):
    """Workspace ``bench``: 50 reps, 20,000 customers, ``rows`` calls, ``rows // 20`` visits, ``rows // 200``
    won opportunities. Returns the workspace id."""
    app.create_workspace("bench", "admin", now=NOW)
    admin = app.workspace("bench", user="admin", now=NOW)
    for r in range(REPS):
        admin.users.add(f"rep{r:02d}", "rep")
    ws = admin.context.workspace.id
    rep0 = consecutive_ids(User.select(User.id).where(User.workspace == ws, User.role == "rep"), REPS, "rep")
    m = mod()
    with database.atomic():
        cte, source = series(CUSTOMERS)
        database.execute_sql(
            f"{cte}INSERT INTO customer (workspace_id, name, phone, source, owner_id, custom, name_key, phone_key, "
            "created_at, updated_at) "
            f"SELECT {ws}, 'customer ' || i, '139' || i, "
            f"CASE WHEN i {m} 3 = 0 THEN '公司资源' ELSE '系统客户' END, {rep0} + i {m} {REPS}, '{{}}', "
            f"'customer ' || i, '+86139' || i, {ts(BASE)}, {ts(BASE)} FROM {source}")
    customer0 = consecutive_ids(Customer.select(Customer.id).where(Customer.workspace == ws), CUSTOMERS,
                                "customer")
    # A pseudo-random spread: the multipliers are prime to the moduli, so every value is hit evenly.
    activities(ws, rows, "call", rep0, customer0, lambda i: f"({i} * 7919) {m} {SPAN}",
               lambda i: f"({i} * 31) {m} {CUSTOMERS}")
    activities(ws, rows // 20, "visit", rep0, customer0, lambda i: f"({i} * 104729 + 3600) {m} {SPAN}",
               lambda i: f"({i} * 37) {m} {CUSTOMERS}")
    details(ws)
    opportunities(ws, rows // 200, rep0, customer0)
    database.execute_sql("ANALYZE")
    return ws


def activities(ws, count, kind, rep0, customer0, seconds, customer):
    """``count`` core activities of ``kind``: rep ``i mod 50``, a spread of customers and times."""
    cte, source = series(count)
    with database.atomic():
        database.execute_sql(
            f"{cte}INSERT INTO activity (workspace_id, kind, subject, customer_id, user_id, created_at, done_at) "
            f"SELECT {ws}, '{kind}', '{kind} ' || i, {customer0} + {customer('i')}, {rep0} + i {mod()} {REPS}, "
            f"{plus_seconds(seconds('i'))}, {plus_seconds(seconds('i'))} FROM {source}")


def details(ws):
    """The call-center rows of the activities: stages, dispositions (1 in 8 not connected, 1 in 40 a deal),
    callbacks (1 in 5); visit results, 1 in 10 visits a deal."""
    m = mod()
    with database.atomic():
        database.execute_sql(
            "INSERT INTO callcenter_call (workspace_id, activity_id, customer_id, rep_id, at, intent, "
            "intent_before, annotations, disposition, callback_at, phone) "
            f"SELECT workspace_id, id, customer_id, user_id, created_at, id {m} 6 - 1, NULL, '{{}}', "
            f"CASE WHEN id {m} 40 = 3 THEN 'deal' WHEN id {m} 8 = 0 THEN 'no_answer' WHEN id {m} 8 = 1 THEN 'busy' "
            f"WHEN id {m} 8 = 2 THEN 'invalid_number' WHEN id {m} 8 = 4 THEN NULL ELSE 'connected' END, "
            f"CASE WHEN id {m} 5 = 0 THEN created_at END, '139' "
            f"FROM activity WHERE workspace_id = {ws} AND kind = 'call'")
        database.execute_sql(
            "INSERT INTO callcenter_visit (workspace_id, activity_id, customer_id, rep_id, at, result, disposition, "
            "calls) "
            f"SELECT workspace_id, id, customer_id, user_id, created_at, "
            f"CASE id {m} 3 WHEN 0 THEN 'met' WHEN 1 THEN 'not_met' ELSE 'signed' END, "
            f"CASE WHEN id {m} 10 = 0 THEN 'deal' END, '[]' "
            f"FROM activity WHERE workspace_id = {ws} AND kind = 'visit'")


def opportunities(ws, count, rep0, customer0):
    """``count`` won opportunities, updated (closed) across the 90 days."""
    cte, source = series(count)
    m = mod()
    with database.atomic():
        database.execute_sql(
            f"{cte}INSERT INTO opportunity (workspace_id, customer_id, name, amount, stage, status, owner_id, "
            "created_at, updated_at) "
            f"SELECT {ws}, {customer0} + (i * 53) {m} {CUSTOMERS}, 'deal ' || i, 100000, 'won', 'won', "
            f"{rep0} + i {m} {REPS}, {ts(BASE)}, {plus_seconds(f'(i * 7727) {m} {SPAN}')} FROM {source}")


# --- the hand-written baselines ---------------------------------------------------------------------------


def fetch(sql):
    return [list(row) for row in database.execute_sql(sql).fetchall()]


def by_rep(ws, table, alias, owner="rep_id", at="at"):
    """``FROM "user" u JOIN table`` on the rep, in the period: driving from the users lets the planner use the
    (workspace, rep, at) index per rep. The plain ``WHERE workspace_id AND at ... GROUP BY rep_id`` makes SQLite
    range-scan (workspace, at) and sort for the GROUP BY, about 3x slower: the baseline is the faster form."""
    return (f'FROM "user" u JOIN {table} {alias} ON {alias}.workspace_id = u.workspace_id AND {alias}.{owner} = u.id '
            f"WHERE u.workspace_id = {ws} AND {alias}.{at} >= {ts(START)} AND {alias}.{at} < {ts(END)}")


def raw_call_performance(ws):
    """Per rep: calls, connected, customers, visits, deals, callbacks — one statement of three GROUP BYs."""
    return fetch(
        "WITH c AS (SELECT u.id AS rep_id, COUNT(*) AS calls, "
        "SUM(CASE WHEN c.disposition IS NULL OR c.disposition NOT IN ('no_answer', 'busy', 'invalid_number') "
        "THEN 1 ELSE 0 END) AS connected, COUNT(DISTINCT c.customer_id) AS customers, "
        "SUM(CASE WHEN c.disposition = 'deal' THEN 1 ELSE 0 END) AS deals, "
        "SUM(CASE WHEN c.callback_at IS NOT NULL THEN 1 ELSE 0 END) AS callbacks "
        f"{by_rep(ws, 'callcenter_call', 'c')} GROUP BY u.id), "
        "v AS (SELECT u.id AS rep_id, COUNT(*) AS visits, SUM(CASE WHEN v.disposition = 'deal' THEN 1 ELSE 0 END) "
        f"AS deals {by_rep(ws, 'callcenter_visit', 'v')} GROUP BY u.id), "
        f"o AS (SELECT u.id AS rep_id, COUNT(*) AS won {by_rep(ws, 'opportunity', 'o', 'owner_id', 'updated_at')} "
        "AND o.status = 'won' GROUP BY u.id) "
        "SELECT u.login, COALESCE(c.calls, 0), COALESCE(c.connected, 0), COALESCE(c.customers, 0), "
        "COALESCE(v.visits, 0), COALESCE(c.deals, 0) + COALESCE(v.deals, 0) + COALESCE(o.won, 0), "
        'COALESCE(c.callbacks, 0) FROM "user" u LEFT JOIN c ON c.rep_id = u.id LEFT JOIN v ON v.rep_id = u.id '
        f"LEFT JOIN o ON o.rep_id = u.id WHERE u.workspace_id = {ws} "
        "AND (c.rep_id IS NOT NULL OR v.rep_id IS NOT NULL OR o.rep_id IS NOT NULL) ORDER BY u.login")


def raw_conversion_rates(ws):
    """Per rep and total: distinct customers called / also visited, visited / also reached a deal."""
    period = f"workspace_id = {ws} AND at >= {ts(START)} AND at < {ts(END)}"
    rows = fetch(
        f"WITH visited AS (SELECT DISTINCT customer_id FROM callcenter_visit WHERE {period}), "
        f"deals AS (SELECT customer_id FROM callcenter_call WHERE {period} AND disposition = 'deal' "
        f"UNION SELECT customer_id FROM callcenter_visit WHERE {period} AND disposition = 'deal' "
        f"UNION SELECT customer_id FROM opportunity WHERE workspace_id = {ws} AND status = 'won' "
        f"AND updated_at >= {ts(START)} AND updated_at < {ts(END)}), "
        f"called AS (SELECT DISTINCT u.id AS rep_id, c.customer_id {by_rep(ws, 'callcenter_call', 'c')} "
        "AND c.customer_id IS NOT NULL), "
        f"seen AS (SELECT DISTINCT u.id AS rep_id, v.customer_id {by_rep(ws, 'callcenter_visit', 'v')}), "
        "a AS (SELECT called.rep_id, COUNT(*) AS called, COUNT(visited.customer_id) AS visited FROM called "
        "LEFT JOIN visited ON visited.customer_id = called.customer_id GROUP BY called.rep_id), "
        "b AS (SELECT seen.rep_id, COUNT(*) AS seen, COUNT(deals.customer_id) AS deals FROM seen "
        "LEFT JOIN deals ON deals.customer_id = seen.customer_id GROUP BY seen.rep_id), "
        "ta AS (SELECT COUNT(DISTINCT called.customer_id) AS called, COUNT(DISTINCT visited.customer_id) AS visited "
        "FROM called LEFT JOIN visited ON visited.customer_id = called.customer_id), "
        "tb AS (SELECT COUNT(DISTINCT seen.customer_id) AS seen, COUNT(DISTINCT deals.customer_id) AS deals "
        "FROM seen LEFT JOIN deals ON deals.customer_id = seen.customer_id) "
        "SELECT u.login, COALESCE(a.called, 0), COALESCE(a.visited, 0), COALESCE(b.seen, 0), COALESCE(b.deals, 0) "
        'FROM "user" u LEFT JOIN a ON a.rep_id = u.id LEFT JOIN b ON b.rep_id = u.id '
        f"WHERE u.workspace_id = {ws} AND (a.rep_id IS NOT NULL OR b.rep_id IS NOT NULL) "
        "UNION ALL SELECT NULL, ta.called, ta.visited, tb.seen, tb.deals FROM ta, tb")
    # The same exact integer rates as kehu (a few dozen divisions: not where the time goes).
    shaped = [[login, called, visited, percent(visited, called), seen, deals, percent(deals, seen)]
              for login, called, visited, seen, deals in rows]
    return sorted(r for r in shaped if r[0] is not None), next(r for r in shaped if r[0] is None)


# --- kehu's side and the comparison -----------------------------------------------------------------------


def kehu_report(app, name):
    return run_report(app.workspace("bench", user="admin", now=NOW).context, name, *PERIOD)


def best(repeat, function, *args):
    """The fastest of ``repeat`` runs, and its result."""
    runs = [timed(function, *args) for _ in range(repeat)]
    return min(seconds for seconds, _ in runs), runs[-1][1]


def compare_call_performance(app, ws, calls, repeat):
    baseline, expected = best(repeat, raw_call_performance, ws)
    measured, result = best(repeat, kehu_report, app, "call-performance")
    assert [[row[0], *row[2:]] for row in result["rows"]] == expected, "call-performance differs from raw SQL"
    totals = [sum(row[i] for row in expected) for i in range(1, 7)]
    print(f"  in March: {totals[0]} calls, {totals[1]} connected, {totals[3]} visits, {totals[4]} deals, "
          f"{totals[5]} callbacks over {len(expected)} reps")
    return report(f"call-performance over {calls} calls", len(expected), baseline, measured)


def compare_conversion_rates(app, ws, calls, repeat):
    baseline, (expected, expected_total) = best(repeat, raw_conversion_rates, ws)
    measured, result = best(repeat, kehu_report, app, "conversion-rates")
    assert [[row[0], *row[2:]] for row in result["rows"]] == expected, "conversion-rates differs from raw SQL"
    assert ["total", *result["total"][2:]] == ["total", *expected_total[1:]], (result["total"], expected_total)
    print(f"  total: {expected_total[1]} customers called, phone → visit {expected_total[3]}%, "
          f"{expected_total[4]} visited, visit → deal {expected_total[6]}%")
    return report(f"conversion-rates over {calls} calls", len(expected) + 1, baseline, measured)


def time_the_others(app):
    """The other reports over the same data, kehu only (no baseline): a guard against a plan gone quadratic."""
    names = ["visit-summary", "customer-stats", "invalid-phones", "conversion-snapshot", "conversion-process"]
    print("  other reports (kehu only): " + ", ".join(
        f"{name} {timed(kehu_report, app, name)[0] * 1000:.0f} ms" for name in names))


def main():
    args = arguments()
    app = fresh_app(args.db)
    started = time.perf_counter()
    ws = setup(app, args.rows)
    print(f"set-up: {args.rows} calls, {args.rows // 20} visits, {args.rows // 200} won opportunities, "
          f"{REPS} reps, {CUSTOMERS} customers in {time.perf_counter() - started:.1f} s "
          f"({type(database.obj).__name__})", flush=True)
    compare_call_performance(app, ws, args.rows, args.repeat)
    compare_conversion_rates(app, ws, args.rows, args.repeat)
    time_the_others(app)
    app.close()


if __name__ == "__main__":
    main()
