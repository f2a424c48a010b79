"""Workspaces and per-workspace plugin enablement."""

from kehu.core.access import DEFAULT_ROLES
from kehu.core.context import service
from kehu.core.db import database
from kehu.core.models import Role, User, Workspace, WorkspacePlugin
from kehu.core.schemas import WorkspaceInput, load
from kehu.core.views import WorkspaceView, dump, dump_many
from kehu.errors import Conflict, Invalid, NotFound
from kehu.core import access


def seed_roles(context, plugin_names):
    """Add the default roles and those registered by ``plugin_names`` that the workspace lacks."""
    existing = {key for (key,) in Role.select(Role.key).where(Role.workspace == context.workspace).tuples()}
    wanted = [(r.key, r.rank, r.scope, list(r.permissions), r.label) for r in DEFAULT_ROLES]
    for spec in context.app.registry.roles.values():
        if spec.plugin in plugin_names:
            wanted.append((spec.key, spec.rank, spec.scope, list(spec.permissions), spec.label))
    rows = [
        {"workspace": context.workspace.id, "key": key, "rank": rank, "scope": scope, "permissions": perms,
         "label": label}
        for key, rank, scope, perms, label in wanted
        if key not in existing
    ]
    if rows:
        Role.insert_many(rows).execute()


def create_workspace(app, name, admin, timezone="Asia/Shanghai", plugins=None, now=None):
    """Create a workspace with its roles, its first admin user and its plugins (default: every built-in).

    Returns the workspace as a dict. Fails with ``conflict`` when the name is taken, ``invalid`` for an
    unknown plugin or a plugin whose requirements are not enabled with it.
    """
    data = load(WorkspaceInput(), {"name": name, "admin": admin, "timezone": timezone, "plugins": plugins})
    available = app.pm.optional_plugins
    if data["plugins"] is None:
        enabled = [n for n, info in available.items() if info.builtin]
    else:
        enabled = []
        for plugin in data["plugins"]:
            plugin = plugin.strip()
            if not plugin:
                continue
            if plugin not in available:
                raise Invalid(f"unknown plugin {plugin!r} (installed: {', '.join(sorted(available))})")
            if plugin not in enabled:
                enabled.append(plugin)
    for plugin in enabled:
        missing = [r for r in available[plugin].requires if r not in enabled]
        if missing:
            raise Invalid(f"plugin {plugin} requires {', '.join(missing)}")
    with database.atomic():
        if Workspace.get_or_none(Workspace.name == data["name"]) is not None:
            raise Conflict(f"workspace {data['name']!r} already exists")
        workspace = Workspace.create(name=data["name"], timezone=data["timezone"], settings={},
                                     **({"created_at": now} if now else {}))
        context = app.context(workspace, None, now)
        seed_roles(context, enabled)
        WorkspacePlugin.insert_many(
            [{"workspace": workspace.id, "plugin": p, "enabled": True} for p in enabled]
        ).execute()
        user = User.create(workspace=workspace, login=data["admin"], name=data["admin"], role="admin")
        context.audit("workspace.created", "workspace", workspace.id,
                      after={"name": workspace.name, "timezone": workspace.timezone, "plugins": enabled,
                             "admin": user.login})
        context.enabled = frozenset(enabled)
        # Seeding runs in the creating transaction: a plugin that fails to seed leaves no half workspace.
        context.hooks.kehu_workspace_created(context=context)
    result = dump(WorkspaceView, workspace)
    result["plugins"] = enabled
    result["admin"] = user.login
    return result


def list_workspaces(app):
    rows = list(Workspace.select().order_by(Workspace.name))
    enabled = {}
    for ws_id, plugin in (WorkspacePlugin.select(WorkspacePlugin.workspace, WorkspacePlugin.plugin)
                          .where(WorkspacePlugin.enabled).tuples()):
        enabled.setdefault(ws_id, []).append(plugin)
    out = dump_many(WorkspaceView, rows)
    for item in out:
        item["plugins"] = sorted(enabled.get(item["id"], []))
    return out


def get_workspace(name):
    workspace = Workspace.get_or_none(Workspace.name == name)
    if workspace is None:
        raise NotFound(f"no workspace {name!r} (create it with `kehu workspace create {name} --admin LOGIN`)")
    return workspace


def enabled_plugins(workspace):
    return frozenset(
        p for (p,) in WorkspacePlugin.select(WorkspacePlugin.plugin)
        .where(WorkspacePlugin.workspace == workspace, WorkspacePlugin.enabled).tuples()
    )


def list_plugins(context):
    """Every installed plugin: name, version, builtin or not, enabled in this workspace, load error."""
    out = []
    for name, info in sorted(context.app.pm.infos.items()):
        if name == "core":
            continue
        out.append({"name": name, "version": info.version, "builtin": info.builtin,
                    "enabled": name in context.enabled, "requires": list(info.requires),
                    "description": info.description, "error": info.error})
    return out


def _installed(context, name):
    info = context.app.pm.infos.get(name)
    if info is None or name == "core":
        raise NotFound(f"no plugin {name!r} is installed")
    return info


@service
def enable_plugin(context, name):
    """Enable ``name`` in the workspace (admin). Its kept data comes back; missing defaults are seeded."""
    access.require(context, "admin", "enable plugins")
    info = _installed(context, name)
    if not info.loaded:
        raise Invalid(f"plugin {name} failed to load: {info.error}")
    missing = [r for r in info.requires if r not in context.enabled]
    if missing:
        raise Invalid(f"plugin {name} requires {', '.join(missing)}; enable it first")
    if name in context.enabled:
        return {"plugin": name, "enabled": True, "changed": False}
    updated = (WorkspacePlugin.update(enabled=True, changed_at=context.now)
               .where(WorkspacePlugin.workspace == context.workspace, WorkspacePlugin.plugin == name).execute())
    if not updated:
        WorkspacePlugin.create(workspace=context.workspace, plugin=name, enabled=True, changed_at=context.now)
    context.enabled = context.enabled | {name}
    seed_roles(context, {name})
    context.audit("plugin.enabled", "plugin", name)
    context.hooks.kehu_plugin_enabled(context=context, plugin=name)
    return {"plugin": name, "enabled": True, "changed": True}


@service
def disable_plugin(context, name):
    """Disable ``name`` in the workspace (admin). Its data is kept; its hooks and commands stop here."""
    access.require(context, "admin", "disable plugins")
    _installed(context, name)
    if name not in context.enabled:
        return {"plugin": name, "enabled": False, "changed": False}
    dependants = [n for n in context.enabled if name in context.app.pm.infos[n].requires]
    if dependants:
        raise Conflict(f"plugin {name} is required by {', '.join(sorted(dependants))}; disable those first")
    # The disabled plugin hears of it too, before its hooks stop running here.
    context.hooks.kehu_plugin_disabled(context=context, plugin=name)
    (WorkspacePlugin.update(enabled=False, changed_at=context.now)
     .where(WorkspacePlugin.workspace == context.workspace, WorkspacePlugin.plugin == name).execute())
    context.enabled = context.enabled - {name}
    context.audit("plugin.disabled", "plugin", name)
    return {"plugin": name, "enabled": False, "changed": True}


SERVICES = {"list": list_plugins, "enable": enable_plugin, "disable": disable_plugin}
