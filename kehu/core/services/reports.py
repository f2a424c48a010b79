"""``kehu reports``: a core group that plugins extend through ``kehu_register_reports``."""

import datetime as dt

from peewee import fn

from kehu.core import access
from kehu.core.models import Activity, OrgUnit, User
from kehu.core.services.lookup import unit_by_path, user_by_login
from kehu.core.timeutil import parse_instant
from kehu.errors import Invalid, NotFound


def available_reports(context):
    return [{"name": spec.name, "plugin": spec.plugin, "description": spec.description}
            for spec in sorted(context.app.registry.reports.values(), key=lambda s: s.name)
            if context.plugin_enabled(spec.plugin)]


def period_bounds(context, start, end):
    """``--from``/``--to`` dates (inclusive, workspace time) as a half-open UTC interval; default 30 days."""
    end_instant = (parse_instant(end, context.tz, "--to") + dt.timedelta(days=1)) if end else context.now
    start_instant = parse_instant(start, context.tz, "--from") if start else end_instant - dt.timedelta(days=30)
    if start_instant >= end_instant:
        raise Invalid("--from must be before --to")
    return start_instant, end_instant


def reps_query(context, unit=None, rep=None):
    """Users a report may show: within the acting user's scope, narrowed by ``unit`` and ``rep``."""
    query = User.select(User.id).where(User.workspace == context.workspace)
    scope = access.users_in_scope(context)
    if scope is not None:
        query = query.where(User.id.in_(scope))
    if unit:
        path = unit_by_path(context, unit).path
        query = query.join(OrgUnit).where(access.subtree(path))  # exact prefix, not LIKE (see access)
    if rep:
        query = query.where(User.id == user_by_login(context, rep, active_only=False).id)
    return query


def run_report(context, name, start=None, end=None, unit=None, rep=None):
    spec = context.app.registry.reports.get(name)
    if spec is None or not context.plugin_enabled(spec.plugin):
        names = ", ".join(r["name"] for r in available_reports(context))
        raise NotFound(f"no report {name!r} here (available: {names})")
    start_instant, end_instant = period_bounds(context, start, end)
    result = spec.function(context, start_instant, end_instant, unit, rep)
    return {"report": name, "from": start_instant.isoformat(), "to": end_instant.isoformat(), **result}


def activity_summary(context, start, end, unit, rep):
    """Activities per user and kind in the period (set-based: one GROUP BY)."""
    kinds = ("call", "visit", "note", "task")
    counts = (Activity.select(User.login, Activity.kind, fn.COUNT(Activity.id))
              .join(User, on=(Activity.user == User.id))
              .where(Activity.workspace == context.workspace, Activity.created_at >= start,
                     Activity.created_at < end, Activity.user.in_(reps_query(context, unit, rep)))
              .group_by(User.login, Activity.kind).tuples())
    table = {}
    for login, kind, count in counts:
        table.setdefault(login, dict.fromkeys(kinds, 0))[kind] = count
    rows = [[login, *[table[login][k] for k in kinds], sum(table[login].values())] for login in sorted(table)]
    return {"columns": ["user", *kinds, "total"], "rows": rows}
