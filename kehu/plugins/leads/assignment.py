"""Assigning leads: give in-pool leads to users by a strategy, or by each pool's ordered rules.

:func:`assign_leads` (``kehu leads assign``, ``ws.leads.assign(...)``) takes the given in-pool leads, or every
in-pool lead of a pool, and gives each one to a user chosen by a *strategy*: the one named by ``--strategy``
(with ``--team``/``--to``), or, without it, the strategy of the first rule of the lead's pool whose condition
the lead meets (:mod:`kehu.plugins.leads.rules`). It works in batches of :data:`ASSIGN_BATCH` leads, each its
own transaction: the leads are picked with ``SKIP LOCKED`` (a lead another worker is claiming is left to it),
the candidates are read again (so a user deactivated mid-run gets nothing more), every user's leads move
with one :func:`kehu.plugins.leads.machine.move` (reason ``assigned``: history and audit rows), the rotation
cursors are saved, and ``kehu_leads_moved`` announces the whole batch once after commit. Re-running after a
crash finishes the job: assigned leads are no longer in the pool. A dry run computes the same answer and
writes nothing, not even the cursors.

Strategies and what they see are in :mod:`kehu.plugins.leads.strategies`.
"""

import hashlib
from collections import Counter

import attrs
from peewee import fn

from kehu.core import access
from kehu.core.context import service
from kehu.core.db import is_postgres
from kehu.core.models import OrgUnit, User
from kehu.core.services.lookup import parse_id, unit_by_path
from kehu.errors import Invalid, PermissionDenied
from kehu.plugins.leads import machine
from kehu.plugins.leads.models import CONVERTED, HELD, IN_POOL, Lead, Pool, RoundRobinCursor
from kehu.plugins.leads.rules import (condition_text, matches, pool_rules, split_logins, strategy_function,
                                      target_users)

ASSIGN_BATCH = 1000
NO_RULE = "no rule matches"
TEAM_KEY_LENGTH = 500  # RoundRobinCursor.team_key


from kehu.plugins.leads.strategies import Candidate, Cursor, LeadInfo, Options, PoolInfo, Route, RuleInfo


# --- the service ---------------------------------------------------------------------------------------


def _team_key(team, targets):
    key = (team or "") + ("|to:" + ",".join(map(str, targets)) if targets else "")
    if len(key) > TEAM_KEY_LENGTH:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _describe(strategy, team, logins):
    text = strategy
    if team:
        text += f" in {team}"
    if logins:
        text += " to " + ", ".join(logins)
    if not team and not logins:
        text += " in the whole workspace"
    return text


@attrs.define(eq=False)
class _Group:
    """Leads of one pool sharing a route; what their strategy may give them to."""

    pool: object
    strategy: str
    function: object
    team: str | None
    team_given: bool
    targets: tuple
    rule: object
    leads: list = attrs.field(factory=list)
    allowed: set = attrs.field(factory=set)


