"""Importing a leads CSV: ``kehu leads import`` against hand-written SQL making the same writes (Decision 12).

Both sides read the same generated UTF-8 file with the csv module, compute the same normalised keys
(E.164 phone and whether it is a mobile, e-mail, company name) and write, per batch of 1000 rows in one
transaction: the lead rows, one ownership-history row per lead (``imported``) and one audit row per lead.
The baseline does it with sqlite3's ``executemany`` (on PostgreSQL psycopg2's ``execute_values``, one
multi-row VALUES per batch), ids assigned by hand; kehu runs the import service (``ws.leads.import_csv``,
what ``kehu leads import`` calls): header mapping, per-row validation, duplicate checks against the database
and inside the file, vetoes, the state machine's history and audit rows. Each side works in its own
workspace of the same database.

    python benchmarks/leads_import.py --rows 20000
    python benchmarks/leads_import.py --rows 200000 --profile   # cProfile of the kehu side, top 25
"""

import cProfile
import csv
import datetime as dt
import json
import os
import pstats
import random
import sys
import tempfile

from _common import DB_HELP, fresh_app, report, timed

from kehu.core.db import database, is_postgres
from kehu.core.normalize import company_key, email_key, phone_e164
from kehu.plugins.leads.models import Lead

BATCH = 1000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕"
CITIES = ("杭州", "宁波", "温州", "上海", "苏州", "南京", "合肥", "福州", "厦门", "广州", "深圳", "成都")
TRADES = ("茶叶", "机械", "电子", "纺织", "化工", "食品", "建材", "医疗器械", "软件", "物流")
FORMS = ("有限公司", "股份有限公司", "科技有限公司", "贸易有限公司")
REGIONS = ("浙江", "江苏", "上海", "安徽", "福建", "广东", "四川")
INDUSTRIES = ("制造", "零售", "医疗", "教育", "互联网", "物流")
SOURCES = ("个人搜索-公共资源", "个人搜索-人脉", "老客户介绍", "公司资源", "CSC网单", "系统客户")
AREA_CODES = ("0571", "0574", "021", "025", "0551", "0591", "020", "0755", "028")
HEADER = ["姓名", "公司", "手机", "邮箱", "地区", "行业", "来源"]


def generate(path, rows, seed=7):
    """A realistic leads file: Chinese headers, unique mobiles, ~half with e-mail, 5% with a landline only."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
            company = f"{rng.choice(CITIES)}{rng.choice(TRADES)}{i % 5000}{rng.choice(FORMS)}"
            if rng.random() < 0.05:
                phone = f"{rng.choice(AREA_CODES)}-{rng.randrange(20000000, 89999999)}"
            else:
                phone = f"1{rng.choice('3456789')}{i:09d}"
            email = f"lead{i}@example{i % 97}.com" if rng.random() < 0.5 else ""
            writer.writerow([name, company, phone, email, rng.choice(REGIONS), rng.choice(INDUSTRIES),
                             rng.choice(SOURCES)])


def _stamp(moment):
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def raw_import(path, workspace_id, pool_id, actor_id):
    """Hand-written SQL: the same rows, keys, history and audit rows, in transactions of BATCH rows."""
    pg = is_postgres()
    mark = "%s" if pg else "?"
    lead_sql = ("INSERT INTO leads_lead (id, workspace_id, name, company, phone, email, region, industry, source,"
                " custom, pool_id, state, created_at, updated_at, phone_key, phone_mobile, email_key, company_key)"
                f" VALUES ({', '.join([mark] * 18)})")
    history_sql = ("INSERT INTO leads_transition (workspace_id, lead_id, from_state, to_state, from_holder_id,"
                   f" to_holder_id, reason, note, actor_id, at) VALUES ({', '.join([mark] * 10)})")
    event_sql = ("INSERT INTO event (workspace_id, actor_id, at, action, entity_type, entity_id, before, after)"
                 f" VALUES ({', '.join([mark] * 8)})")
    before = json.dumps({"holder": None, "state": None})
    after = json.dumps({"holder": None, "state": "in_pool"})
    next_id = (database.execute_sql("SELECT COALESCE(MAX(id), 0) FROM leads_lead").fetchone()[0]) + 1
    inserted = 0

    def flush(rows):
        nonlocal next_id, inserted
        now = _stamp(dt.datetime.now(dt.timezone.utc))
        leads, history, events = [], [], []
        for name, company, phone, email, region, industry, source in rows:
            e164, mobile = phone_e164(phone) if phone else (None, False)
            lead_id = next_id
            next_id += 1
            leads.append((lead_id, workspace_id, name, company or None, phone or None, email or None, region or None,
                          industry or None, source or None, "{}", pool_id, "in_pool", now, now, e164, mobile,
                          email_key(email), company_key(company) or None))
            history.append((workspace_id, lead_id, None, "in_pool", None, None, "imported", None, actor_id, now))
            events.append((workspace_id, actor_id, now, "lead.imported", "lead", str(lead_id), before, after))
        with database.atomic():
            cursor = database.cursor()
            if pg:  # psycopg2's executemany is a statement per row; execute_values is the multi-row VALUES
                from psycopg2.extras import execute_values

                for sql, rows_ in ((lead_sql, leads), (history_sql, history), (event_sql, events)):
                    execute_values(cursor, sql.split(" VALUES ")[0] + " VALUES %s", rows_, page_size=BATCH)
            else:
                cursor.executemany(lead_sql, leads)
                cursor.executemany(history_sql, history)
                cursor.executemany(event_sql, events)
        inserted += len(rows)

    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch = []
        for row in reader:
            batch.append(row)
            if len(batch) == BATCH:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
    if pg:
        database.execute_sql("SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), "
                             "(SELECT MAX(id) FROM leads_lead))")
    return inserted


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows in the file (default %(default)s)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--profile", action="store_true", help="cProfile the kehu side and print the top 25")
    args = parser.parse_args()

    path = os.path.join(tempfile.mkdtemp(prefix="kehu-bench-"), "leads.csv")
    generate(path, args.rows)
    app = fresh_app(args.db)
    for name in ("raw", "bench"):
        app.create_workspace(name, "admin")
    raw = app.workspace("raw", user="admin")
    bench = app.workspace("bench", user="admin")
    pool_id = raw.leads.pools()[0]["id"]

    baseline, inserted = timed(raw_import, path, raw.workspace.id, pool_id, raw.user.id)
    assert inserted == args.rows, inserted
    if args.profile:
        profiler = cProfile.Profile()
        measured, result = timed(profiler.runcall, bench.leads.import_csv, path)
    else:
        measured, result = timed(bench.leads.import_csv, path)
    assert result["inserted"] == args.rows and not result["rejected"], result
    for workspace in (raw.workspace, bench.workspace):
        assert Lead.select().where(Lead.workspace == workspace).count() == args.rows
    ratio = report("leads import (CSV → leads + history + audit)", args.rows, baseline, measured)
    print(f"  raw {args.rows / baseline:,.0f} rows/s | kehu {args.rows / measured:,.0f} rows/s | kehu throughput "
          f"{1 / ratio:.2f}x raw (target >= 0.25x)")
    if args.profile:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    app.close()


if __name__ == "__main__":
    main()
