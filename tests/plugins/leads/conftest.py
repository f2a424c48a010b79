"""Fixtures for the leads plugin tests: a realistic workspace ``acme`` (Asia/Shanghai) with pools and users.

Org tree of ``acme`` (paths from the top)::

    总公司                      vp, gm, finance
    ├── 华东                    director d1
    │   ├── 销售一部             manager m1, reps li and wang
    │   └── 销售二部             rep zhao
    └── 华北                    (no one)
        └── 销售一部             manager m2, rep sun

``admin`` (the workspace's first user) has no unit. Pools: ``public`` (公海, DOMAIN.md defaults: max_held 100,
daily_claims 20, protect_days 30, followup_days 7, warn_days 2, cooldown_hours 12), ``east`` (team 总公司/华东,
defaults) and ``north`` (team 总公司/华北, defaults). A second workspace ``other`` (admin ``root``, rep ``olga``)
shares the database, for isolation checks.

The clock: the workspace is built at :data:`T0` (2025-03-03 10:00 Asia/Shanghai = 02:00 UTC, a Monday). Every
handle takes ``now`` as ISO text (zoneless = workspace time), an aware ``datetime``, or a ``timedelta`` counted
from :data:`T0` — ``crm.as_("li", now=days(30) - seconds(1))``.

Everything is built through the public Python API, the same services the CLI calls. Usage::

    def test_something(crm):
        lead = crm.add_leads(1)[0]
        crm.as_("li").leads.claim(lead)
        assert crm.lead(lead).holder_id == crm.uid("li")
"""

import datetime as dt
import itertools

import pytest

from kehu.core.models import Event, Notification, User, Workspace
from kehu.plugins.leads.models import Lead, LeadTransition, Pool
from kehu.testing import without_source_rule

TZ = "Asia/Shanghai"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
UTC = dt.timezone.utc
# 2025-03-03 10:00 in Shanghai (a Monday); 02:00 UTC the same day.
T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)

EAST = "总公司/华东"
NORTH = "总公司/华北"
EAST_1 = "总公司/华东/销售一部"
EAST_2 = "总公司/华东/销售二部"
NORTH_1 = "总公司/华北/销售一部"
UNITS = (EAST_1, EAST_2, NORTH_1)

# login -> (role, org unit path)
USERS = {
    "li": ("rep", EAST_1),
    "wang": ("rep", EAST_1),
    "zhao": ("rep", EAST_2),
    "sun": ("rep", NORTH_1),
    "m1": ("manager", EAST_1),
    "m2": ("manager", NORTH_1),
    "d1": ("director", EAST),
    "vp": ("vp", "总公司"),
    "gm": ("gm", "总公司"),
    "finance": ("finance", "总公司"),
}
REPS = ("li", "wang", "zhao", "sun")
DEFAULT_RULES = {"max_held": 100, "daily_claims": 20, "protect_days": 30, "followup_days": 7, "warn_days": 2,
                 "cooldown_hours": 12}


def days(n):
    return dt.timedelta(days=n)


def hours(n):
    return dt.timedelta(hours=n)


def minutes(n):
    return dt.timedelta(minutes=n)


def seconds(n):
    return dt.timedelta(seconds=n)


def instant(now):
    """``now`` as an aware datetime (or ``None``): a ``timedelta`` counts from :data:`T0`; text is kept as is."""
    if now is None:
        return T0
    if isinstance(now, dt.timedelta):
        return T0 + now
    return now


def utc_iso(now):
    """The ISO text (UTC) services print for instant ``now`` (a ``timedelta`` from T0, or a datetime)."""
    return instant(now).astimezone(UTC).isoformat()


