"""Administration commands: workspace, plugins, org, user, field, db."""

import click

from kehu.core.console import emit, list_options, page, pass_context, pass_state
from kehu.core.services import org, records, users, workspaces


def _split(value):
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]


@click.group()
def workspace():
    """Create and list workspaces (one per customer deployment)."""


@workspace.command("create")
@click.argument("name")
@click.option("--admin", "admin_login", required=True, help="Login of the workspace's first admin.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--plugins", help="Comma-separated plugins to enable (default: every built-in).")
@pass_state
def workspace_create(state, name, admin_login, timezone, plugins):
    """Create workspace NAME with an admin user."""
    result = state.app.create_workspace(name, admin_login, timezone, _split(plugins), now=state.now_text)
    emit(result, human=lambda r: f"created workspace {r['name']} (admin {r['admin']}; "
                                 f"plugins: {', '.join(r['plugins']) or 'none'})")


@workspace.command("list")
@list_options
@pass_state
def workspace_list(state, limit, offset, csv_output):
    """List workspaces and their enabled plugins."""
    emit(page(state.app.workspaces(), limit, offset), columns=["id", "name", "timezone", "plugins"],
         csv_output=csv_output)


@click.group()
def plugins():
    """List installed plugins and enable or disable them in a workspace."""


@plugins.command("list")
@list_options
@pass_context
def plugins_list(context, limit, offset, csv_output):
    """Every installed plugin: version, built-in or third-party, enabled in this workspace."""
    rows = page(workspaces.list_plugins(context), limit, offset)
    columns = ["name", "version", "builtin", "enabled", "description"]
    if any(row["error"] for row in rows):
        columns.append("error")
    emit(rows, columns=columns, csv_output=csv_output)


@plugins.command("enable")
@click.argument("name")
@pass_context
def plugins_enable(context, name):
    """Enable plugin NAME in this workspace (admin)."""
    result = workspaces.enable_plugin(context, name)
    emit(result, human=lambda r: f"{name} is enabled in {context.workspace.name}"
                                 + ("" if r["changed"] else " (it already was)"))


@plugins.command("disable")
@click.argument("name")
@pass_context
def plugins_disable(context, name):
    """Disable plugin NAME in this workspace (admin); its data is kept."""
    result = workspaces.disable_plugin(context, name)
    emit(result, human=lambda r: f"{name} is disabled in {context.workspace.name} (its data is kept)"
                                 + ("" if r["changed"] else "; it already was"))


@click.group("org")
def org_group():
    """The organisation tree: company → region → department → ..."""


@org_group.command("add")
@click.argument("path")
@click.option("--kind", help="What the unit is: company, region, department, branch ...")
@pass_context
def org_add(context, path, kind):
    """Add the unit PATH (e.g. 华东/销售一部), creating its ancestors."""
    result = org.add_unit(context, path, kind)
    emit(result, human=lambda r: f"org unit {r['path']}" + (f" added ({', '.join(r['created'])})"
                                                             if r["created"] else " already exists"))


@org_group.command("list")
@list_options
@pass_context
def org_list(context, limit, offset, csv_output):
    """The org tree with user counts."""
    emit(org.list_units(context, limit, offset), columns=["id", "path", "kind", "users"], csv_output=csv_output)


@click.group("user")
def user_group():
    """Users: add, update, deactivate, list; roles."""


@user_group.command("add")
@click.argument("login")
@click.option("--role", required=True, help="rep, manager, director, vp, gm, finance, admin (or a pack's role).")
@click.option("--unit", help="Org unit path.")
@click.option("--name", help="Display name.")
@pass_context
def user_add(context, login, role, unit, name):
    """Add user LOGIN (admin)."""
    emit(users.add_user(context, login, role, unit, name))


@user_group.command("update")
@click.argument("login")
@click.option("--role")
@click.option("--unit", help="Org unit path ('' removes the unit).")
@click.option("--name")
@pass_context
def user_update(context, login, role, unit, name):
    """Change a user's role, unit or name (admin)."""
    emit(users.update_user(context, login, role=role, unit=unit, name=name))


@user_group.command("deactivate")
@click.argument("login")
@click.option("--handover", help="Give the user's customers and leads to this user.")
@pass_context
def user_deactivate(context, login, handover):
    """Deactivate user LOGIN (admin); their records go to --handover or back to the pool."""
    emit(users.deactivate_user(context, login, handover))


@user_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include inactive users.")
@click.option("--role")
@click.option("--unit")
@list_options
@pass_context
def user_list(context, include_inactive, role, unit, limit, offset, csv_output):
    """List users."""
    emit(users.list_users(context, include_inactive, role, unit, limit, offset),
         columns=["id", "login", "name", "role", "unit", "active"], csv_output=csv_output)


@user_group.command("roles")
@list_options
@pass_context
def user_roles(context, limit, offset, csv_output):
    """The workspace's roles: rank, data scope and permissions."""
    emit(page(users.list_roles(context), limit, offset), columns=["key", "rank", "scope", "permissions", "label"],
         csv_output=csv_output)


@click.group("field")
def field_group():
    """Custom fields declared per workspace."""


@field_group.command("add")
@click.argument("name")
@click.option("--type", "field_type", required=True, help="text, int, decimal, date or choice.")
@click.option("--choices", help="Comma-separated values of a choice field.")
@click.option("--required", is_flag=True)
@click.option("--entity", default="customer", show_default=True, help="Which records get the field.")
@click.option("--label")
@pass_context
def field_add(context, name, field_type, choices, required, entity, label):
    """Declare custom field NAME (admin)."""
    emit(records.add_field(context, name, field_type, _split(choices), required, entity, label))


@field_group.command("list")
@click.option("--entity")
@list_options
@pass_context
def field_list(context, entity, limit, offset, csv_output):
    """The declared custom fields."""
    emit(page(records.list_fields(context, entity), limit, offset),
         columns=["entity", "name", "type", "choices", "required"], csv_output=csv_output)


@click.group("db")
def db_group():
    """The database schema."""


@db_group.command("upgrade")
@pass_state
def db_upgrade(state):
    """Create or migrate every installed plugin's tables."""
    state.auto_upgrade = False  # report what this command does, not what opening the database did
    done = state.app.upgrade()
    status = {row["plugin"]: row["version"] for row in state.app.schema_status()}
    rows = [{"plugin": d["plugin"], "version": status.get(d["plugin"]), "created": d["created"],
             "applied": d["applied"]} for d in done]
    emit(rows, columns=["plugin", "version", "created", "applied"])


@db_group.command("status")
@pass_state
def db_status(state):
    """Each plugin's schema version and pending migrations."""
    state.auto_upgrade = False
    emit(state.app.schema_status(), columns=["plugin", "version", "pending"])


COMMANDS = [workspace, plugins, org_group, user_group, field_group, db_group]
