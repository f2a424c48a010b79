"""Creating and listing customers: kehu's services against hand-written SQL making the same writes.

Create: each customer row (with its owner) and its audit row, in transactions of 100.
List: a rep's scoped list of their own customers (limit 100) as JSON-ready dicts, repeated 50 times; the
baseline runs one hand-written SELECT and builds the same dicts.

    python benchmarks/customers.py --rows 2000
"""

import datetime as dt
import json

from _common import arguments, fresh_app, report, timed

from kehu.core.db import database
from kehu.core.normalize import company_key, phone_key

BATCH = 100


def sample(i):
    return {"name": f"杭州样例客户{i}有限公司", "phone": f"138{i:08d}", "region": "浙江", "industry": "食品",
            "source": "公司资源"}


def raw_create(workspace_id, owner_id, rows):
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    placeholder = "%s" if "Postgres" in type(database.obj).__name__ else "?"
    ph = ", ".join([placeholder] * 13)
    for start in range(0, rows, BATCH):
        with database.atomic():
            for i in range(start, min(rows, start + BATCH)):
                values = sample(i)
                cursor = database.execute_sql(
                    "INSERT INTO customer (workspace_id, name, phone, region, industry, source, owner_id, custom,"
                    " name_key, phone_key, created_at, updated_at, email) VALUES (" + ph + ")",
                    (workspace_id, values["name"], values["phone"], values["region"], values["industry"],
                     values["source"], owner_id, "{}", company_key(values["name"]), phone_key(values["phone"]),
                     now, now, None))
                customer_id = cursor.lastrowid
                database.execute_sql(
                    "INSERT INTO event (workspace_id, actor_id, at, action, entity_type, entity_id, after)"
                    f" VALUES ({', '.join([placeholder] * 7)})",
                    (workspace_id, owner_id, now, "customer.created", "customer", str(customer_id),
                     json.dumps({**values, "id": customer_id}, ensure_ascii=False)))


def kehu_create(handle, rows):
    for start in range(0, rows, BATCH):
        handle.customers.create_many([sample(i) for i in range(start, min(rows, start + BATCH))])


def raw_list(workspace_id, owner_id, times):
    for _ in range(times):
        cursor = database.execute_sql(
            "SELECT c.id, c.name, c.phone, c.email, c.region, c.industry, c.source, u.login, c.parent_id, "
            "c.custom, c.created_at, c.updated_at FROM customer c LEFT JOIN user u ON c.owner_id = u.id "
            "WHERE c.workspace_id = ? AND c.deleted_at IS NULL AND c.owner_id = ? ORDER BY c.id LIMIT 100",
            (workspace_id, owner_id))
        [{"id": r[0], "name": r[1], "phone": r[2], "email": r[3], "region": r[4], "industry": r[5],
          "source": r[6], "owner": r[7], "parent": r[8], "custom": json.loads(r[9]),
          "created_at": dt.datetime.fromisoformat(r[10]).replace(tzinfo=dt.timezone.utc).isoformat(),
          "updated_at": dt.datetime.fromisoformat(r[11]).replace(tzinfo=dt.timezone.utc).isoformat()}
         for r in cursor.fetchall()]


def kehu_list(handle, times):
    for _ in range(times):
        handle.customers.list()


def main():
    args = arguments(__doc__)
    app = fresh_app(args.db)
    app.create_workspace("raw", "admin")
    app.create_workspace("bench", "admin")
    raw_admin = app.workspace("raw", user="admin")
    raw_admin.users.add("li", "rep")
    admin = app.workspace("bench", user="admin")
    admin.users.add("li", "rep")
    raw_rep = app.workspace("raw", user="li")
    rep = app.workspace("bench", user="li")
    baseline, _ = timed(raw_create, raw_rep.workspace.id, raw_rep.user.id, args.rows)
    measured, _ = timed(kehu_create, rep, args.rows)
    report("customer create", args.rows, baseline, measured)
    if "Sqlite" in type(database.obj).__name__:
        baseline, _ = timed(raw_list, rep.workspace.id, rep.user.id, 50)
        measured, _ = timed(kehu_list, rep, 50)
        report("customer list (rep scope, 50 x 100 rows)", 50 * 100, baseline, measured)
    app.close()


if __name__ == "__main__":
    main()
