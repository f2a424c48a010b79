"""Fixtures for the core service tests: a realistic workspace ``acme`` and a second one, ``other``.

Org tree of ``acme`` (paths from the top)::

    总公司
    ├── 华东                 director d1
    │   ├── 销售一部          manager m1, reps li and wang
    │   └── 销售二部          rep zhao
    └── 华北
        └── 销售一部          rep sun

vp, gm and finance sit at 总公司; ``admin`` (the workspace's first user) has no unit.
``other`` has its own admin ``root`` and rep ``olga``; no user of ``acme`` exists there.

Everything is built through the public Python API (``app.create_workspace``, ``app.workspace(...).users.add``),
the same services the CLI calls.
"""

import pytest

from kehu.core.models import Event, Workspace
from kehu.testing import without_source_rule

ACME_UNITS = ("总公司/华东/销售一部", "总公司/华东/销售二部", "总公司/华北/销售一部")
EAST_1 = "总公司/华东/销售一部"
EAST_2 = "总公司/华东/销售二部"
NORTH_1 = "总公司/华北/销售一部"
EAST = "总公司/华东"
TOP = "总公司"

# login -> (role, org unit path)
ACME_USERS = {
    "li": ("rep", EAST_1),
    "wang": ("rep", EAST_1),
    "zhao": ("rep", EAST_2),
    "sun": ("rep", NORTH_1),
    "m1": ("manager", EAST_1),
    "d1": ("director", EAST),
    "vp": ("vp", TOP),
    "gm": ("gm", TOP),
    "finance": ("finance", TOP),
}
REPS = ("li", "wang", "zhao", "sun")


class Crm:
    """The test's view of the two workspaces: handles per user, and direct reads of stored rows."""

    def __init__(self, app):
        self.app = app

    def as_(self, login, now=None):
        """``app.workspace("acme", user=login)``: a handle acting as ``login`` (``None`` = the system)."""
        return self.app.workspace("acme", user=login, now=now)

    def other(self, login="root", now=None):
        return self.app.workspace("other", user=login, now=now)

    def workspace_row(self, name="acme"):
        return Workspace.get(Workspace.name == name)

    def count(self, model, name="acme"):
        """Rows of ``model`` stored for workspace ``name`` (read from the table, not through a service)."""
        return model.select().where(model.workspace == self.workspace_row(name)).count()

    def events(self, action=None, entity=None, name="acme"):
        """Audit rows of a workspace in the order written, optionally one action and/or ``kind:id``."""
        query = Event.select().where(Event.workspace == self.workspace_row(name)).order_by(Event.id)
        if action:
            query = query.where(Event.action == action)
        if entity:
            kind, _, entity_id = entity.partition(":")
            query = query.where(Event.entity_type == kind, Event.entity_id == entity_id)
        return list(query)

    def snapshot(self, *models, name="acme"):
        """Row counts of ``models`` plus the audit log: compare before/after a write that must store nothing."""
        return {model.__name__: self.count(model, name) for model in (*models, Event)}


def build_crm(app):
    app.create_workspace("acme", "admin")
    admin = app.workspace("acme", user="admin")
    without_source_rule(admin)  # core's own rules are under test here, not the call center's
    for path in ACME_UNITS:
        admin.org.add(path)
    for login, (role, unit) in ACME_USERS.items():
        admin.users.add(login, role, unit=unit)

    app.create_workspace("other", "root")
    app.workspace("other", user="root").users.add("olga", "rep")
    without_source_rule(app.workspace("other", user="root"))
    return Crm(app)


@pytest.fixture
def crm(kehu_app):
    """Workspaces ``acme`` (full org tree and a user of every role) and ``other`` on a fresh database."""
    return build_crm(kehu_app)


@pytest.fixture
def as_(crm):
    """``as_(login)`` → ``app.workspace("acme", user=login)``."""
    return crm.as_


@pytest.fixture
def owned(crm):
    """One customer per rep and one for manager m1, each created by its owner: ``{login: customer id}``."""
    ids = {}
    for login in (*REPS, "m1"):
        ids[login] = crm.as_(login).customers.create(name=f"{login}的客户", region="华东")["id"]
    return ids


@pytest.fixture
def connect_with(kehu_connect_with):
    """See :func:`kehu.testing.kehu_connect_with`."""
    return kehu_connect_with
