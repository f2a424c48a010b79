"""The demo: a workspace with an org tree, users of every role and sample records, built through services.

Everything goes through the same service functions as the CLI, so the demo doubles as an end-to-end check.
"""

import datetime as dt

from kehu.core.db import utcnow
from kehu.errors import KehuError

DEMO_WORKSPACE = "demo"

ORG_UNITS = [
    ("总公司", "company"),
    ("总公司/华东", "region"),
    ("总公司/华东/销售一部", "department"),
    ("总公司/华东/销售二部", "department"),
    ("总公司/华北", "region"),
    ("总公司/华北/销售一部", "department"),
]

USERS = [  # login, role, unit, name
    ("zhang", "gm", "总公司", "张总 (GM)"),
    ("wang", "vp", "总公司", "王副总 (VP of sales)"),
    ("qian", "finance", "总公司", "钱会计 (finance)"),
    ("zhou", "director", "总公司/华东", "周总监 (East region)"),
    ("wu", "manager", "总公司/华东/销售一部", "吴经理 (East dept. 1)"),
    ("li", "rep", "总公司/华东/销售一部", "李明 (rep)"),
    ("chen", "rep", "总公司/华东/销售二部", "陈静 (rep)"),
    ("sun", "rep", "总公司/华北/销售一部", "孙强 (rep)"),
]

CUSTOMERS = [  # key, owner, fields
    ("group", "wu", {"name": "天润乳业集团有限公司", "phone": "0991-6688001", "region": "新疆", "industry": "乳制品",
                     "source": "公司资源", "custom": {"customer_type": "end customer", "annual_volume": "12000000"}}),
    ("east", "li", {"name": "天润乳业华东销售有限公司", "phone": "021-6255 0101", "region": "上海",
                    "industry": "乳制品", "source": "公司资源", "parent": "group",
                    "custom": {"customer_type": "agent"}}),
    ("hz", "li", {"name": "杭州鲜奶经销部", "phone": "138 0013 8000", "email": "buy@hz-milk.example",
                  "region": "浙江", "industry": "乳制品", "source": "老客户介绍", "parent": "east",
                  "custom": {"customer_type": "dealer"}}),
    ("tea", "li", {"name": "杭州西湖茶叶有限公司", "phone": "+86 139-5710-2233", "region": "浙江", "industry": "食品",
                   "source": "个人搜索-公共资源"}),
    ("nj", "chen", {"name": "南京金陵超市连锁", "phone": "025-8471 9900", "region": "江苏", "industry": "零售",
                    "source": "CSC网单"}),
    ("bj", "sun", {"name": "北京燕山机械制造厂", "phone": "010-6988 1200", "region": "北京", "industry": "制造",
                   "source": "个人搜索-个人人脉"}),
]


def build_demo(app, now=None):
    """Create the demo workspace and its records; return the tour as a list of lines."""
    now = now or utcnow()
    tour = []
    step = tour.append
    ws = app.create_workspace(DEMO_WORKSPACE, "admin", "Asia/Shanghai", now=now)
    step(f"Created workspace '{ws['name']}' (timezone {ws['timezone']}) with plugins: "
         f"{', '.join(ws['plugins']) or 'none'}; its first user is 'admin'.")
    admin = app.workspace(DEMO_WORKSPACE, user="admin", now=now)
    for path, kind in ORG_UNITS:
        admin.org.add(path, kind=kind)
    step(f"Built an org tree of {len(ORG_UNITS)} units: company → regions 华东, 华北 → sales departments.")
    for login, role, unit, name in USERS:
        admin.users.add(login, role, unit=unit, name=name)
    step("Added users of every role: " + ", ".join(f"{login} ({role})" for login, role, _, _ in USERS) + ".")
    admin.fields.add("customer_type", "choice", choices=["dealer", "agent", "end customer"])
    admin.fields.add("annual_volume", "decimal", label="annual volume (CNY)")
    step("Declared custom fields: customer_type (choice) and annual_volume (decimal).")

    ids = {}
    for key, owner, fields in CUSTOMERS:
        values = dict(fields)
        if "parent" in values:
            values["parent"] = ids[values["parent"]]
        ids[key] = admin.customers.create(owner=owner, **values)["id"]
    step(f"Added {len(CUSTOMERS)} customers owned by reps and a manager, including a 3-level customer tree "
         f"(集团 → 华东子公司 → 杭州经销商).")

    li = app.workspace(DEMO_WORKSPACE, user="li", now=now)
    li.contacts.add(ids["hz"], "赵经理", title="采购经理", role="handler", phone="13800138001")
    li.opportunities.create(ids["hz"], "2027 年度鲜奶供货", "C", amount="400000",
                            expected_close=(now + dt.timedelta(days=60)).date().isoformat())
    li.activities.log("call", "首次电话沟通", customer=ids["tea"], notes="对方有意向了解冷链配送方案")
    li.activities.log("visit", "上门拜访杭州鲜奶经销部", customer=ids["hz"], notes="确认 2027 年供货量")
    li.activities.log("task", "寄送报价单", customer=ids["hz"], due=(now - dt.timedelta(minutes=5)).isoformat())
    step("As rep li: added a contact, an opportunity (stage C, 400,000 CNY), a call, a visit and a task due now.")

    visible = len(li.customers.list())
    total = len(admin.customers.list())
    manager = len(app.workspace(DEMO_WORKSPACE, user="wu", now=now).customers.list())
    director = len(app.workspace(DEMO_WORKSPACE, user="zhou", now=now).customers.list())
    step(f"Data scope: rep li sees {visible} of {total} customers, manager wu (East dept. 1) {manager}, "
         f"director zhou (East region) {director}, the GM all {total}.")
    try:
        li.customers.delete(ids["tea"])
    except KehuError as exc:
        step(f"Rep li tried to delete a customer: refused ({exc.code}: {exc.message}).")

    plugin_lines = []
    admin.context.hooks.kehu_populate_demo(context=admin.context, customers=dict(ids), say=plugin_lines.append)
    tour.extend(plugin_lines)

    results = app.tick(now=now + dt.timedelta(minutes=1), workspace=DEMO_WORKSPACE)
    ran = [job["job"] for job in results[0]["jobs"] if job.get("ran")]
    inbox = li.inbox.list()
    step(f"Ran `kehu tick` (jobs: {', '.join(ran) or 'none'}); li's inbox now holds {len(inbox)} "
         f"notification(s): " + "; ".join(n["message"] for n in inbox) + ".")
    events = admin.audit.list(limit=0)
    step(f"Every change above is in the audit trail: {len(events)} events.")
    return tour