class LeadsCrm:
    """The test's view of workspace ``acme``: handles per user and clock, lead set-up, direct reads of rows."""

    def __init__(self, app):
        self.app = app
        self._phones = itertools.count(1)

    # --- handles ------------------------------------------------------------------------------------

    def as_(self, login, now=None, workspace="acme"):
        """A handle acting as ``login`` (``None`` = the system) at ``now`` (default :data:`T0`)."""
        return self.app.workspace(workspace, user=login, now=instant(now))

    def system(self, now=None):
        return self.as_(None, now)

    def admin(self, now=None):
        return self.as_("admin", now)

    # --- set-up -------------------------------------------------------------------------------------

    def next_phone(self):
        """A fresh mainland mobile number, unique within this test."""
        return f"139{next(self._phones):08d}"

    def add_leads(self, count=1, pool=None, owner=None, now=None, **fields):
        """Add ``count`` leads (as admin, each with its own mobile) to ``pool``; returns their ids."""
        records = []
        for _ in range(count):
            number = self.next_phone()
            records.append({"name": f"线索{number[-4:]}", "company": f"杭州样例{number[-4:]}有限公司",
                            "phone": number, "region": "浙江", "source": "公司资源", "pool": pool,
                            "owner": owner, **fields})
        outcome = self.admin(now).leads.add_many(records)
        assert not outcome["rejected"], outcome["rejected"]
        return [item["id"] for item in outcome["created"]]

    def claimed(self, login, count=1, pool=None, now=None):
        """Add ``count`` leads to ``pool`` and have ``login`` claim each at ``now``; returns their ids."""
        ids = self.add_leads(count, pool=pool, now=now)
        handle = self.as_(login, now)
        for lead_id in ids:
            handle.leads.claim(lead_id)
        return ids

    def set_pool(self, name="public", **rules):
        return self.admin().leads.pool_set(name, **rules)

    # --- reads of stored rows ----------------------------------------------------------------------

    def workspace_row(self, name="acme"):
        return Workspace.get(Workspace.name == name)

    def uid(self, login, workspace="acme"):
        return User.get(User.workspace == self.workspace_row(workspace), User.login == login).id

    def lead(self, lead_id):
        """The stored lead row, read afresh."""
        return Lead.get_by_id(lead_id)

    def pool(self, name="public"):
        return Pool.get(Pool.workspace == self.workspace_row(), Pool.name == name)

    def holder(self, lead_id):
        """The login holding the lead (``None`` when nobody does)."""
        row = self.lead(lead_id)
        return User.get_by_id(row.holder_id).login if row.holder_id else None

    def transitions(self, lead_id=None, reason=None):
        query = LeadTransition.select().where(LeadTransition.workspace == self.workspace_row()) \
            .order_by(LeadTransition.id)
        if lead_id is not None:
            query = query.where(LeadTransition.lead == lead_id)
        if reason is not None:
            query = query.where(LeadTransition.reason == reason)
        return list(query)

    def reasons(self, lead_id):
        return [t.reason for t in self.transitions(lead_id)]

    def events(self, action=None, entity=None, name="acme"):
        """Audit rows of a workspace in the order written, optionally one action and/or ``kind:id``."""
        query = Event.select().where(Event.workspace == self.workspace_row(name)).order_by(Event.id)
        if action:
            query = query.where(Event.action == action)
        if entity:
            kind, _, entity_id = entity.partition(":")
            query = query.where(Event.entity_type == kind, Event.entity_id == entity_id)
        return list(query)

    def inbox(self, login, kind=None):
        """``login``'s notifications through the inbox service (newest first), optionally one ``kind``."""
        items = self.as_(login).inbox.list(limit=0)
        return [n for n in items if kind is None or n["kind"] == kind]

    def notifications(self, kind=None):
        """Every stored notification of acme, oldest first (read from the table)."""
        query = Notification.select().where(Notification.workspace == self.workspace_row()) \
            .order_by(Notification.id)
        if kind:
            query = query.where(Notification.kind == kind)
        return list(query)


def build_leads_crm(app):
    app.create_workspace("acme", "admin", timezone=TZ, now=T0)
    admin = app.workspace("acme", user="admin", now=T0)
    without_source_rule(admin)  # the pool rules are under test here, not the call center's
    for path in UNITS:
        admin.org.add(path)
    for login, (role, unit) in USERS.items():
        admin.users.add(login, role, unit=unit)
    admin.leads.pool_create("east", team=EAST)
    admin.leads.pool_create("north", team=NORTH)

    app.create_workspace("other", "root", timezone=TZ, now=T0)
    app.workspace("other", user="root", now=T0).users.add("olga", "rep")
    return LeadsCrm(app)


@pytest.fixture
def crm(kehu_app):
    """Workspace ``acme`` (org tree, a user of every role, pools public/east/north) and ``other``."""
    return build_leads_crm(kehu_app)


@pytest.fixture
def as_(crm):
    """``as_(login, now=None)`` → a handle on ``acme`` acting as ``login`` at ``now`` (default T0)."""
    return crm.as_


@pytest.fixture
def connect_with(kehu_connect_with):
    """See :func:`kehu.testing.kehu_connect_with`."""
    return kehu_connect_with
