"""Fixtures for the survey plugin tests: workspace ``acme`` (Asia/Shanghai) with a user of every role.

Org tree (paths from the top)::

    总公司                      vp, gm, finance, qa (role quality, added by the survey plugin)
    ├── 华东                    director d1
    │   ├── 销售一部             manager m1, reps li and wang
    │   └── 销售二部             rep zhao
    └── 华北
        └── 销售一部             manager m2, rep sun

``admin`` is the workspace's first user. Customers (owner in brackets, each with a mobile number): ``tea``
杭州西湖茶叶有限公司 (li), ``milk`` 宁波鲜奶经销部 (li), ``shop`` 温州眼镜店 (wang), ``mart`` 南京超市 (zhao),
``plant`` 北京机械厂 (sun), and ``open1``..``open3`` with no owner (numbers anyone may claim to call). All created
at :data:`CREATED` (2025-02-01 10:00 Shanghai). A second workspace ``other`` (admin ``root``, rep ``olga``) shares
the database, for isolation checks.

The clock: handles take ``now`` as an aware datetime, a ``date`` (local 10:00 that day), a ``timedelta`` from
:data:`T0` (2025-03-03 10:00 Shanghai, a Monday) or ``None`` (T0).
"""

import datetime as dt

import pytest

from kehu.core.db import database
from kehu.core.models import Activity, Customer, Event, Notification, User, Workspace
from kehu.core.services import ownership
from kehu.testing import KehuCli

TZ = "Asia/Shanghai"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)
CREATED = dt.datetime(2025, 2, 1, 10, 0, tzinfo=SHANGHAI)

EAST = "总公司/华东"
NORTH = "总公司/华北"
EAST_1 = "总公司/华东/销售一部"
EAST_2 = "总公司/华东/销售二部"
NORTH_1 = "总公司/华北/销售一部"
USERS = {
    "li": ("rep", EAST_1), "wang": ("rep", EAST_1), "zhao": ("rep", EAST_2), "sun": ("rep", NORTH_1),
    "m1": ("manager", EAST_1), "m2": ("manager", NORTH_1), "d1": ("director", EAST), "vp": ("vp", "总公司"),
    "gm": ("gm", "总公司"), "finance": ("finance", "总公司"),
    "qa": ("quality", "总公司"),
}
CUSTOMERS = {  # key: (name, owner, mobile, source)
    "tea": ("杭州西湖茶叶有限公司", "li", "13900000001", "公司资源"),
    "milk": ("宁波鲜奶经销部", "li", "13900000002", "老客户介绍"),
    "shop": ("温州眼镜店", "wang", "13900000003", "CSC网单"),
    "mart": ("南京超市", "zhao", "13900000004", "个人搜索-公共资源"),
    "plant": ("北京机械厂", "sun", "13900000005", "个人搜索-个人人脉"),
    "open1": ("苏州母婴用品店", None, "13900000011", "公司资源"),
    "open2": ("合肥连锁便利店", None, "13900000012", "公司资源"),
    "open3": ("无锡机械配件厂", None, "13900000013", "公司资源"),
}


def instant(now):
    if now is None:
        return T0
    if isinstance(now, dt.timedelta):
        return T0 + now
    if isinstance(now, dt.datetime):
        return now
    if isinstance(now, dt.date):
        return dt.datetime.combine(now, dt.time(10), tzinfo=SHANGHAI)
    return now


class SurveyCrm:
    """The test's view of workspace ``acme``: handles per user and clock, customer ids, rows read afresh."""

    def __init__(self, app, customers):
        self.app = app
        self.customers = customers

    def as_(self, login, now=None, workspace="acme"):
        """A handle acting as ``login`` (``None`` = the system) at ``now`` (default :data:`T0`)."""
        return self.app.workspace(workspace, user=login, now=instant(now))

    def customer(self, key):
        return self.customers[key]

    def cli(self, login="admin", now=None):
        """A :class:`kehu.testing.KehuCli` acting as ``login`` at ``now``."""
        now = instant(now)
        return KehuCli(self.app, workspace="acme", user=login, now=now if isinstance(now, str) else now.isoformat())

    def workspace_row(self, name="acme"):
        return Workspace.get(Workspace.name == name)

    def uid(self, login, workspace="acme"):
        return User.get(User.workspace == self.workspace_row(workspace), User.login == login).id

    def events(self, action=None):
        query = Event.select().where(Event.workspace == self.workspace_row()).order_by(Event.id)
        if action:
            query = query.where(Event.action == action)
        return list(query)

    def activities(self, kind=None):
        query = Activity.select().where(Activity.workspace == self.workspace_row()).order_by(Activity.id)
        if kind:
            query = query.where(Activity.kind == kind)
        return list(query)

    def notifications(self, login=None, kind=None):
        query = Notification.select().where(Notification.workspace == self.workspace_row()) \
            .order_by(Notification.id)
        if login:
            query = query.where(Notification.user == self.uid(login))
        if kind:
            query = query.where(Notification.kind == kind)
        return list(query)

    def customer_row(self, key):
        return Customer.get_by_id(self.customers[key])


def build_survey_crm(app):
    app.create_workspace("acme", "admin", timezone=TZ, now=CREATED)
    admin = app.workspace("acme", user="admin", now=CREATED)
    for path in (EAST_1, EAST_2, NORTH_1):
        admin.org.add(path)
    for login, (role, unit) in USERS.items():
        admin.users.add(login, role, unit=unit)
    customers = {}
    for key, (name, owner, phone, source) in CUSTOMERS.items():
        fields = {"name": name, "phone": phone, "source": source}
        if owner:
            fields["owner"] = owner
        customers[key] = admin.customers.create(**fields)["id"]
    # Unowned customers (as after returning to the public pool): through core's one owner writer.
    with database.atomic():
        ownership.write_owner(admin.context, Customer, "customer",
                              [customers[k] for k, v in CUSTOMERS.items() if v[1] is None], None, "test set-up")
    app.create_workspace("other", "root", timezone=TZ, now=CREATED)
    app.workspace("other", user="root", now=CREATED).users.add("olga", "rep")
    return SurveyCrm(app, customers)


@pytest.fixture
def crm(kehu_app):
    """Workspace ``acme`` (org tree, a user of every role, eight customers with mobiles) and ``other``."""
    return build_survey_crm(kehu_app)
