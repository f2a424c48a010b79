"""The credit regrade: kehu's ``credit regrade`` against the same computation as one hand-written SQL query.

Two workspaces get ``--rows`` customers each with the same generated ledger (raw INSERTs): sales in and before
the scoring period, part paid, payments in and before it, strategic levels for most, one in ten customers in
its first year, a few deleted. kehu regrades one workspace (set-based, batches of 5000 customers per
transaction: GROUP BY aggregates, CASE expressions generated from the policy, INSERT ... SELECT of the
gradings and of one audit row each, the hook fired per batch). The baseline makes the same writes in one
transaction: one hand-written INSERT ... SELECT of the gradings (the default policy's bands typed in) and
one INSERT ... SELECT of the audit rows. Both results are compared row by row, and a sample against the Python
scoring (:func:`kehu.plugins.credit.grading.compute_grading`).

    python benchmarks/credit_regrade.py                  # 20000 customers on SQLite
    python benchmarks/credit_regrade.py --rows 100000 --db postgres
"""

import argparse
import datetime as dt
import json
import time

from _common import DB_HELP, fresh_app, report, timed

from kehu.core.db import database, is_postgres
from kehu.core.models import Customer
from kehu.plugins.credit import grading
from kehu.plugins.credit.policy import policy_for

TZ = "Asia/Shanghai"
NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
TODAY, FIRST = "2025-06-02", "2024-06-03"  # the 12-month scoring period
NEW_SINCE = "2024-06-02 16:00:00"  # created at or after this (UTC) = created after 2024-06-02, Shanghai
CUTOFF = "2024-06-02"
AT = "2025-06-02 02:00:00"
REASON = "first year of trade: a customer trading for less than 12 months is grade C whatever its score"


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="customers per side (default %(default)s)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--sample", type=int, default=200, help="customers checked against the Python scoring")
    return parser.parse_args()


def ts(text):
    """A timestamp literal: text on SQLite (how peewee stores it there), a cast on PostgreSQL."""
    return f"CAST('{text}' AS TIMESTAMP)" if is_postgres() else f"'{text}'"


def day(text):
    return f"CAST('{text}' AS DATE)" if is_postgres() else f"'{text}'"


def series(rows):
    """``(cte, table)``: a row source of ``i`` = 1..rows in this dialect."""
    if is_postgres():
        return "", f"generate_series(1, {rows}) AS seq(i)"
    return f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows}) ", "seq"


def setup(app, name, rows):
    """Workspace ``name`` with ``rows`` customers and their ledgers; returns its id."""
    app.create_workspace(name, "admin", timezone=TZ, now=NOW)
    ws = app.workspace(name, user="admin", now=NOW).context.workspace.id
    cte, source = series(rows)
    mod = "%%" if is_postgres() else "%"  # psycopg2 reads a lone % as a placeholder
    # 1..rows in each workspace (BIGINT: the products below overflow PostgreSQL's integer)
    i = f"CAST(c.id - (SELECT MIN(id) FROM customer WHERE workspace_id = {ws}) + 1 AS BIGINT)"
    mine = f"FROM customer c WHERE c.workspace_id = {ws}"
    with database.atomic():
        database.execute_sql(
            f"{cte}INSERT INTO customer (workspace_id, name, custom, name_key, created_at, updated_at, deleted_at) "
            f"SELECT {ws}, 'customer ' || i, '{{}}', 'customer ' || i, "
            f"CASE WHEN i {mod} 10 = 0 THEN {ts('2025-01-01 00:00:00')} ELSE {ts('2023-01-01 00:00:00')} END, "
            f"{ts('2023-01-01 00:00:00')}, CASE WHEN i {mod} 97 = 0 THEN {ts(AT)} END FROM {source}")
        # a sale in the period, paid in tenths (0..10 of 10); sales from 0 to 14,990,000.01 yuan
        sale = f"(({i} * 7919) {mod} 1500) * 1000000 + {i} {mod} 2"
        paid = f"({sale}) * ({i} {mod} 11) / 10"
        database.execute_sql(
            "INSERT INTO credit_receivable (workspace_id, customer_id, amount, paid, received_on, due_on, status, "
            f"cash, created_at) SELECT {ws}, c.id, {sale}, {paid}, "
            f"CASE {i} {mod} 3 WHEN 0 THEN {day('2024-09-15')} WHEN 1 THEN {day('2025-02-01')} "
            f"ELSE {day('2025-05-20')} END, {day('2025-07-10')}, "
            f"CASE WHEN {i} {mod} 11 = 10 THEN 'paid' ELSE 'open' END, FALSE, {ts(AT)} {mine}")
        # an older sale (not for first-year customers), paid in full by three in four
        old = f"(({i} * 104729) {mod} 300) * 1000000"
        database.execute_sql(
            "INSERT INTO credit_receivable (workspace_id, customer_id, amount, paid, received_on, due_on, status, "
            f"cash, created_at) SELECT {ws}, c.id, {old}, CASE WHEN {i} {mod} 4 = 0 THEN 0 ELSE {old} END, "
            f"{day('2023-11-01')}, {day('2023-12-21')}, CASE WHEN {i} {mod} 4 = 0 THEN 'open' ELSE 'paid' END, "
            f"FALSE, {ts(AT)} {mine} AND {i} {mod} 10 <> 0")
        database.execute_sql(
            "INSERT INTO credit_payment (workspace_id, customer_id, amount, paid_on, kind, created_at) "
            f"SELECT {ws}, c.id, {paid}, {day('2025-03-01')}, 'cash', {ts(AT)} {mine} AND {i} {mod} 11 <> 0")
        database.execute_sql(
            "INSERT INTO credit_payment (workspace_id, customer_id, amount, paid_on, kind, created_at) "
            f"SELECT {ws}, c.id, {old}, CASE WHEN {i} {mod} 2 = 0 THEN {day('2024-01-15')} "
            f"ELSE {day('2024-08-01')} END, 'cash', {ts(AT)} {mine} AND {i} {mod} 10 <> 0 AND {i} {mod} 4 <> 0")
        database.execute_sql(
            "INSERT INTO credit_standing (workspace_id, customer_id, strategic) "
            f"SELECT {ws}, c.id, CASE {i} {mod} 5 WHEN 0 THEN 'leader' WHEN 1 THEN 'key' WHEN 2 THEN 'important' "
            f"WHEN 3 THEN 'ordinary' ELSE 'sporadic' END {mine} AND {i} {mod} 6 <> 0")
    database.execute_sql("ANALYZE")
    return ws


