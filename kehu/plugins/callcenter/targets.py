"""Monthly targets cascading GM → region → department → rep (目标分解, DOMAIN.md §4.5), and their progress.

A target is set for one month (``YYYY-MM``) on an org unit or a rep: a deals amount (yuan), and optionally a
number of calls and of visits. Readings where the documents leave room (each repeated where the code decides):

* **Who sets what.** A manager or above, downwards only: a unit-scoped manager or director sets the targets of
  the units *below* their own and of the users in their subtree other than themselves (their own unit's and
  their own target come from above); the vp and above set any unit's or user's; the top unit's (a unit
  without a parent) only the general manager (and the admin, and the system).
* **Over- and under-planning.** When the targets of a unit's children (its direct child units and the users
  directly in it) add up to more than its own, setting succeeds with a warning naming both sums (a manager may
  plan above the target handed down); below it is the ``unassigned_*`` gap that progress shows.
* **Achieved.** Deals: the amount of won opportunities owned by the unit's users whose last change (core keeps
  no close date: ``updated_at`` of a won opportunity is when it was marked won unless edited afterwards) falls
  in that local month. Calls and visits: core activities of kind ``call`` / ``visit`` by those users that
  happened in that local month (``done_at``, else ``created_at``; a scheduled one not done yet does not
  count). A unit's figures are those of every user in its subtree. Aggregation is SQL (GROUP BY per user);
  only the roll-up over the org tree is done in Python.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from marshmallow import ValidationError, fields, validate, validates_schema
from peewee import fn

from kehu.core import access
from kehu.core.context import service
from kehu.core.db import in_ids, is_postgres, money, to_utc
from kehu.core.models import Activity, Opportunity, OrgUnit, User
from kehu.core.schemas import StrictSchema, Text, load
from kehu.core.services.lookup import unit_by_path, user_by_login
from kehu.errors import PermissionDenied
from kehu.plugins.callcenter.models import Target

PERIOD_RE = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
MAX_AMOUNT = Decimal(10) ** 13  # stored as integer fen in a 64-bit column
MAX_COUNT = 10 ** 7
MEASURES = ("amount", "calls", "visits")
GM_RANK = next(role.rank for role in access.DEFAULT_ROLES if role.key == "gm")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


class Period(fields.String):
    def __init__(self, **kwargs):
        super().__init__(validate=validate.Regexp(PERIOD_RE, error="must be a month, YYYY-MM (e.g. 2025-03)"),
                         **kwargs)


class TargetInput(StrictSchema):
    period = Period(required=True)
    unit = Text(load_default=None, allow_none=True)
    rep = Text(load_default=None, allow_none=True)
    amount = fields.Decimal(required=True, places=2, rounding=ROUND_HALF_UP, allow_nan=False,
                            validate=validate.Range(min=0, max=MAX_AMOUNT, max_inclusive=False))
    calls = fields.Integer(load_default=None, allow_none=True, strict=False, validate=validate.Range(0, MAX_COUNT))
    visits = fields.Integer(load_default=None, allow_none=True, strict=False,
                            validate=validate.Range(0, MAX_COUNT))

    @validates_schema
    def _one_holder(self, data, **kwargs):
        if (data.get("unit") is None) == (data.get("rep") is None):
            raise ValidationError("give exactly one of --unit PATH or --rep LOGIN")


class ProgressInput(StrictSchema):
    period = Period(required=True)
    unit = Text(load_default=None, allow_none=True)


# --- who may set and see what --------------------------------------------------------------------------------


def _within(path, ancestor_path, strictly=False):
    """Whether org path ``path`` is ``ancestor_path`` or below it (``strictly``: below only)."""
    return path.startswith(ancestor_path + "/") or (not strictly and path == ancestor_path)


def _actor_unit_path(context):
    if context.user is None or context.user.unit_id is None:
        return None
    return OrgUnit.get_by_id(context.user.unit_id).path


def _may_plan_unit(context, unit):
    """Targets go downwards: see the module docstring."""
    role = access.role_of(context)
    if role is None:
        return
    if unit.parent_id is None:
        if role.rank < GM_RANK:
            raise PermissionDenied(f"only the general manager sets the target of the top unit {unit.path}")
        return
    if role.scope == "all":
        return
    mine = _actor_unit_path(context)
    if role.scope != "unit" or mine is None or not _within(unit.path, mine, strictly=True):
        raise PermissionDenied(f"{unit.path} is not below your unit: its target is set from above")


def _may_plan_user(context, user):
    role = access.role_of(context)
    if role is None or role.scope == "all":
        return
    if user.id == context.user.id:
        raise PermissionDenied("your own target is set from above")
    mine = _actor_unit_path(context)
    theirs = OrgUnit.get_by_id(user.unit_id).path if user.unit_id is not None else None
    if role.scope != "unit" or mine is None or theirs is None or not _within(theirs, mine):
        raise PermissionDenied(f"{user.login} is outside your data scope")


def _may_view_unit(context, unit):
    role = access.role_of(context)
    if role is None or role.scope == "all":
        return
    mine = _actor_unit_path(context)
    if role.scope != "unit" or mine is None or not _within(unit.path, mine):
        raise PermissionDenied(f"{unit.path} is outside your data scope")


# --- setting ----------------------------------------------------------------------------------------------------


def _lock(model, row_id):
    """Serialise setting targets on one unit or user on PostgreSQL (SQLite's write lock already does)."""
    if is_postgres():
        model.select(model.id).where(model.id == row_id).for_update().execute()


def _text(value):
    return None if value is None else str(money(value))


def _target_view(row, unit=None, user=None):
    return {"id": row.id, "period": row.period, "unit": unit.path if unit is not None else None,
            "rep": user.login if user is not None else None, "amount": _text(row.amount), "calls": row.calls,
            "visits": row.visits, "set_by": row.set_by.login if row.set_by_id else None,
            "set_at": None if row.set_at is None else to_utc(row.set_at).isoformat()}


@service
def set_target(context, period, amount, unit=None, rep=None, calls=None, visits=None):
    """Set the month's target of an org unit (``unit`` path) or a user (``rep`` login): amount in yuan and
    optionally calls and visits; setting again replaces it.

    Targets cascade downwards (GM → region → department → rep); see the module docstring for who may set
    which. Returns the stored target plus ``warnings``: one per measure where the children of the unit
    concerned (the parent of what was set, and the unit itself) add up to more than its own target.
    """
    access.require_manager(context, "set targets")
    data = load(TargetInput(), {"period": period, "amount": amount, "unit": unit, "rep": rep, "calls": calls,
                                "visits": visits})
    holder_unit = holder_user = None
    if data["unit"] is not None:
        holder_unit = unit_by_path(context, data["unit"])
        _may_plan_unit(context, holder_unit)
        _lock(OrgUnit, holder_unit.id)
    else:
        holder_user = user_by_login(context, data["rep"])
        _may_plan_user(context, holder_user)
        _lock(User, holder_user.id)
    # The unique index (workspace, period, unit, user) holds NULLs distinct, so the upsert is by hand, under
    # the lock above (PostgreSQL) or the write lock (SQLite).
    row = Target.get_or_none(Target.workspace == context.workspace, Target.period == data["period"],
                             _holder_is(Target.unit, holder_unit), _holder_is(Target.user, holder_user))
    before = _target_view(row, holder_unit, holder_user) if row is not None else None
    if row is None:
        row = Target(workspace=context.workspace, period=data["period"], unit=holder_unit, user=holder_user)
    row.amount, row.calls, row.visits = data["amount"], data["calls"], data["visits"]
    row.set_by, row.set_at = context.user, context.now
    row.save()
    result = _target_view(row, holder_unit, holder_user)
    context.audit("target.set", "target", row.id, before=before, after=result)
    return {**result, "warnings": _warnings(context, data["period"], holder_unit, holder_user)}


def _holder_is(column, row):
    return column.is_null() if row is None else (column == row.id)


def _children_sums(context, period, unit_id):
    """SQL: the sums of the targets of ``unit_id``'s children (direct child units and users directly in it)."""
    child_units = OrgUnit.select(OrgUnit.id).where(OrgUnit.workspace == context.workspace, OrgUnit.parent == unit_id)
    members = User.select(User.id).where(User.workspace == context.workspace, User.unit == unit_id)
    row = (Target.select(fn.COUNT(Target.id), fn.SUM(Target.amount), fn.SUM(Target.calls), fn.SUM(Target.visits))
           .where(Target.workspace == context.workspace, Target.period == period,
                  Target.unit.in_(child_units) | Target.user.in_(members)).tuples().first())
    count, amount, calls, visits = row
    if not count:
        return None
    return {"amount": _yuan(amount), "calls": None if calls is None else int(calls),
            "visits": None if visits is None else int(visits)}


def _yuan(fen):
    """Integer fen from SQL (int on SQLite, Decimal on PostgreSQL, None for an empty sum) → Decimal yuan."""
    return money(Decimal(int(fen or 0)) / 100)


def _warnings(context, period, unit, user):
    """Over-planning warnings for the units a new target touches: its parent unit and (for a unit) itself."""
    concerned = []
    if unit is not None:
        if unit.parent_id is not None:
            concerned.append(OrgUnit.get_by_id(unit.parent_id))
        concerned.append(unit)
    elif user.unit_id is not None:
        concerned.append(OrgUnit.get_by_id(user.unit_id))
    warnings = []
    for node in concerned:
        own = Target.get_or_none(Target.workspace == context.workspace, Target.period == period,
                                 Target.unit == node.id, Target.user.is_null())
        sums = _children_sums(context, period, node.id)
        if own is None or sums is None:
            continue
        for measure in MEASURES:
            mine, theirs = getattr(own, measure), sums[measure]
            if mine is not None and theirs is not None and theirs > mine:
                shown = (_text(theirs), _text(mine)) if measure == "amount" else (theirs, mine)
                warnings.append({
                    "code": "children_exceed", "unit": node.path, "measure": measure, "children": shown[0],
                    "target": shown[1],
                    "message": f"the {measure} targets under {node.path} add up to {shown[0]}, more than its own "
                               f"{measure} target {shown[1]}"})
    return warnings


# --- progress ---------------------------------------------------------------------------------------------------


def _month_bounds(context, period):
    """UTC bounds ``[start, end)`` of local month ``period`` (``YYYY-MM``) in the workspace timezone."""
    year, month = int(period[:4]), int(period[5:])
    start = dt.datetime(year, month, 1, tzinfo=context.tz)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=context.tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def _activity_counts(context, kind, user_ids, start, end):
    """``{user id: number}`` of activities of ``kind`` that happened in ``[start, end)``, one GROUP BY."""
    happened = fn.COALESCE(Activity.done_at, Activity.created_at)
    query = (Activity.select(Activity.user, fn.COUNT(Activity.id))
             .where(Activity.workspace == context.workspace, Activity.kind == kind, in_ids(Activity.user, user_ids),
                    Activity.done_at.is_null(False) | Activity.due_at.is_null(),
                    happened >= start, happened < end)
             .group_by(Activity.user))
    return {user: int(count) for user, count in query.tuples()}


def _won_amounts(context, user_ids, start, end):
    """``{user id: Decimal yuan}`` of the won opportunities each user owns, won in ``[start, end)``."""
    query = (Opportunity.select(Opportunity.owner, fn.SUM(Opportunity.amount))
             .where(Opportunity.workspace == context.workspace, Opportunity.status == "won",
                    in_ids(Opportunity.owner, user_ids), Opportunity.updated_at >= start,
                    Opportunity.updated_at < end)
             .group_by(Opportunity.owner))
    return {user: _yuan(fen) for user, fen in query.tuples()}


def _achieved(context, period, user_ids):
    """``{user id: {"amount", "calls", "visits"}}`` for the users in ``user_ids`` in month ``period``."""
    if not user_ids:
        return {}
    start, end = _month_bounds(context, period)
    amounts = _won_amounts(context, user_ids, start, end)
    calls = _activity_counts(context, "call", user_ids, start, end)
    visits = _activity_counts(context, "visit", user_ids, start, end)
    return {uid: {"amount": amounts.get(uid, money(0)), "calls": calls.get(uid, 0), "visits": visits.get(uid, 0)}
            for uid in user_ids}


def _percent(achieved, target):
    if target is None or target == 0:
        return None
    return str((Decimal(achieved) * HUNDRED / Decimal(target)).quantize(CENT, rounding=ROUND_HALF_UP))


def _figure(value, measure):
    return _text(value) if measure == "amount" and value is not None else value


def _row(level, path, login, depth, target, achieved, children=None):
    """One line of the progress report: per measure the target, achieved, percent achieved and the gap left
    (``target − achieved``, not below 0); for a unit also its children's targets and what is unassigned."""
    row = {"level": level, "unit": path, "rep": login, "depth": depth}
    for measure in MEASURES:
        goal = getattr(target, measure) if target is not None else None
        done = achieved[measure]
        row[f"target_{measure}"] = _figure(goal, measure)
        row[f"achieved_{measure}"] = _figure(done, measure)
        row[f"percent_{measure}"] = _percent(done, goal)
        row[f"gap_{measure}"] = None if goal is None else _figure(max(goal - done, 0), measure)
        if level == "unit":
            planned = children[measure] if children is not None else None
            row[f"children_{measure}"] = _figure(planned, measure)
            row[f"unassigned_{measure}"] = (None if goal is None or planned is None
                                            else _figure(goal - planned, measure))
    return row


def _roots(context, unit):
    """The units the report starts from: ``unit``, else the acting user's unit (unit scope) or the top units."""
    if unit is not None:
        root = unit_by_path(context, unit)
        _may_view_unit(context, root)
        return [root]
    role = access.role_of(context)
    if role is not None and role.scope != "all":
        if context.user.unit_id is None:
            raise PermissionDenied("you belong to no org unit: there is no unit progress to show")
        return [OrgUnit.get_by_id(context.user.unit_id)]
    return list(OrgUnit.select().where(OrgUnit.workspace == context.workspace, OrgUnit.parent.is_null())
                .order_by(OrgUnit.name))


def _subtree_units(context, roots):
    condition = None
    for root in roots:
        prefix = root.path + "/"
        clause = (OrgUnit.path == root.path) | (fn.SUBSTR(OrgUnit.path, 1, len(prefix)) == prefix)
        condition = clause if condition is None else condition | clause
    return list(OrgUnit.select().where(OrgUnit.workspace == context.workspace, condition).order_by(OrgUnit.path))


def _targets(context, period, unit_ids, user_ids):
    query = Target.select().where(Target.workspace == context.workspace, Target.period == period,
                                  in_ids(Target.unit, unit_ids) | in_ids(Target.user, user_ids))
    by_unit, by_user = {}, {}
    for row in query:
        if row.user_id is not None:
            by_user[row.user_id] = row
        else:
            by_unit[row.unit_id] = row
    return by_unit, by_user


def _sum_targets(rows):
    """The children's targets summed per measure (a measure none of them set stays ``None``)."""
    if not rows:
        return None
    out = {}
    for measure in MEASURES:
        values = [getattr(r, measure) for r in rows if getattr(r, measure) is not None]
        out[measure] = sum(values, money(0) if measure == "amount" else 0) if values else None
    return out


def _zero():
    return {"amount": money(0), "calls": 0, "visits": 0}


def _add(total, part):
    for measure in MEASURES:
        total[measure] += part[measure]


def progress(context, period, unit=None):
    """Target achievement for month ``period`` (我的完成情况 and the overall view): one row per org unit of the
    tree from ``unit`` (default: your unit, or the whole organisation for the vp and above), each followed by
    its users, with target, achieved, percent achieved (2 decimals) and gap per measure. A rep sees only
    their own row. See the module docstring for what counts as achieved."""
    data = load(ProgressInput(), {"period": period, "unit": unit})
    period = data["period"]
    role = access.role_of(context)
    if role is not None and not access.is_manager_or_above(context) and data["unit"] is None:
        return {"period": period, "rows": [_own_row(context, period)]}
    if role is not None and not access.is_manager_or_above(context):
        raise PermissionDenied("a rep sees their own progress only (leave out --unit)")
    units = _subtree_units(context, _roots(context, data["unit"]))
    users = list(User.select().where(User.workspace == context.workspace,
                                     User.unit.in_([u.id for u in units])).order_by(User.login))
    unit_ids, user_ids = [u.id for u in units], [u.id for u in users]
    achieved = _achieved(context, period, user_ids)
    unit_targets, user_targets = _targets(context, period, unit_ids, user_ids)
    totals = _roll_up(units, users, achieved)
    members, children = {}, {}
    for user in users:
        members.setdefault(user.unit_id, []).append(user)
    for node in units:
        children.setdefault(node.parent_id, []).append(node)
    rows = []

    def visit(node, depth):
        planned = [unit_targets[c.id] for c in children.get(node.id, []) if c.id in unit_targets]
        planned += [user_targets[m.id] for m in members.get(node.id, []) if m.id in user_targets]
        rows.append(_row("unit", node.path, None, depth, unit_targets.get(node.id), totals[node.id],
                         _sum_targets(planned)))
        for user in members.get(node.id, []):
            if user.role == "rep" or user.id in user_targets or any(achieved[user.id].values()):
                rows.append(_row("rep", node.path, user.login, depth + 1, user_targets.get(user.id),
                                 achieved[user.id]))
        for child in sorted(children.get(node.id, []), key=lambda u: u.name):
            visit(child, depth + 1)

    known = set(unit_ids)
    for root in sorted((u for u in units if u.parent_id not in known), key=lambda u: u.path):
        visit(root, 0)
    return {"period": period, "rows": rows}


def _roll_up(units, users, achieved):
    """``{unit id: figures}``: each user's figures added to their unit and every unit above it (in the tree)."""
    parent = {u.id: u.parent_id for u in units}
    totals = {u.id: _zero() for u in units}
    for user in users:
        node = user.unit_id
        while node in totals:
            _add(totals[node], achieved[user.id])
            node = parent[node]
    return totals


def _own_row(context, period):
    user = context.user
    achieved = _achieved(context, period, [user.id])[user.id]
    target = Target.get_or_none(Target.workspace == context.workspace, Target.period == period,
                                Target.user == user.id)
    path = OrgUnit.get_by_id(user.unit_id).path if user.unit_id is not None else None
    return _row("rep", path, user.login, 0, target, achieved)


SERVICES = {"set": set_target, "progress": progress}
