"""Assignment rules: each pool's ordered list of "condition → strategy (team, targets)", stored as data.

A rule's condition is an exact match on any of the lead's ``source``, ``region`` and ``industry`` (all given
ones must match; no condition matches every lead). ``kehu leads assign`` without ``--strategy`` gives each lead
the first rule of its pool that matches. Rules are numbered 1, 2, ... in their pool (``position``), the
number ``--explain`` quotes; ``id`` is what ``rules remove`` takes.
"""

from marshmallow import fields, validate

from kehu.core import access
from kehu.core.context import service
from kehu.core.models import OrgUnit, User
from kehu.core.schemas import StrictSchema, Text, load
from kehu.core.services.lookup import parse_id, unit_by_path
from kehu.errors import Invalid, NotFound, PermissionDenied
from kehu.plugins.leads.models import AssignmentRule, Pool

CONDITION_FIELDS = ("source", "region", "industry")


class RuleInput(StrictSchema):
    pool = Text(load_default=None, allow_none=True)
    strategy = Text(required=True, validate=validate.Length(max=30))
    source = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    region = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    industry = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    team = Text(load_default=None, allow_none=True)
    to = fields.List(Text(), load_default=list)
    position = fields.Integer(strict=False, load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=10_000))


def split_logins(value):
    """``"li, wang"`` or ``["li", "wang"]`` → ``["li", "wang"]`` (order kept, repeats dropped)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    return list(dict.fromkeys(str(item).strip() for item in value if str(item).strip()))


def strategy_names(context):
    return sorted(name for name, (plugin, _) in context.app.registry.strategies.items()
                  if context.plugin_enabled(plugin))


def strategy_function(context, name):
    """The function registered under ``name`` (``invalid`` naming the known ones when there is none)."""
    entry = context.app.registry.strategies.get(name)
    if entry is None:
        raise Invalid(f"unknown assignment strategy {name!r} (strategies: {', '.join(strategy_names(context))})")
    plugin, function = entry
    if not context.plugin_enabled(plugin):
        raise Invalid(f"assignment strategy {name!r} comes from plugin {plugin}, which is not enabled in "
                      f"workspace {context.workspace.name}")
    return function


def target_users(context, logins):
    """Users named by ``logins``, in that order: each must exist, be active and be in the actor's scope."""
    users = []
    for item in logins:
        user = User.get_or_none(User.workspace == context.workspace, User.login == item)
        if user is None:
            raise NotFound(f"no user {item!r} in workspace {context.workspace.name}")
        if not user.active:
            raise Invalid(f"user {item!r} is not active")
        if not access.owner_in_scope(context, user.id):
            raise PermissionDenied(f"{item} is outside your data scope")
        users.append(user)
    return users


def condition_text(condition):
    parts = [f"{key}={condition[key]}" for key in CONDITION_FIELDS if condition.get(key) is not None]
    return ", ".join(parts) if parts else "any lead"


def matches(condition, lead):
    """Whether ``lead`` (anything with ``source``/``region``/``industry``) meets ``condition``."""
    return all(getattr(lead, key, None) == value for key, value in (condition or {}).items() if value is not None)


def rule_view(rule, pool_name, team_path, logins):
    return {"id": rule.id, "pool": pool_name, "position": rule.position,
            "condition": {k: v for k, v in (rule.condition or {}).items() if v is not None},
            "when": condition_text(rule.condition or {}), "strategy": rule.strategy, "team": team_path,
            "to": logins}


def _views(context, rules):
    """Views of ``rules`` with their pool names, team paths and target logins read in three queries."""
    rules = list(rules)
    pools = dict(Pool.select(Pool.id, Pool.name).where(Pool.id.in_({r.pool_id for r in rules})).tuples()) \
        if rules else {}
    teams = {r.team_id for r in rules if r.team_id}
    paths = dict(OrgUnit.select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(teams)).tuples()) if teams else {}
    ids = {uid for r in rules for uid in (r.targets or [])}
    logins = dict(User.select(User.id, User.login).where(User.id.in_(ids)).tuples()) if ids else {}
    return [rule_view(r, pools.get(r.pool_id), paths.get(r.team_id),
                      [logins.get(u, f"#{u}") for u in r.targets or []]) for r in rules]