# --- the hand-written baseline ----------------------------------------------------------------------------


def money_text(column):
    if is_postgres():
        return f"CAST(CAST(CAST({column} AS NUMERIC) / 100 AS NUMERIC(30,2)) AS TEXT)"
    return f"printf('%d.%02d', {column} / 100, {column} % 100)"


def rate_text(collected, sales):
    bp = f"({collected} * 10000 / {sales})"
    if is_postgres():
        return f"CAST(CAST(CAST({bp} AS NUMERIC) / 10000 AS NUMERIC(30,4)) AS TEXT)"
    return f"printf('%d.%04d', {bp} / 10000, {bp} % 10000)"


def json_object(*pairs):
    body = ", ".join(f"'{key}', {value}" for key, value in pairs)
    return f"CAST(json_build_object({body}) AS TEXT)" if is_postgres() else f"json_object({body})"


def raw_regrade(ws):
    """The default policy typed in: one INSERT ... SELECT of the gradings, one of their audit rows."""
    grading_sql = f"""
    INSERT INTO credit_grading (workspace_id, customer_id, kind, grade, score, points, inputs, flags, reason,
                                credit_limit, credit_days, actor_id, at)
    SELECT workspace_id, id, 'computed', grade, score,
           {json_object(('sales', 'sp'), ('collection', 'cp'), ('receivables', 'rp'), ('strategic', 'stp'))},
           {json_object(('sales', money_text('sales')), ('collected', money_text('collected')),
                        ('collection_rate', f"CASE WHEN sales > 0 THEN {rate_text('collected', 'sales')} END"),
                        ('receivables', money_text('open_fen')), ('strategic', 'strategic'),
                        ('period_from', f"'{FIRST}'"), ('period_to', f"'{TODAY}'"))},
           '[' || rtrim(CASE WHEN sales = 0 THEN '"no_sales", ' ELSE '' END
                        || CASE WHEN strategic IS NULL THEN '"no_strategic_level", ' ELSE '' END
                        || CASE WHEN new THEN '"first_year", ' ELSE '' END, ', ') || ']',
           CASE WHEN new THEN '{REASON}' END,
           CASE grade WHEN 'A' THEN 200000000 WHEN 'B' THEN 100000000 ELSE 0 END, 50, NULL, {ts(AT)}
    FROM (
      SELECT x.*, 30 * sp + 25 * cp + 30 * rp + 15 * stp AS score,
             CASE WHEN new THEN 'C' WHEN 30 * sp + 25 * cp + 30 * rp + 15 * stp >= 800 THEN 'A'
                  WHEN 30 * sp + 25 * cp + 30 * rp + 15 * stp >= 500 THEN 'B' ELSE 'C' END AS grade
      FROM (
        SELECT c.workspace_id, c.id, st.strategic, sales, collected, open_fen,
               CASE WHEN sales >= 1000000000 THEN 10 WHEN sales >= 800000000 THEN 8
                    WHEN sales >= 500000000 THEN 6 WHEN sales >= 100000000 THEN 4 ELSE 2 END AS sp,
               CASE WHEN sales = 0 THEN 2 WHEN collected >= sales THEN 10 WHEN collected * 5 >= sales * 4 THEN 8
                    WHEN collected * 2 >= sales THEN 6 WHEN collected * 10 >= sales * 3 THEN 4 ELSE 2 END AS cp,
               CASE WHEN open_fen <= 1000000 THEN 10 WHEN open_fen <= 20000000 THEN 8
                    WHEN open_fen <= 80000000 THEN 6 WHEN open_fen <= 200000000 THEN 4 ELSE 2 END AS rp,
               CASE st.strategic WHEN 'leader' THEN 10 WHEN 'key' THEN 8 WHEN 'important' THEN 6
                    WHEN 'ordinary' THEN 4 ELSE 2 END AS stp,
               c.created_at >= {ts(NEW_SINCE)} AND (first_sale IS NULL OR first_sale > {day(CUTOFF)}) AS new
        FROM (
          SELECT c.workspace_id, c.id, c.created_at, COALESCE(r.sales, 0) AS sales,
                 COALESCE(p.collected, 0) AS collected, COALESCE(r.open_fen, 0) AS open_fen, r.first_sale
          FROM customer c
          LEFT JOIN (SELECT customer_id,
                            CAST(SUM(CASE WHEN received_on BETWEEN {day(FIRST)} AND {day(TODAY)}
                                          THEN amount ELSE 0 END) AS BIGINT) AS sales,
                            CAST(SUM(CASE WHEN status = 'open' THEN amount - paid ELSE 0 END) AS BIGINT) AS open_fen,
                            MIN(received_on) AS first_sale
                     FROM credit_receivable WHERE workspace_id = {ws} GROUP BY customer_id) r ON r.customer_id = c.id
          LEFT JOIN (SELECT customer_id, CAST(SUM(amount) AS BIGINT) AS collected FROM credit_payment
                     WHERE workspace_id = {ws} AND paid_on BETWEEN {day(FIRST)} AND {day(TODAY)}
                     GROUP BY customer_id) p ON p.customer_id = c.id
          WHERE c.workspace_id = {ws} AND c.deleted_at IS NULL
        ) c
        LEFT JOIN credit_standing st ON st.workspace_id = c.workspace_id AND st.customer_id = c.id
      ) x
    ) y"""
    audit_sql = (
        "INSERT INTO event (workspace_id, actor_id, at, action, entity_type, entity_id, before, after) "
        f"SELECT workspace_id, NULL, at, 'credit.graded', 'customer', CAST(customer_id AS TEXT), NULL, "
        f"{json_object(('grading', 'id'), ('grade', 'grade'), ('kind', 'kind'))} "
        f"FROM credit_grading WHERE workspace_id = {ws} AND at = {ts(AT)}")
    if is_postgres():
        grading_sql, audit_sql = grading_sql.replace("%", "%%"), audit_sql.replace("%", "%%")
    with database.atomic():
        cursor = database.execute_sql(grading_sql)
        database.execute_sql(audit_sql)
    return cursor.rowcount