class _Run:
    """One ``assign`` call: the validated request and what persists across its batches."""

    def __init__(self, context, strategy, team, targets, pool, dry_run, explain):
        self.context = context
        self.strategy = strategy  # None: by the pools' rules
        self.function = strategy_function(context, strategy) if strategy else None
        self.team = team  # an OrgUnit row or None
        self.targets = tuple(u.id for u in targets)
        self.pool = pool
        self.dry_run = dry_run
        self.explain = explain
        self.logins = {u.id: u.login for u in targets}
        self.scope = access.users_in_scope(context)  # a subquery of user ids, or None
        self._scope_ids = None
        self.paths = {}  # org unit id -> path
        # Dry runs write nothing, so they carry their cursors and the leads they would give across batches.
        self.run_cursors = {}
        self.given = Counter()
        self.batch_given = Counter()

    def in_scope(self, user_id):
        if self.scope is None:
            return True
        if self._scope_ids is None:
            self._scope_ids = {i for (i,) in self.scope.tuples()}
        return user_id in self._scope_ids

    # --- per batch --------------------------------------------------------------------------------------

    def batch(self, lead_ids=None, after=0):
        """Assign one batch: ``lead_ids`` (a chunk of the given ids), or the pool's in-pool leads after id
        ``after``. Returns ``(results, last id seen, whether the pool may have more)``."""
        context = self.context
        real = not self.dry_run
        self.cursors = self.run_cursors if self.dry_run else {}
        self.candidates = {}  # (pool id, team, targets, team_given) -> [Candidate]
        self.seats = {}  # (pool id, user id) -> Candidate, shared by every route of the batch
        self.held = {}  # pool id -> {user id: held now (stored, plus this dry run's)}
        self.rules = {}  # pool id -> its rules in order
        results = {}
        if lead_ids is not None:
            rows = {r.id: r for r in Lead.select(Lead.id, Lead.state, Lead.holder, Lead.pool).where(
                Lead.workspace == context.workspace, Lead.id.in_(lead_ids))}
            pool_ids = sorted({r.pool_id for r in rows.values() if r.state == IN_POOL})
        else:
            pool_ids = [self.pool.id]
        if real and is_postgres() and pool_ids:
            # One assigner per pool at a time (its cursors and counts); NO KEY: adding leads to it goes on.
            list(Pool.select(Pool.id).where(Pool.id.in_(pool_ids)).order_by(Pool.id)
                 .for_update("FOR NO KEY UPDATE"))
            # Candidates before leads, in the order claims take them: a user deactivated or claiming meanwhile
            # waits for this batch (and the deactivation then hands back what it gave).
            list(User.select(User.id).where(User.workspace == context.workspace, User.active,
                                            (User.role == "rep") | User.id.in_(self._all_targets(pool_ids)))
                 .order_by(User.id).for_update("FOR SHARE"))
        pools = {p.id: p for p in Pool.select().where(Pool.id.in_(pool_ids))} if pool_ids else {}
        usable = {pid for pid, p in pools.items() if self._may_use(p)}
        query = Lead.select(Lead.id, Lead.name, Lead.pool, Lead.source, Lead.region, Lead.industry,
                            Lead.custom).where(Lead.workspace == context.workspace, Lead.state == IN_POOL)
        if lead_ids is not None:
            wanted = [i for i in lead_ids if i in rows and rows[i].state == IN_POOL and rows[i].pool_id in usable
                      and (self.pool is None or rows[i].pool_id == self.pool.id)]
            query = query.where(Lead.id.in_(wanted)) if wanted else None
        else:
            query = query.where(Lead.pool == self.pool.id, Lead.id > after).order_by(Lead.id).limit(ASSIGN_BATCH)
        if query is not None and real:
            query = machine.lock_leads(query, skip_locked=True)
        picked = list(query) if query is not None else []
        if lead_ids is not None:
            place = {lead_id: n for n, lead_id in enumerate(lead_ids)}
            picked.sort(key=lambda lead: place[lead.id])  # given ids take their turns in the order given
            self._report_unpicked(lead_ids, rows, pools, usable, {lead.id for lead in picked}, results)
        groups = self._route(picked, pools, results)
        assigned = self._decide(groups, results)
        if real:
            self._apply(assigned, results)
            self._save_cursors()
        order = lead_ids if lead_ids is not None else [lead.id for lead in picked]
        last = picked[-1].id if picked else after
        return [results[i] for i in order], last, len(picked) == ASSIGN_BATCH

    def _may_use(self, pool):
        from kehu.plugins.leads.services import may_use_pool

        return may_use_pool(self.context, pool)

    def _all_targets(self, pool_ids):
        ids = set(self.targets)
        if self.strategy is None:
            for rule in _rules_of(self.context, pool_ids):
                ids.update(rule.targets or [])
        return sorted(ids)

    def _report_unpicked(self, lead_ids, rows, pools, usable, picked, results):
        holders = {r.holder_id for r in rows.values() if r.holder_id}
        logins = dict(User.select(User.id, User.login).where(User.id.in_(holders)).tuples()) if holders else {}
        other_pools = {r.pool_id for r in rows.values()} - set(pools)
        names = {pid: p.name for pid, p in pools.items()}
        if other_pools:
            names.update(Pool.select(Pool.id, Pool.name).where(Pool.id.in_(other_pools)).tuples())
        for lead_id in lead_ids:
            row = rows.get(lead_id)
            if row is None:
                results[lead_id] = _result(lead_id, None, "no such lead")
            elif row.state == HELD:
                if self.in_scope(row.holder_id):
                    login = logins.get(row.holder_id)
                    results[lead_id] = _result(lead_id, login, f"already held by {login}")
                else:
                    results[lead_id] = _result(lead_id, None, "already held by someone outside your data scope")
            elif row.state == CONVERTED:
                results[lead_id] = _result(lead_id, None, "already converted")
            elif self.pool is not None and row.pool_id != self.pool.id:
                results[lead_id] = _result(lead_id, None, f"in pool {names[row.pool_id]}, not {self.pool.name}")
            elif row.pool_id not in usable:
                results[lead_id] = _result(lead_id, None, f"pool {names[row.pool_id]} belongs to another team")
            elif lead_id not in picked:
                results[lead_id] = _result(lead_id, None, "busy: another operation is changing it; left as it is")

    # --- routing ------------------------------------------------------------------------------------------

    def _route(self, picked, pools, results):
        """Group the picked leads by pool and route; leads that no rule matches are answered here."""
        context = self.context
        groups = {}
        for lead in picked:
            pool = pools[lead.pool_id]
            if self.strategy is not None:
                team_given = self.team is not None
                team = self.team.path if team_given else self._unit_path(pool.team_id)
                key = (pool.id, None)
                if key not in groups:
                    groups[key] = _Group(pool, self.strategy, self.function, team, team_given, self.targets, None)
            else:
                rule = next((r for r in self._pool_rules(pool.id) if matches(r.condition, lead)), None)
                if rule is None:
                    results[lead.id] = _result(lead.id, None, self._no_rule(lead))
                    continue
                key = (pool.id, rule.id)
                if key not in groups:
                    try:
                        function = strategy_function(context, rule.strategy)
                    except Invalid as exc:
                        function = exc
                    team_given = rule.team_id is not None
                    team = self._unit_path(rule.team_id if team_given else pool.team_id)
                    groups[key] = _Group(pool, rule.strategy, function, team, team_given,
                                         tuple(rule.targets or ()), rule)
            groups[key].leads.append(lead)
        return list(groups.values())

    def _pool_rules(self, pool_id):
        if pool_id not in self.rules:
            self.rules[pool_id] = pool_rules(self.context, pool_id)
        return self.rules[pool_id]

    def _no_rule(self, lead):
        if not self.explain:
            return NO_RULE
        values = ", ".join(f"{k}={getattr(lead, k) if getattr(lead, k) is not None else '-'}"
                           for k in ("source", "region", "industry"))
        return f"{NO_RULE} ({values})"

    def _unit_path(self, unit_id):
        if unit_id is None:
            return None
        if unit_id not in self.paths:
            self.paths[unit_id] = OrgUnit.get_by_id(unit_id).path
        return self.paths[unit_id]

    # --- candidates and cursors -------------------------------------------------------------------------

    def _held_in(self, pool_id):
        if pool_id not in self.held:
            counts = dict(Lead.select(Lead.holder, fn.COUNT(Lead.id)).where(
                Lead.workspace == self.context.workspace, Lead.pool == pool_id, Lead.state == HELD)
                .group_by(Lead.holder).tuples())
            if self.dry_run:
                for (pid, uid), count in self.given.items():
                    if pid == pool_id:
                        counts[uid] = counts.get(uid, 0) + count
            self.held[pool_id] = counts
        return self.held[pool_id]

    def _candidates(self, pool, team, targets, team_given):
        """Who may receive leads of ``pool`` on this route: active, in scope, with room, by user id."""
        key = (pool.id, team, targets, team_given)
        if key in self.candidates:
            return self.candidates[key]
        context = self.context
        query = User.select(User.id, User.login, User.unit).where(User.workspace == context.workspace, User.active)
        if targets:
            query = query.where(User.id.in_(list(targets)))
        else:
            query = query.where(User.role == "rep")
        units = None
        if team and (team_given or not targets):
            units = dict(OrgUnit.select(OrgUnit.id, OrgUnit.path).where(
                OrgUnit.workspace == context.workspace, access.subtree(team)).tuples())
            query = query.where(User.unit.in_(list(units)))
        if self.scope is not None:
            query = query.where(User.id.in_(self.scope))
        users = list(query.order_by(User.id).tuples())
        missing = {unit for _, _, unit in users if unit is not None and (units is None or unit not in units)}
        paths = dict(units or {})
        if missing:
            paths.update(OrgUnit.select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(missing)).tuples())
        out = []
        for user_id, login, unit in users:
            seat = self.seats.get((pool.id, user_id))
            if seat is None:
                seat = Candidate(user_id, login, paths.get(unit), pool.max_held or 0,
                                 lambda pool_id=pool.id, user_id=user_id: self._held_in(pool_id).get(user_id, 0))
                self.seats[(pool.id, user_id)] = seat
            if not seat.full:
                out.append(seat)
        self.candidates[key] = out
        return out

    def _cursor(self, pool, team, targets):
        key = _team_key(team, targets)
        if (pool.id, key) not in self.cursors:
            row = RoundRobinCursor.get_or_none(RoundRobinCursor.workspace == self.context.workspace,
                                               RoundRobinCursor.pool == pool.id, RoundRobinCursor.team_key == key)
            last = row.last_user_id if row else 0
            login = User.select(User.login).where(User.id == last).scalar() if last else None
            self.cursors[(pool.id, key)] = Cursor(key, last, login, last)
        return self.cursors[(pool.id, key)]

    def _save_cursors(self):
        ws = self.context.workspace
        for (pool_id, key), cursor in self.cursors.items():
            if not cursor.changed:
                continue
            updated = RoundRobinCursor.update(last_user_id=cursor.last_user_id).where(
                RoundRobinCursor.workspace == ws, RoundRobinCursor.pool == pool_id,
                RoundRobinCursor.team_key == key).execute()
            if not updated:
                RoundRobinCursor.insert(workspace=ws, pool=pool_id, team_key=key,
                                        last_user_id=cursor.last_user_id).execute()
            cursor.saved = cursor.last_user_id

    # --- deciding and applying ------------------------------------------------------------------------------

    def _options(self, group, cursor, route):
        pool = group.pool
        pool_info = PoolInfo(pool.id, pool.name, pool.max_held or 0, self._unit_path(pool.team_id))
        rules = tuple(RuleInfo(r.id, r.position, dict(r.condition or {}), r.strategy, self._unit_path(r.team_id),
                               tuple(r.targets or ())) for r in self._pool_rules(pool.id))
        rule = next((r for r in rules if group.rule is not None and r.id == group.rule.id), None)
        return Options(group.strategy, pool_info, group.team, group.targets, rule, rules, cursor, self.explain,
                       route)

    def _decide(self, groups, results):
        """Ask each group's strategy; check its answers. Returns ``{user id: [lead ids]}`` in lead order."""
        assigned = {}
        for group in groups:
            pool = group.pool
            prefix_long, prefix_short = self._prefixes(group)
            if isinstance(group.function, Invalid):
                for lead in group.leads:
                    results[lead.id] = _result(lead.id, None, prefix_short + group.function.message)
                continue
            candidates = self._candidates(pool, group.team, group.targets, group.team_given)
            group.allowed.update(c.id for c in candidates)

            def route(team_path, group=group):
                if not team_path or not OrgUnit.select().where(OrgUnit.workspace == self.context.workspace,
                                                               OrgUnit.path == team_path).exists():
                    return None
                routed = self._candidates(group.pool, team_path, group.targets, True)
                group.allowed.update(c.id for c in routed)
                return Route(routed, self._cursor(group.pool, team_path, group.targets))

            options = self._options(group, self._cursor(pool, group.team, group.targets), route)
            infos = [LeadInfo(lead.id, lead.name, pool.name, lead.source, lead.region, lead.industry,
                              dict(lead.custom or {})) for lead in group.leads]
            answers = group.function(self.context, infos, list(candidates), options)
            pending = {lead.id for lead in group.leads}
            prefix = prefix_long if self.explain else prefix_short
            for lead_id, user_id, why in answers or ():
                if lead_id not in pending:
                    continue
                pending.discard(lead_id)
                why = prefix + str(why)
                if user_id is None:
                    results[lead_id] = _result(lead_id, None, why)
                    continue
                seat = self.seats.get((pool.id, user_id))
                if user_id not in group.allowed or seat is None:
                    results[lead_id] = _result(lead_id, None, prefix + f"{group.strategy} chose user {user_id}, "
                                               "who may not receive it")
                    continue
                # Authoritative, whatever the strategy did with ``held``: held at batch start + given since.
                if pool.max_held and (self._held_in(pool.id).get(user_id, 0)
                                      + self.batch_given[(pool.id, user_id)]) >= pool.max_held:
                    results[lead_id] = _result(lead_id, None, prefix + f"{seat.login} is at max_held "
                                               f"{pool.max_held}")
                    continue
                self.batch_given[(pool.id, user_id)] += 1
                assigned.setdefault(user_id, []).append(lead_id)
                results[lead_id] = _result(lead_id, seat.login, why)
            for lead_id in pending:
                results[lead_id] = _result(lead_id, None, prefix + f"{group.strategy} gave it to no one")
        if self.dry_run:
            self.given.update(self.batch_given)
        self.batch_given.clear()
        return assigned

    def _prefixes(self, group):
        logins = self._target_logins(group.targets)
        route = _describe(group.strategy, group.team, logins)
        if group.rule is None:
            return f"{route}: ", ""
        condition = condition_text(group.rule.condition or {})
        return f"rule {group.rule.position} ({condition} → {route}): ", f"rule {group.rule.position}: "

    def _target_logins(self, targets):
        missing = [t for t in targets if t not in self.logins]
        if missing:
            self.logins.update(User.select(User.id, User.login).where(User.id.in_(missing)).tuples())
        return [self.logins.get(t, f"#{t}") for t in targets]

    def _apply(self, assigned, results):
        """One move per user; one ``kehu_leads_moved`` call for the whole batch, after commit."""
        context = self.context
        queued = []
        # move() announces each call on its own; gather them here and announce the batch once.
        quiet = attrs.evolve(context, after_commit=queued)
        moves, calls = [], 0
        for user_id, lead_ids in assigned.items():
            made = machine.move(quiet, lead_ids, HELD, user_id, machine.ASSIGNED, (IN_POOL,))
            if made:
                calls += 1
                moves.extend(made)
            moved = {m.lead for m in made}
            lost = [i for i in lead_ids if i not in moved]
            if lost:
                now = dict(Lead.select(Lead.id, Lead.holder).where(Lead.id.in_(lost)).tuples())
                logins = dict(User.select(User.id, User.login).where(User.id.in_(
                    [h for h in now.values() if h])).tuples())
                for lead_id in lost:
                    holder = logins.get(now.get(lead_id))
                    results[lead_id] = _result(lead_id, holder, f"taken by {holder} meanwhile" if holder
                                               else "changed by someone else meanwhile; left as it is")
        if len(queued) == calls:
            if moves:
                context.after_commit(lambda: context.hooks.kehu_leads_moved(context=context, moves=moves))
        else:  # move() queued something else too: pass everything on unchanged
            for callback in queued:
                context.after_commit(callback)



