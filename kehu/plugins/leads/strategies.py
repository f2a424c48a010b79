"""Lead-assignment strategies: the interface plugins implement, and the built-in ones.

Strategies
----------
Built in: ``round_robin``, ``region``, ``load_balance``, ``designated`` and ``special``. A plugin adds one
through the ``kehu_assignment_strategies`` hook, exactly as the leads plugin registers its own::

    @kehu.hookimpl
    def kehu_assignment_strategies(register):
        register("by_language", by_language)

    def by_language(context, leads, candidates, options):
        answers = []
        for lead in leads:
            speaker = next((c for c in candidates if not c.full and speaks(c, lead)), None)
            if speaker is None:
                answers.append((lead.id, None, "nobody speaks it"))
            else:
                speaker.give()
                answers.append((lead.id, speaker.id, "speaks the lead's language"))
        return answers

``function(context, leads, candidates, options)`` is called once per batch for each group of leads that
share a pool and a route (the same rule, or the command's ``--strategy/--team/--to``), inside the batch's
transaction, and returns an iterable of ``(lead_id, user_id, why)``. ``user_id`` ``None`` leaves the lead in
its pool, ``why`` saying why; a lead it does not mention stays in the pool too. ``why`` is short unless
``options.explain`` asks for the long reason. The function must not write: the service moves the leads,
saves the cursors and fires the hooks (and does none of that in a dry run).

``leads``
    :class:`LeadInfo` (``id``, ``name``, ``pool``, ``source``, ``region``, ``industry``, ``custom``), in order.
``candidates``
    :class:`Candidate` (``id``, ``login``, ``unit``, ``held``, ``limit``) who may receive them, by user id: the
    ``--to`` users when there is a list, else the reps of the team's subtree (``--team``, else the rule's
    team, else the pool's team, else the whole workspace). Never an inactive user, never one outside the
    acting user's data scope, never one already at the pool's ``max_held``. ``held`` counts the leads of
    this pool the user holds, including those given earlier in this batch: call ``candidate.give()`` for
    each lead you give and skip candidates whose ``full`` is true.
``options``
    :class:`Options`: ``strategy`` (the name it was called by), ``pool`` (:class:`PoolInfo`), ``team`` (org
    path or ``None``), ``targets`` (user ids of the list, in the given order; empty without one), ``rule``
    (the :class:`RuleInfo` that routed the leads, ``None`` with ``--strategy``), ``rules`` (the pool's rules
    in order), ``cursor`` (the :class:`Cursor` of this pool/team/list: read ``last_user_id`` and call
    ``advance(candidate)``; the service saves it), ``explain`` and ``route(team_path)``, which returns the
    :class:`Route` (``candidates``, ``cursor``) of another team for strategies that route leads (``region``),
    or ``None`` when there is no such team.

Set ``function.needs_targets = True`` when the strategy needs a list (``--to``). :func:`take_turns` is the
rotation the built-ins use; a plugin may use it too.

The service checks every answer: a user who is not a candidate of the group (or of a team it routed to), one
who has reached ``max_held``, or one deactivated meanwhile never receives the lead.
"""


import heapq

import attrs

from kehu.core.access import subtree
from kehu.core.models import OrgUnit


# --- what strategies see ---------------------------------------------------------------------------------


@attrs.frozen
class LeadInfo:
    id: int
    name: str
    pool: str
    source: str | None
    region: str | None
    industry: str | None
    custom: dict


@attrs.frozen
class PoolInfo:
    id: int
    name: str
    max_held: int
    team: str | None


@attrs.frozen
class RuleInfo:
    id: int
    position: int
    condition: dict
    strategy: str
    team: str | None
    targets: tuple


@attrs.define(eq=False)
class Candidate:
    """A user who may receive leads of one pool, and how many of that pool's leads they hold (``held``).

    ``held`` is counted on first use (one query for the whole pool): a rotation in a pool without a cap
    never needs it, and counting every held lead of a big pool in each batch would cost more than the batch.
    """

    id: int
    login: str
    unit: str | None
    limit: int  # the pool's max_held; 0 = no limit
    _count: object = attrs.field(default=None, repr=False, alias="count")  # () -> held now; None: 0
    given: int = 0  # leads given in this batch

    @property
    def held(self):
        return (self._count() if self._count is not None else 0) + self.given

    @property
    def full(self):
        return bool(self.limit) and self.held >= self.limit

    @property
    def room(self):
        """How many more leads they may take (``None``: no limit)."""
        return max(0, self.limit - self.held) if self.limit else None

    def give(self):
        self.given += 1


@attrs.define(eq=False)
class Cursor:
    """Where a rotation resumes: the last user who received a lead (0 = nobody yet)."""

    key: str
    last_user_id: int = 0
    last_login: str | None = None
    saved: int = 0  # the stored value, to know whether it changed

    def advance(self, candidate):
        self.last_user_id, self.last_login = candidate.id, candidate.login

    @property
    def changed(self):
        return self.last_user_id != self.saved


@attrs.frozen
class Route:
    candidates: list
    cursor: Cursor


@attrs.frozen
class Options:
    strategy: str
    pool: PoolInfo
    team: str | None
    targets: tuple
    rule: RuleInfo | None
    rules: tuple
    cursor: Cursor
    explain: bool
    route: object  # route(team_path) -> Route | None