def kehu_regrade(app, name):
    return app.workspace(name, now=NOW).credit.regrade()


# --- checks ----------------------------------------------------------------------------------------------


def gradings(ws):
    """customer name → the grading's comparable fields (JSON parsed)."""
    rows = database.execute_sql(
        "SELECT c.name, g.grade, g.score, g.points, g.inputs, g.flags, g.reason, g.credit_limit, g.credit_days "
        f"FROM credit_grading g JOIN customer c ON c.id = g.customer_id WHERE g.workspace_id = {ws}").fetchall()
    return {name: (grade, score, json.loads(points), json.loads(inputs), json.loads(flags), reason, int(limit),
                   days) for name, grade, score, points, inputs, flags, reason, limit, days in rows}


def check_against_python(app, name, sample):
    """``sample`` customers' stored gradings equal the Python scoring of the same data."""
    handle = app.workspace(name, now=NOW)
    context = handle.context
    policy = policy_for(context)
    today = NOW.astimezone(context.tz).date()
    customers = list(Customer.select().where(Customer.workspace == context.workspace, Customer.deleted_at.is_null())
                     .order_by(Customer.id).limit(sample))
    for customer in customers:
        result, inputs, reason = grading.compute_grading(context, policy, customer, today)
        stored = grading.latest_grading(context, customer.id)
        assert (stored.grade, stored.score, stored.points, stored.inputs, stored.flags, stored.reason,
                stored.credit_limit) == (result.grade, result.hundredths, result.points, inputs,
                                         list(result.flags), reason, result.credit_limit), customer.id
    return len(customers)


def main():
    args = arguments()
    app = fresh_app(args.db)
    started = time.perf_counter()
    raw_ws = setup(app, "raw", args.rows)
    bench_ws = setup(app, "bench", args.rows)
    print(f"set-up: 2 x {args.rows} customers with ledgers in {time.perf_counter() - started:.1f} s "
          f"({type(database.obj).__name__})", flush=True)
    baseline, written = timed(raw_regrade, raw_ws)
    measured, result = timed(kehu_regrade, app, "bench")
    assert result["graded"] == written, (result, written)
    raw_rows, kehu_rows = gradings(raw_ws), gradings(bench_ws)
    assert raw_rows == kehu_rows, next(k for k in raw_rows if raw_rows[k] != kehu_rows.get(k))
    checked = check_against_python(app, "bench", args.sample)
    print(f"grades {result['grades']}; identical to the raw query for all {written}; "
          f"{checked} checked against the Python scoring")
    report(f"credit regrade ({written} customers graded and audited)", written, baseline, measured)
    app.close()


if __name__ == "__main__":
    main()