def _pool(context, name):
    from kehu.plugins.leads.services import may_use_pool, pool_by_name

    pool = pool_by_name(context, name)
    if not may_use_pool(context, pool):
        raise PermissionDenied(f"pool {pool.name} belongs to another team")
    return pool


@service
def add_rule(context, strategy, pool=None, source=None, region=None, industry=None, team=None, to=None,
             position=None):
    """Add an assignment rule to a pool (manager or above): at the end, or at ``position`` (1 = first).

    ``to`` (logins, a list or ``"a,b"``) is required by strategies that give leads to a named list
    (``designated``, ``special``); for the others it narrows the candidates to those users.
    """
    access.require_manager(context, "change assignment rules")
    data = load(RuleInput(), {"pool": pool, "strategy": strategy, "source": source, "region": region,
                              "industry": industry, "team": team, "to": split_logins(to), "position": position})
    row = _pool(context, data["pool"])
    function = strategy_function(context, data["strategy"])
    if getattr(function, "needs_targets", False) and not data["to"]:
        raise Invalid(f"strategy {data['strategy']} needs --to LOGIN,...")
    unit = unit_by_path(context, data["team"]) if data["team"] else None
    users = target_users(context, data["to"])
    condition = {k: data[k] for k in CONDITION_FIELDS if data[k] is not None}
    count = AssignmentRule.select().where(AssignmentRule.workspace == context.workspace,
                                          AssignmentRule.pool == row).count()
    at = min(data["position"] or count + 1, count + 1)
    if at <= count:
        (AssignmentRule.update(position=AssignmentRule.position + 1)
         .where(AssignmentRule.workspace == context.workspace, AssignmentRule.pool == row,
                AssignmentRule.position >= at).execute())
    rule = AssignmentRule.create(workspace=context.workspace, pool=row, position=at, condition=condition,
                                 strategy=data["strategy"], team=unit, targets=[u.id for u in users])
    result = rule_view(rule, row.name, unit.path if unit else None, [u.login for u in users])
    context.audit("leads.rule_added", "lead_rule", rule.id, after=result)
    return result


def list_rules(context, pool=None):
    """The assignment rules of one pool, or of every pool the actor may use, in order."""
    from kehu.plugins.leads.services import may_use_pool

    query = AssignmentRule.select().where(AssignmentRule.workspace == context.workspace)
    if pool:
        query = query.where(AssignmentRule.pool == _pool(context, pool))
    usable = {p.id for p in Pool.select().where(Pool.workspace == context.workspace) if may_use_pool(context, p)}
    rules = [r for r in query.order_by(AssignmentRule.pool, AssignmentRule.position) if r.pool_id in usable]
    return sorted(_views(context, rules), key=lambda v: (v["pool"], v["position"]))


@service
def remove_rule(context, rule_id):
    """Remove a rule (manager or above); the rules after it move up one place."""
    access.require_manager(context, "change assignment rules")
    rule_id = parse_id(rule_id, "rule")
    rule = AssignmentRule.get_or_none(AssignmentRule.workspace == context.workspace, AssignmentRule.id == rule_id)
    if rule is None:
        raise NotFound(f"no assignment rule {rule_id}")
    pool = Pool.get_by_id(rule.pool_id)
    _pool(context, pool.name)
    [before] = _views(context, [rule])
    rule.delete_instance()
    (AssignmentRule.update(position=AssignmentRule.position - 1)
     .where(AssignmentRule.workspace == context.workspace, AssignmentRule.pool == pool.id,
            AssignmentRule.position > rule.position).execute())
    context.audit("leads.rule_removed", "lead_rule", rule_id, before=before)
    return before


def pool_rules(context, pool_id):
    """A pool's rules in order (model rows), for the assignment service."""
    return list(AssignmentRule.select().where(AssignmentRule.workspace == context.workspace,
                                              AssignmentRule.pool == pool_id).order_by(AssignmentRule.position))
