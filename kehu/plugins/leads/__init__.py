"""Lead pools (公海 and private pools): claims, protection, recycling, assignment, dedupe and import."""

import re
from pathlib import Path

from kehu import hookimpl
from kehu.plugins.leads.models import HELD, IN_POOL, MODELS, Lead, Pool

PUBLIC_POOL = "public"


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")


@hookimpl
def kehu_register_services(register):
    from kehu.plugins.leads import assignment, dupes, importer, rules, services

    register("leads", {**services.SERVICES, "assign": assignment.assign_leads, "rules_add": rules.add_rule,
                       "rules": rules.list_rules, "rules_remove": rules.remove_rule,
                       "import_csv": importer.import_leads, "dupes": dupes.possible_duplicates})


@hookimpl
def kehu_register_commands(cli):
    from kehu.plugins.leads import commands

    for command in commands.COMMANDS:
        cli.add_command(command)


@hookimpl
def kehu_register_jobs(register):
    from kehu.plugins.leads import services

    register("leads.sweep", services.sweep, every="tick")


def _ensure_public_pool(context):
    if Pool.get_or_none(Pool.workspace == context.workspace, Pool.name == PUBLIC_POOL) is None:
        Pool.create(workspace=context.workspace, name=PUBLIC_POOL, created_at=context.now)


@hookimpl
def kehu_workspace_created(context):
    """Every workspace with leads has the public pool."""
    _ensure_public_pool(context)


@hookimpl
def kehu_plugin_enabled(context, plugin):
    if plugin == "leads":
        _ensure_public_pool(context)


@hookimpl
def kehu_user_deactivated(context, user, handover):
    """A departing rep's held leads go to the successor, or back to their pools."""
    from kehu.plugins.leads import machine

    ids = [i for (i,) in Lead.select(Lead.id).where(Lead.workspace == context.workspace, Lead.holder == user["id"],
                                                    Lead.state == HELD).tuples()]
    if handover is not None:
        machine.move(context, ids, HELD, handover["id"], machine.HANDOVER, (HELD,))
    else:
        machine.move(context, ids, IN_POOL, None, machine.DEACTIVATED, (HELD,))


_LEAD_ENTITY = re.compile(r"^lead:(\d+)$")


@hookimpl
def kehu_activities_logged(context, activities):
    """Any call, visit or note on a held lead (from any plugin) restarts its follow-up clock."""
    from kehu.plugins.leads import services

    ids = [int(m.group(1)) for a in activities if a["kind"] != "task"
           for m in [_LEAD_ENTITY.match(a.get("entity") or "")] if m]
    if ids:
        services.restart_followup_clock(context, ids)


@hookimpl
def kehu_populate_demo(context, customers, say):
    pool = Pool.get(Pool.workspace == context.workspace, Pool.name == PUBLIC_POOL)
    say(f"leads: the public pool '{pool.name}' (公海) is ready: a rep may hold {pool.max_held} leads and claim "
        f"{pool.daily_claims} a day; unconverted leads return after {pool.protect_days} days, "
        f"or after {pool.followup_days} days without follow-up.")


@hookimpl
def kehu_assignment_strategies(register):
    """The built-in assignment strategies (see kehu.plugins.leads.assignment for the interface)."""
    from kehu.plugins.leads import assignment

    for name, function in assignment.BUILTIN_STRATEGIES.items():
        register(name, function)