def _rules_of(context, pool_ids):
    from kehu.plugins.leads.models import AssignmentRule

    return AssignmentRule.select().where(AssignmentRule.workspace == context.workspace,
                                         AssignmentRule.pool.in_(pool_ids))


def _result(lead_id, holder, why):
    return {"lead": lead_id, "holder": holder, "why": why}


@service
def _assign_batch(context, run, lead_ids, after):
    return run.batch(lead_ids, after)


def assign_leads(context, ids=None, pool=None, strategy=None, to=None, team=None, dry_run=False, explain=False):
    """Give in-pool leads to users (manager or above): ``[{"lead", "holder", "why"}, ...]``.

    ``ids`` (lead ids) or every in-pool lead of ``pool`` (default ``public``); with ids, ``pool`` only checks
    that they are in it. ``strategy`` with ``team`` (org path) and ``to`` (logins, a list or ``"a,b"``), or,
    without it, each lead by the first matching rule of its pool. A lead that is held, converted, in another
    pool or matched by no rule is reported with its holder (if any) and why, and left as it is. ``dry_run``
    computes the same answer and writes nothing; ``explain`` gives the long why (rule, route and turn).
    """
    from kehu.plugins.leads.services import may_use_pool, pool_by_name

    access.require_manager(context, "assign leads")
    targets = split_logins(to)
    if strategy is None and (team or targets):
        raise Invalid("--team and --to go with --strategy (rules name their own team and list)")
    lead_ids = None
    if ids:
        lead_ids = list(dict.fromkeys(parse_id(i, "lead") for i in ids))
    pool_row = pool_by_name(context, pool) if (pool or lead_ids is None) else None
    if pool_row is not None and not may_use_pool(context, pool_row):
        raise PermissionDenied(f"pool {pool_row.name} belongs to another team")
    if strategy is not None:
        function = strategy_function(context, strategy)
        if getattr(function, "needs_targets", False) and not targets:
            raise Invalid(f"strategy {strategy} needs --to LOGIN,...")
    elif lead_ids is None and not pool_rules(context, pool_row.id):
        raise Invalid(f"pool {pool_row.name} has no assignment rules: pass --strategy, or add rules with "
                      "`kehu leads rules add`")
    unit = unit_by_path(context, team) if team else None
    users = target_users(context, targets)
    if unit is not None:
        outside = [u.login for u in users if not _in_subtree(u, unit.path)]
        if outside:
            raise Invalid(f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not in {unit.path}")
    run = _Run(context, strategy, unit, users, pool_row, dry_run, explain)
    step = _assign_batch if not dry_run else (lambda ctx, r, i, a: r.batch(i, a))
    results = []
    if lead_ids is not None:
        for start in range(0, len(lead_ids), ASSIGN_BATCH):
            out, _, _ = step(context, run, lead_ids[start:start + ASSIGN_BATCH], 0)
            results.extend(out)
        return results
    after, more = 0, True
    while more:
        out, after, more = step(context, run, None, after)
        results.extend(out)
    return results


def _in_subtree(user, path):
    if user.unit_id is None:
        return False
    own = OrgUnit.get_by_id(user.unit_id).path
    return own == path or own.startswith(path + "/")