def take_turns(leads, candidates, cursor, order=None):
    """Yield ``(lead, candidate or None, previous login)`` for each lead, rotating fairly.

    The rotation runs over ``candidates`` by user id (or in ``order``, a list of user ids), starting after
    ``cursor.last_user_id`` and wrapping; it skips candidates that are ``full`` and calls ``give()`` and
    ``cursor.advance()`` for each lead given. ``previous`` is who had the last turn (``None`` at the start).
    """
    if order:
        rank = {uid: i for i, uid in enumerate(order)}
        ring = sorted((c for c in candidates if c.id in rank), key=lambda c: rank[c.id])
        after = rank.get(cursor.last_user_id, -1)
        start = next((i for i, c in enumerate(ring) if rank[c.id] > after), 0)
    else:
        ring = sorted(candidates, key=lambda c: c.id)
        start = next((i for i, c in enumerate(ring) if c.id > cursor.last_user_id), 0)
    open_seats = bool(ring)
    for lead in leads:
        previous = cursor.last_login
        chosen = None
        if open_seats:
            for step in range(len(ring)):
                candidate = ring[(start + step) % len(ring)]
                if not candidate.full:
                    chosen, start = candidate, (start + step + 1) % len(ring)
                    break
            else:
                open_seats = False  # everyone is full; nobody gets fuller within a batch
        if chosen is not None:
            chosen.give()
            cursor.advance(chosen)
        yield lead, chosen, previous


def _none_left(options):
    if options.explain:
        limit = f" (max_held {options.pool.max_held})" if options.pool.max_held else ""
        return f"no active candidate with room{limit}"
    return "no eligible user"


# --- the built-in strategies -------------------------------------------------------------------------------


def round_robin(context, leads, candidates, options):
    """Each lead to the next candidate by user id after the pool/team cursor, wrapping."""
    answers = []
    for lead, chosen, previous in take_turns(leads, candidates, options.cursor):
        if chosen is None:
            answers.append((lead.id, None, _none_left(options)))
        elif options.explain:
            answers.append((lead.id, chosen.id, f"next after {previous} in rotation" if previous
                            else "first in rotation"))
        else:
            answers.append((lead.id, chosen.id, "round robin"))
    return answers


def _list_strategy(kind):
    def strategy(context, leads, candidates, options):
        answers = []
        for lead, chosen, previous in take_turns(leads, candidates, options.cursor, order=options.targets):
            if chosen is None:
                answers.append((lead.id, None, f"nobody on the {kind} list can take it"
                                + (f" (inactive, or at max_held {options.pool.max_held})" if options.explain
                                   else "")))
            elif options.explain:
                answers.append((lead.id, chosen.id, f"{kind} list, next after {previous}" if previous
                                else f"{kind} list, first on it"))
            else:
                answers.append((lead.id, chosen.id, kind))
        return answers

    strategy.needs_targets = True
    strategy.__name__ = kind
    strategy.__doc__ = f"Every lead to the --to list ({kind}), in the list's order, taking turns."
    return strategy


designated = _list_strategy("designated")
special = _list_strategy("special")


def load_balance(context, leads, candidates, options):
    """Each lead to the candidate holding the fewest leads of the pool (ties: the lower user id)."""
    heap = [(c.held, c.id, c) for c in candidates if not c.full]
    heapq.heapify(heap)
    answers = []
    for lead in leads:
        if not heap:
            answers.append((lead.id, None, _none_left(options)))
            continue
        held, _, chosen = heapq.heappop(heap)
        if options.explain:
            why = (f"held {held} lead{'s' if held != 1 else ''} of pool {options.pool.name}, the fewest of "
                   f"{len(heap) + 1} (ties go to the lower user id)")
        else:
            why = "least loaded"
        chosen.give()
        if not chosen.full:
            heapq.heappush(heap, (chosen.held, chosen.id, chosen))
        answers.append((lead.id, chosen.id, why))
    return answers


def _region_team(context, region, options, cache):
    """The team for ``region``: the first pool rule on that region naming a team, else the highest org unit
    named like it (inside ``options.team`` when there is one). Returns ``(path, how)`` or ``(None, None)``."""
    if region in cache:
        return cache[region]
    found = (None, None)
    for rule in options.rules:
        if rule.condition.get("region") == region and rule.team:
            found = (rule.team, f"rule {rule.position}")
            break
    else:
        query = OrgUnit.select(OrgUnit.path).where(OrgUnit.workspace == context.workspace, OrgUnit.name == region)
        if options.team:
            query = query.where(subtree(options.team))
        paths = sorted((p for (p,) in query.tuples()), key=lambda p: (p.count("/"), p))
        if paths:
            found = (paths[0], "org unit")
    cache[region] = found
    return found


def region(context, leads, candidates, options):
    """Route each lead to the team of its region (a pool rule on that region, or the org unit named like it),
    then round-robin inside that team."""
    teams, routes, by_team, answers = {}, {}, {}, {}
    for lead in leads:
        if not lead.region:
            answers[lead.id] = (lead.id, None, "the lead has no region")
            continue
        team, how = _region_team(context, lead.region, options, teams)
        if team is not None and team not in routes:
            routes[team] = options.route(team)
        if team is None or routes[team] is None:
            answers[lead.id] = (lead.id, None, f"no team for region {lead.region}")
            continue
        by_team.setdefault(team, (routes[team], how, []))[2].append(lead)
    for team, (route, how, team_leads) in by_team.items():
        for lead, chosen, previous in take_turns(team_leads, route.candidates, route.cursor):
            if chosen is None:
                answers[lead.id] = (lead.id, None, f"region {lead.region} → {team}: " + _none_left(options))
            elif options.explain:
                turn = f"next after {previous} in rotation" if previous else "first in rotation"
                answers[lead.id] = (lead.id, chosen.id, f"region {lead.region} → {team} ({how}), {turn}")
            else:
                answers[lead.id] = (lead.id, chosen.id, f"region {lead.region} → {team}")
    return [answers[lead.id] for lead in leads]


BUILTIN_STRATEGIES = {"round_robin": round_robin, "region": region, "load_balance": load_balance,
                      "designated": designated, "special": special}
