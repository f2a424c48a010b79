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
    """Demo: leads in the public pool, one claimed by a rep, the rest dealt round-robin by the manager."""
    from kehu.plugins.leads import assignment, services

    pool = Pool.get(Pool.workspace == context.workspace, Pool.name == PUBLIC_POOL)
    samples = [
        {"name": "王磊", "company": "宁波海鲜批发市场", "phone": "13605740011", "region": "浙江", "source": "CSC网单"},
        {"name": "刘芳", "company": "苏州母婴用品店", "phone": "13962110022", "region": "江苏", "source": "公司资源"},
        {"name": "赵强", "company": "温州眼镜厂", "phone": "0577-8888 6666", "region": "浙江",
         "source": "个人搜索-公共资源"},
        {"name": "陈晨", "company": "合肥连锁便利店", "phone": "13855110033", "region": "安徽", "source": "老客户介绍"},
        {"name": "周杰", "company": "无锡机械配件厂", "email": "zhou@wx-parts.example", "region": "江苏",
         "source": "个人搜索-个人人脉"},
    ]
    added = services.add_leads(context, samples)["created"]
    li = context.app.workspace(context.workspace.name, user="li", now=context.clock)
    claim = services.claim_lead(li.context, added[0]["id"])
    director = context.app.workspace(context.workspace.name, user="zhou", now=context.clock)
    dealt = assignment.assign_leads(director.context, pool=PUBLIC_POOL, strategy="round_robin")
    given = [d for d in dealt if d["holder"]]
    say(f"leads: added {len(added)} leads to the public pool '{pool.name}' (公海); rep li claimed lead "
        f"{claim['lead']} (protected until {claim['protected_until'][:10]}, follow up by "
        f"{claim['followup_due'][:10]}); director zhou dealt {len(given)} more round-robin to "
        f"{', '.join(sorted({d['holder'] for d in given}))}. Pool rules: hold ≤ {pool.max_held}, "
        f"claim ≤ {pool.daily_claims}/day, recycle after {pool.protect_days} days unconverted or "
        f"{pool.followup_days} days without follow-up.")


@hookimpl
def kehu_assignment_strategies(register):
    """The built-in assignment strategies (see kehu.plugins.leads.strategies for the interface)."""
    from kehu.plugins.leads import strategies

    for name, function in strategies.BUILTIN_STRATEGIES.items():
        register(name, function)


@hookimpl
def kehu_return_lead_to_pool(context, lead_id, reason):
    """Another plugin (the call center's "refused" disposition) returns a held lead to its pool, through
    the state machine like every other move; a lead already in a pool is left there."""
    from kehu.plugins.leads import machine

    lead = Lead.get_or_none(Lead.workspace == context.workspace, Lead.id == lead_id)
    if lead is None:
        from kehu.errors import NotFound

        raise NotFound(f"no lead {lead_id}")
    moved = machine.move(context, [lead.id], IN_POOL, None, machine.RETURNED_BY_PLUGIN, (HELD,), note=reason)
    return {"lead": lead.id, "state": IN_POOL if moved or lead.state == IN_POOL else lead.state,
            "moved": bool(moved)}
