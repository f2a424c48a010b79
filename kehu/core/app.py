"""The application object (``kehu.connect``) and workspace handles for embedding callers."""

import functools

from kehu.core import schema
from kehu.core.context import Context
from kehu.core.db import database, enable_wal, is_sqlite, make_database, resolve_url, utcnow
from kehu.core.plugins import make_plugin_manager
from kehu.core.registry import Registry
from kehu.core.services import jobs, workspaces
from kehu.core.services.lookup import user_by_login
from kehu.core.timeutil import parse_instant, zone
from kehu.errors import Invalid, NotFound, PermissionDenied


class App:
    """One database and one plugin manager. Build it with :func:`kehu.connect`.

    All kehu models bind to one database proxy, so a process works with one open App at a time; opening
    another rebinds the models to the new database.
    """

    def __init__(self, url, db, pm):
        self.url = url
        self.db = db
        self.pm = pm
        self.registry = Registry(pm)

    @classmethod
    def open(cls, url=None, plugins=(), load_entry_points=True, upgrade=True, plugin_manager=None):
        """Open the database at ``url`` (see :func:`kehu.core.db.resolve_url`), migrating it when new.

        ``plugins`` is a sequence of ``(name, module)`` registered beside the installed ones;
        ``plugin_manager`` reuses a manager already built (the CLI builds one to mount commands).
        """
        url = resolve_url(url)
        db = make_database(url)
        database.initialize(db)
        db.connect(reuse_if_open=True)
        if is_sqlite(db) and db.database != ":memory:":
            enable_wal(db)
        pm = plugin_manager or make_plugin_manager(load_entry_points, plugins)
        app = cls(url, db, pm)
        if upgrade and schema.needs_upgrade(app.registry):
            app.upgrade()
        return app

    def close(self):
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- schema -------------------------------------------------------------------------------------

    def upgrade(self):
        """Create or migrate every installed plugin's tables; returns what was done per plugin."""
        return schema.upgrade(self.registry)

    def schema_status(self):
        return schema.status(self.registry)

    # --- workspaces ---------------------------------------------------------------------------------

    def create_workspace(self, name, admin, timezone="Asia/Shanghai", plugins=None, now=None):
        """Create a workspace with an admin user; see :func:`kehu.core.services.workspaces.create_workspace`."""
        moment = parse_instant(now, zone(timezone), "now") if now is not None else utcnow()
        return workspaces.create_workspace(self, name, admin, timezone, plugins, moment)

    def workspaces(self):
        return workspaces.list_workspaces(self)

    def context(self, workspace, user=None, now=None):
        if isinstance(now, str):
            now = parse_instant(now, zone(workspace.timezone), "now")
        return Context(self, workspace, user, now, workspaces.enabled_plugins(workspace))

    def workspace(self, name, user=None, now=None):
        """A handle on workspace ``name`` acting as ``user`` (a login; ``None`` acts as the system).

        ``now`` (ISO text or datetime; without a zone it is in the workspace timezone) is the clock for
        time-dependent services. ``handle.customers.create(...)`` calls the same services as the CLI.
        """
        ws = workspaces.get_workspace(name)
        context = self.context(ws, None, now)
        if user is not None:
            try:
                context.user = user_by_login(context, user)
            except NotFound:
                raise PermissionDenied(f"{user!r} is not a user of workspace {name}") from None
            except Invalid:
                raise PermissionDenied(f"{user!r} is not an active user of workspace {name}") from None
        return WorkspaceHandle(context)

    def tick(self, now=None, workspace=None):
        """Run every enabled plugin's due jobs in one workspace or all; returns the results per workspace."""
        names = [workspace] if workspace else [w["name"] for w in self.workspaces()]
        out = []
        for name in names:
            handle = self.workspace(name, now=now)
            out.append({"workspace": name, "jobs": jobs.run_due_jobs(handle.context)})
        return out


class ServiceNamespace:
    """``namespace.create(...)`` calls ``create_customer(context, ...)``; checks the plugin is enabled."""

    def __init__(self, context, plugin, name, functions):
        self._context = context
        self._plugin = plugin
        self._name = name
        self._functions = functions

    def __getattr__(self, attribute):
        function = self._functions.get(attribute)
        if function is None:
            raise AttributeError(f"{self._name} has no service {attribute!r}")
        self._context.require_plugin(self._plugin)
        return functools.partial(function, self._context)

    def __dir__(self):
        return sorted(self._functions)


class ServiceHandle:
    """The service namespaces of one context, by name (``customers``, ``leads``, ...)."""

    def __init__(self, context):
        self.context = context

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        entry = self.context.app.registry.services.get(name)
        if entry is None:
            raise AttributeError(f"no service namespace {name!r}")
        plugin, functions = entry
        return ServiceNamespace(self.context, plugin, name, functions)

    def __dir__(self):
        return sorted(self.context.app.registry.services)


class WorkspaceHandle(ServiceHandle):
    """What :meth:`App.workspace` returns: the workspace's services, bound to one acting user and clock."""

    @property
    def workspace(self):
        return self.context.workspace

    @property
    def user(self):
        return self.context.user
