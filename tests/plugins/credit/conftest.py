"""Fixtures for the credit plugin tests: workspace ``acme`` (Asia/Shanghai) with a user of every role.

Org tree (paths from the top)::

    总公司                      vp, gm, finance
    └── 华东                    director d1
        ├── 销售一部             manager m1, reps li and wang
        └── 销售二部             rep zhao

``admin`` is the workspace's first user. Customers (owner in brackets): ``big`` 杭州大客户有限公司 (li),
``mid`` 宁波中型贸易公司 (li), ``small`` 温州小店 (wang), ``far`` 南京远方商行 (zhao). They are created at
:data:`T0` - 2 years (so none is in its first year of trade unless a test makes one). A second workspace
``other`` (admin ``root``) shares the database, for isolation checks.

The clock: handles take ``now`` as an aware datetime, ISO text (zoneless = workspace time), a ``date`` (local
noon of that day) or ``None`` (:data:`T0` = 2025-06-02 10:00 Shanghai).

    def test_something(crm):
        crm.as_("li").credit.ship(crm.customer("big"), amount="100000", received_on="2025-06-01")
"""

import datetime as dt
from decimal import Decimal

import pytest

from kehu.core.models import Event, Notification, User, Workspace
from kehu.testing import KehuCli

TZ = "Asia/Shanghai"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=SHANGHAI)
CREATED = T0 - dt.timedelta(days=730)

EAST = "总公司/华东"
EAST_1 = "总公司/华东/销售一部"
EAST_2 = "总公司/华东/销售二部"
USERS = {
    "li": ("rep", EAST_1), "wang": ("rep", EAST_1), "zhao": ("rep", EAST_2), "m1": ("manager", EAST_1),
    "d1": ("director", EAST), "vp": ("vp", "总公司"), "gm": ("gm", "总公司"), "finance": ("finance", "总公司"),
}
CUSTOMERS = {
    "big": ("杭州大客户有限公司", "li"), "mid": ("宁波中型贸易公司", "li"), "small": ("温州小店", "wang"),
    "far": ("南京远方商行", "zhao"),
}


def instant(now):
    if now is None:
        return T0
    if isinstance(now, dt.datetime):
        return now
    if isinstance(now, dt.date):
        return dt.datetime.combine(now, dt.time(12), tzinfo=SHANGHAI)
    return now


def D(text):  # noqa: N802 - reads like a literal
    return Decimal(str(text))


class CreditCrm:
    """The test's view of workspace ``acme``: handles per user and clock, customer ids, rows read afresh."""

    def __init__(self, app, customers):
        self.app = app
        self.customers = customers

    def as_(self, login, now=None, workspace="acme"):
        """A handle acting as ``login`` (``None`` = the system) at ``now`` (default :data:`T0`)."""
        return self.app.workspace(workspace, user=login, now=instant(now))

    def customer(self, key):
        """The id of demo customer ``key`` (big, mid, small, far)."""
        return self.customers[key]

    def add_customer(self, name, owner="li", now=None):
        """A new customer created at ``now`` (default T0: in its first year of trade)."""
        return self.as_("admin", now).customers.create(name=name, owner=owner)["id"]

    def cli(self, login="admin", now=None):
        """A :class:`kehu.testing.KehuCli` acting as ``login`` at ``now``."""
        now = instant(now)
        return KehuCli(self.app, workspace="acme", user=login, now=now if isinstance(now, str) else now.isoformat())

    def workspace_row(self, name="acme"):
        return Workspace.get(Workspace.name == name)

    def uid(self, login):
        return User.get(User.workspace == self.workspace_row(), User.login == login).id

    def events(self, action=None):
        query = Event.select().where(Event.workspace == self.workspace_row()).order_by(Event.id)
        if action:
            query = query.where(Event.action == action)
        return list(query)

    def notifications(self, login=None, kind=None):
        query = Notification.select().where(Notification.workspace == self.workspace_row()) \
            .order_by(Notification.id)
        if login:
            query = query.where(Notification.user == self.uid(login))
        if kind:
            query = query.where(Notification.kind == kind)
        return list(query)


def build_credit_crm(app):
    app.create_workspace("acme", "admin", timezone=TZ, now=CREATED)
    admin = app.workspace("acme", user="admin", now=CREATED)
    for path in (EAST_1, EAST_2):
        admin.org.add(path)
    for login, (role, unit) in USERS.items():
        admin.users.add(login, role, unit=unit)
    customers = {key: admin.customers.create(name=name, owner=owner)["id"]
                 for key, (name, owner) in CUSTOMERS.items()}
    app.create_workspace("other", "root", timezone=TZ, now=CREATED)
    return CreditCrm(app, customers)


@pytest.fixture
def crm(kehu_app):
    """Workspace ``acme`` (a user of every role, four customers two years old) and ``other``."""
    return build_credit_crm(kehu_app)
