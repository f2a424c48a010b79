"""The call-center reports of DOMAIN.md §4.4, registered with core's ``kehu reports`` (DESIGN decision 14).

Every report is ``f(context, start, end, unit, rep)``: ``start``/``end`` are aware UTC instants (half-open), and
``unit``/``rep`` narrow :func:`kehu.core.services.reports.reps_query`, the users the acting user may see. Each
is a handful of SQL aggregations (GROUP BY, CASE, correlated index seeks) over the call and visit logs, never a Python
loop over calls (DESIGN rule 8); Python only labels and arranges the aggregated rows.

Scope: a report shows what the users in scope did — their calls, visits, marked numbers and won
opportunities. Customer-level figures count the customers those calls and visits reached, whoever owns them
today (an owner change must not rewrite history). A customer's intent stage at an instant is that of its latest
call before the instant, whoever made it (the customer's stage, as the calls service keeps it). Calls to leads
(no customer) count as calls; customer counts, rates and stages are about customers only.

Dialects: timestamps are compared against UTC instants computed in Python (local months and days are turned
into UTC boundaries in Python, never computed in SQL); the only dialect-specific SQL is the JSON array length.
"""

import datetime as dt
from decimal import Decimal

from peewee import JOIN, SQL, Case, Select, fn

from kehu.core.db import database, is_postgres
from kehu.core.models import Customer, Opportunity, OrgUnit, User
from kehu.core.services.reports import reps_query
from kehu.plugins.callcenter.calls import NEW, classify_month_query
from kehu.plugins.callcenter.models import CallLog, InvalidPhone, VisitLog
from kehu.plugins.callcenter.settings import settings_for

# Dispositions after which nobody was talked to (the "connected" = none of these). A call logged with
# no disposition recorded an intent stage, so a conversation happened: it counts as connected.
NOT_CONNECTED = ("no_answer", "busy", "invalid_number")
DEAL = "deal"
PERCENT_PLACES = Decimal("0.01")
NO_STAGE = "none"


# --- shared pieces ----------------------------------------------------------------------------------------


def percent(numerator, denominator):
    """``numerator / denominator`` as a percent string with two places, rounded half up; ``None`` for 0/0.

    Integer arithmetic to the hundredth of a percent, a Decimal only at the end (DESIGN decision 9).
    """
    if not denominator:
        return None
    hundredths = (numerator * 20000 + denominator) // (2 * denominator)
    return str((Decimal(hundredths) / 100).quantize(PERCENT_PLACES))


def months_between(start, end, tz):
    """The local calendar months the half-open ``[start, end)`` touches: ``[(YYYY-MM, first day, next first)]``."""
    first = start.astimezone(tz).date().replace(day=1)
    last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
    months = []
    while first <= last:
        following = (first + dt.timedelta(days=32)).replace(day=1)
        months.append((f"{first.year:04d}-{first.month:02d}", first, following))
        first = following
    return months


def json_array_length(field):
    """The length of a JSON array stored as text: SQLite's JSON1 reads text, PostgreSQL needs a cast."""
    return fn.json_array_length(field.cast("json") if is_postgres() else field)


def count_if(condition):
    """``SUM(CASE WHEN condition THEN 1 ELSE 0 END)``: a conditional count inside a GROUP BY."""
    return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)


def in_period(field, start, end):
    return (field >= start) & (field < end)


def rep_labels(context, ids):
    """``{user id: (login, unit path)}`` for the users in ``ids`` (one query)."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    query = (User.select(User.id, User.login, OrgUnit.path)
             .join(OrgUnit, JOIN.LEFT_OUTER, on=(User.unit == OrgUnit.id))
             .where(User.workspace == context.workspace, User.id.in_(ids)).tuples())
    return {user_id: (login, path) for user_id, login, path in query}


def per_rep_rows(context, figures, names):
    """Rows ``[login, unit, *figures]`` sorted by login, from ``{rep id: {name: value}}``; missing values are 0."""
    labels = rep_labels(context, figures)
    rows = [[*labels[rep_id], *[values.get(name, 0) for name in names]]
            for rep_id, values in figures.items() if rep_id in labels]
    return sorted(rows, key=lambda row: row[0])


def merge_into(figures, query, names):
    """Add the tuples ``(rep id, *values)`` of ``query`` to ``figures`` under ``names``."""
    for rep_id, *values in query:
        figures.setdefault(rep_id, {}).update(zip(names, values))
    return figures


def stage_list(context, found=()):
    """The intent stages to show: the workspace's, plus any found in the data (settings may have changed)."""
    stages = {item["stage"]: item["name"] for item in settings_for(context)["intent_stages"]}
    for number in found:
        if number is not None:
            stages.setdefault(number, "")
    return [{"stage": number, "name": stages[number]} for number in sorted(stages)]


def latest_call_id(context, customer, before, name):
    """A correlated scalar subquery: the id of ``customer``'s latest call before ``before`` (ties: the later row).

    One seek per customer on the (workspace, customer, at) index. A window function ranking every call before
    ``before`` sorts the whole call history instead; joining two such rankings (stage at the start and at the end)
    took minutes over 1M calls on SQLite. ``name`` aliases the table, as the subquery may appear twice.
    """
    call = CallLog.alias(name)
    return (call.select(call.id).where(call.workspace == context.workspace, call.customer == customer,
                                       call.at < before)
            .order_by(call.at.desc(), call.id.desc()).limit(1))


def stage_calls(context, customers, before, keep_uncalled=False):
    """``(query, call)``: per customer of ``customers`` (a subquery of ``customer_id``), its latest call before
    ``before`` as ``call`` (a CallLog alias joined in); customers without one are left out, or kept with a
    NULL ``call`` when ``keep_uncalled``."""
    ids = Select([customers], [latest_call_id(context, customers.c.customer_id, before, "latest").alias("call_id")])
    ids = ids.alias("latest_ids")
    call = CallLog.alias("stage_call")
    join = JOIN.LEFT_OUTER if keep_uncalled else JOIN.INNER
    return Select([ids]).join(call, join, on=(call.id == ids.c.call_id)), call


def followed_customers(context, start, end, reps):
    """A subquery (a UNION, so distinct): the customers the users in ``reps`` called or visited in the period —
    follow-ups as the new/old rule counts them (:func:`kehu.plugins.callcenter.calls.classify_month_query`)."""
    visit = VisitLog.alias("followed_visit")
    return called_customers(context, start, end, reps) | visit.select(visit.customer).where(
        visit.workspace == context.workspace, in_period(visit.at, start, end), visit.rep.in_(reps))


def called_customers(context, start, end, reps):
    """A subquery: the customers the users in ``reps`` called in the period."""
    return CallLog.select(CallLog.customer).where(
        CallLog.workspace == context.workspace, in_period(CallLog.at, start, end), CallLog.rep.in_(reps),
        CallLog.customer.is_null(False))


# --- (1) visit-record summary -----------------------------------------------------------------------------


def visit_summary(context, start, end, unit, rep):
    """Per rep: visits in the period, visits by result, customers visited and the calls linked to the visits."""
    where = ((VisitLog.workspace == context.workspace) & in_period(VisitLog.at, start, end)
             & VisitLog.rep.in_(reps_query(context, unit, rep)))
    totals = (VisitLog.select(VisitLog.rep, fn.COUNT(VisitLog.id), fn.COUNT(VisitLog.customer.distinct()),
                              fn.COALESCE(fn.SUM(json_array_length(VisitLog.calls)), 0))
              .where(where).group_by(VisitLog.rep).tuples())
    figures = merge_into({}, totals, ["visits", "customers", "calls_before"])
    by_result = (VisitLog.select(VisitLog.rep, VisitLog.result, fn.COUNT(VisitLog.id))
                 .where(where).group_by(VisitLog.rep, VisitLog.result).tuples())
    results = set()
    for rep_id, result, count in by_result:
        figures[rep_id][f"result {result}"] = count
        results.add(result)
    # Visit results are free values (OPEN in DOMAIN §4.3): one column per result found in the period.
    result_columns = [f"result {result}" for result in sorted(results)]
    names = ["visits", *result_columns, "customers", "calls_before"]
    return {"columns": ["rep", "unit", "visits", *result_columns, "customers_visited", "calls_before_visits"],
            "rows": per_rep_rows(context, figures, names)}


# --- (2) customer statistics ------------------------------------------------------------------------------


def customer_stats(context, start, end, unit, rep):
    """Customers followed up (called or visited) in the period by source and by current intent stage; new and
    old customers per rep and month (DOMAIN §2.6)."""
    reps = reps_query(context, unit, rep)
    followed = followed_customers(context, start, end, reps)
    total = Select([followed.alias("followed")], [fn.COUNT(SQL("*"))]).bind(database).scalar() or 0
    return {"columns": ["rep", "unit", "month", "customers", "new", "old"],
            "rows": new_old_rows(context, start, end, reps),
            "customers": total,
            "by_source": by_source(context, followed),
            "by_stage": by_stage(context, end, followed)}


def by_source(context, followed):
    """``{"columns", "rows"}``: the followed-up customers per source (资料来源)."""
    query = (Customer.select(Customer.source, fn.COUNT(Customer.id))
             .where(Customer.workspace == context.workspace, Customer.id.in_(followed))
             .group_by(Customer.source).tuples())
    rows = sorted(([source, count] for source, count in query), key=lambda row: (row[0] is None, row[0] or ""))
    return {"columns": ["source", "customers"], "rows": rows}


def by_stage(context, end, followed):
    """``{"columns", "rows"}``: the followed-up customers per intent stage of their latest call before ``end``;
    a customer only visited, never called, is in stage ``none``."""
    query, call = stage_calls(context, followed.alias("followed"), end, keep_uncalled=True)
    counts = dict(query.columns(call.intent, fn.COUNT(SQL("*"))).group_by(call.intent).bind(database).tuples())
    rows = [[item["stage"], item["name"], counts.get(item["stage"], 0)] for item in stage_list(context, counts)]
    if counts.get(None):
        rows.append([NO_STAGE, "", counts[None]])
    return {"columns": ["stage", "name", "customers"], "rows": rows}


def new_old_rows(context, start, end, reps):
    """Rows ``[login, unit, month, customers, new, old]`` for the local months the period touches.

    The class belongs to a (rep, customer, month) and is about the whole calendar month (DOMAIN §2.6), so each
    month the period touches is classified whole, by the calls plugin's own SQL (the one ``kehu calls
    classify`` answers from), counted here per rep with one GROUP BY per month.
    """
    rows = []
    for label, _first, _following in months_between(start, end, context.tz):
        classified = classify_month_query(context, label, reps).alias("classified")
        query = (Select([classified], [classified.c.rep_id, fn.COUNT(SQL("*")),
                                       count_if(classified.c.classification == NEW)])
                 .group_by(classified.c.rep_id).bind(database).tuples())
        counts = list(query)
        labels = rep_labels(context, {rep_id for rep_id, *_ in counts})
        rows += [[*labels[rep_id], label, customers, new, customers - new]
                 for rep_id, customers, new in counts if rep_id in labels]
    return sorted(rows, key=lambda row: (row[0], row[2]))


# --- (3) invalid-phone report -----------------------------------------------------------------------------


def invalid_phones(context, start, end, unit, rep):
    """Per rep who marked them, and in total: numbers marked invalid in the period, how many of those were
    corrected by the period end, and how many are still open then."""
    corrected = InvalidPhone.corrected_at.is_null(False) & (InvalidPhone.corrected_at < end)
    query = (InvalidPhone.select(InvalidPhone.marked_by, fn.COUNT(InvalidPhone.id), count_if(corrected))
             .where(InvalidPhone.workspace == context.workspace, in_period(InvalidPhone.marked_at, start, end),
                    InvalidPhone.marked_by.in_(reps_query(context, unit, rep)))
             .group_by(InvalidPhone.marked_by).tuples())
    figures = {rep_id: {"marked": marked, "corrected": fixed, "open": marked - fixed}
               for rep_id, marked, fixed in query}
    rows = per_rep_rows(context, figures, ["marked", "corrected", "open"])
    # The counts are additive, so the total is the sum of the rows.
    total = ["total", None, *[sum(row[i] for row in rows) for i in (2, 3, 4)]]
    return {"columns": ["rep", "unit", "marked", "corrected", "open"], "rows": rows, "total": total}


# --- (4) performance summary ------------------------------------------------------------------------------

PERFORMANCE = ["calls", "connected", "customers", "call_deals", "callbacks", "visits", "visit_deals", "won"]


def performance_figures(context, start, end, reps):
    """``{rep id: {figure: n}}`` from three GROUP BYs: calls, visits, won opportunities."""
    ws = context.workspace
    connected = CallLog.disposition.is_null() | CallLog.disposition.not_in(NOT_CONNECTED)
    calls = (CallLog.select(CallLog.rep, fn.COUNT(CallLog.id), count_if(connected),
                            fn.COUNT(CallLog.customer.distinct()), count_if(CallLog.disposition == DEAL),
                            count_if(CallLog.callback_at.is_null(False)))
             .where(CallLog.workspace == ws, in_period(CallLog.at, start, end), CallLog.rep.in_(reps))
             .group_by(CallLog.rep).tuples())
    visits = (VisitLog.select(VisitLog.rep, fn.COUNT(VisitLog.id), count_if(VisitLog.disposition == DEAL))
              .where(VisitLog.workspace == ws, in_period(VisitLog.at, start, end), VisitLog.rep.in_(reps))
              .group_by(VisitLog.rep).tuples())
    # Opportunity has no close date: a won opportunity's last update is when it was won (status is its last
    # change in the usual flow).
    won = (Opportunity.select(Opportunity.owner, fn.COUNT(Opportunity.id))
           .where(Opportunity.workspace == ws, Opportunity.status == "won",
                  in_period(Opportunity.updated_at, start, end), Opportunity.owner.in_(reps))
           .group_by(Opportunity.owner).tuples())
    figures = merge_into({}, calls, PERFORMANCE[:5])
    merge_into(figures, visits, PERFORMANCE[5:7])
    return merge_into(figures, won, PERFORMANCE[7:])


def call_performance(context, start, end, unit, rep):
    """Per rep: calls, connected calls, distinct customers called, visits, deals (calls and visits with
    disposition deal + won opportunities closed in the period) and callbacks scheduled."""
    figures = performance_figures(context, start, end, reps_query(context, unit, rep))
    for values in figures.values():
        values["deals"] = values.get("call_deals", 0) + values.get("visit_deals", 0) + values.get("won", 0)
    names = ["calls", "connected", "customers", "visits", "deals", "callbacks"]
    return {"columns": ["rep", "unit", "calls", "connected", "customers_called", "visits", "deals", "callbacks"],
            "rows": per_rep_rows(context, figures, names)}


# --- (5) conversion rates ---------------------------------------------------------------------------------


def visited_customers(context, start, end):
    """A subquery: customers visited in the period (by anyone: the caller's job is to get the visit)."""
    visit = VisitLog.alias("visited")
    return visit.select(visit.customer).where(visit.workspace == context.workspace, in_period(visit.at, start, end))


def deal_customers(context, start, end):
    """A subquery: customers that reached a deal in the period — a call or visit with disposition deal, or a
    won opportunity closed (last updated) in the period — by anyone."""
    ws = context.workspace
    # Own aliases: these subqueries sit inside queries over the same tables.
    call, visit = CallLog.alias("deal_call"), VisitLog.alias("deal_visit")
    return (call.select(call.customer).where(call.workspace == ws, in_period(call.at, start, end),
                                             call.disposition == DEAL, call.customer.is_null(False))
            | visit.select(visit.customer).where(visit.workspace == ws, in_period(visit.at, start, end),
                                                 visit.disposition == DEAL)
            | Opportunity.select(Opportunity.customer).where(Opportunity.workspace == ws,
                                                             Opportunity.status == "won",
                                                             in_period(Opportunity.updated_at, start, end)))


def reached(model, customers):
    """A GROUP BY (rep, customer) of ``model``'s rows with ``hit`` = 1 when the customer is in ``customers``."""
    return (model.select(model.rep, model.customer, Case(None, [(model.customer.in_(customers), 1)], 0).alias("hit"))
            .group_by(model.rep, model.customer))


def pair_counts(pairs_query):
    """``{rep id: (customers, hits)}`` plus the total under ``None``, from (rep, customer, hit) pairs.

    Distinct counts do not add up across reps (two reps may call one customer), so the total is its own
    aggregate; both read the pairs once, as a CTE (materialised: it is used twice).
    """
    pairs = pairs_query.cte("pairs", columns=("rep_id", "customer_id", "hit"))
    per_rep = Select([pairs], [pairs.c.rep_id, fn.COUNT(SQL("*")), fn.SUM(pairs.c.hit)]).group_by(pairs.c.rep_id)
    total = Select([pairs], [SQL("NULL"), fn.COUNT(pairs.c.customer_id.distinct()),
                             fn.COUNT(Case(None, [(pairs.c.hit == 1, pairs.c.customer_id)]).distinct())])
    query = (per_rep + total).with_cte(pairs).bind(database)
    return {rep_id: (customers, hits or 0) for rep_id, customers, hits in query.tuples()}


def conversion_counts(context, start, end, reps):
    """``{rep id (None for the total): {figure: n}}``: distinct customers called / called and visited, and
    visited / visited and reached a deal. Two statements, each one pass over its log."""
    ws = context.workspace
    called = reached(CallLog, visited_customers(context, start, end)).where(
        CallLog.workspace == ws, in_period(CallLog.at, start, end), CallLog.rep.in_(reps),
        CallLog.customer.is_null(False))
    visited = reached(VisitLog, deal_customers(context, start, end)).where(
        VisitLog.workspace == ws, in_period(VisitLog.at, start, end), VisitLog.rep.in_(reps))
    figures = {}
    for names, query in ((("called", "called_visited"), called), (("visited", "visited_deal"), visited)):
        for rep_id, values in pair_counts(query).items():
            figures.setdefault(rep_id, {}).update(zip(names, values))
    return figures


def conversion_row(values):
    called, called_visited = values.get("called", 0), values.get("called_visited", 0)
    visited, visited_deal = values.get("visited", 0), values.get("visited_deal", 0)
    return [called, called_visited, percent(called_visited, called),
            visited, visited_deal, percent(visited_deal, visited)]


def conversion_rates(context, start, end, unit, rep):
    """Per rep and in total: phone → visit (customers called who got a visit in the period ÷ customers called)
    and visit → deal (customers visited who reached a deal in the period ÷ customers visited), in percent."""
    reps = reps_query(context, unit, rep)
    figures = conversion_counts(context, start, end, reps)
    total = figures.pop(None, {})
    labels = rep_labels(context, figures)
    rows = sorted(([*labels[rep_id], *conversion_row(values)] for rep_id, values in figures.items()
                   if rep_id in labels), key=lambda row: row[0])
    return {"columns": ["rep", "unit", "customers_called", "called_and_visited", "phone_to_visit_pct",
                        "customers_visited", "visited_and_deal", "visit_to_deal_pct"],
            "rows": rows, "total": ["total", None, *conversion_row(total)]}


# --- (6) conversion analysis: snapshot --------------------------------------------------------------------


def conversion_snapshot(context, start, end, unit, rep):
    """Customers per intent stage as of the period end (their latest call before it), per rep who made that
    call — each customer is counted once, under the rep who left it in its stage."""
    # Customers of the workspace at the end (not deleted before it), each with its latest call, kept when that
    # call's rep is in scope.
    customers = Customer.select(Customer.id.alias("customer_id")).where(
        Customer.workspace == context.workspace, Customer.deleted_at.is_null() | (Customer.deleted_at >= end))
    query, call = stage_calls(context, customers.alias("customers"), end)
    query = (query.columns(call.rep, call.intent, fn.COUNT(SQL("*")))
             .where(call.rep.in_(reps_query(context, unit, rep)))
             .group_by(call.rep, call.intent).bind(database).tuples())
    figures = {}
    for rep_id, intent, count in query:
        figures.setdefault(rep_id, {})[intent] = count
    stages = stage_list(context, {intent for values in figures.values() for intent in values})
    numbers = [item["stage"] for item in stages]
    for values in figures.values():
        values["customers"] = sum(values.values())
    rows = per_rep_rows(context, figures, [*numbers, "customers"])
    total = ["total", None, *[sum(row[i] for row in rows) for i in range(2, len(numbers) + 3)]]
    return {"columns": ["rep", "unit", *[f"stage {n}" for n in numbers], "customers"], "rows": rows,
            "total": total, "as_of": end.isoformat(), "stages": stages}


# --- (7) conversion analysis: process ---------------------------------------------------------------------


def conversion_process(context, start, end, unit, rep):
    """Stage movements over the period of the customers the users in scope called in it: a matrix of
    (stage at the start → stage at the end) counts, and how many moved up, down, stayed, or entered (no call
    before the period). One statement: per customer the latest call before each boundary (an index seek
    each), joined by id, grouped by the pair of stages."""
    customers = called_customers(context, start, end, reps_query(context, unit, rep)).distinct().alias("moved")
    ids = Select([customers], [latest_call_id(context, customers.c.customer_id, start, "before_start").alias("first"),
                               latest_call_id(context, customers.c.customer_id, end, "before_end").alias("last")])
    ids = ids.alias("boundary_ids")
    at_start, at_end = CallLog.alias("at_start"), CallLog.alias("at_end")
    query = (Select([ids], [at_start.intent, at_end.intent, fn.COUNT(SQL("*"))])
             .join(at_end, on=(at_end.id == ids.c.last))
             .join(at_start, JOIN.LEFT_OUTER, on=(at_start.id == ids.c.first))
             .group_by(at_start.intent, at_end.intent).bind(database).tuples())
    cells = {(before, after): count for before, after, count in query}
    stages = stage_list(context, {s for pair in cells for s in pair})
    numbers = [item["stage"] for item in stages]
    rows = [movement_row(before, numbers, cells) for before in [None, *numbers]]
    totals = {key: sum(row[-5 + i] for row in rows) for i, key in enumerate(MOVES)}
    return {"columns": ["from", *[f"to {n}" for n in numbers], *MOVES], "rows": rows, "totals": totals,
            "stages": stages}


MOVES = ["up", "down", "unchanged", "entered", "customers"]


def movement_row(before, numbers, cells):
    """One row of the matrix: the customers that started the period in stage ``before`` (``None``: no call
    yet), by their stage at the end, then up / down / unchanged / entered / customers."""
    counts = [cells.get((before, after), 0) for after in numbers]
    customers = sum(counts)
    if before is None:
        moves = [0, 0, 0, customers]
    else:
        moves = [sum(c for after, c in zip(numbers, counts) if after > before),
                 sum(c for after, c in zip(numbers, counts) if after < before),
                 cells.get((before, before), 0), 0]
    return [NO_STAGE if before is None else before, *counts, *moves, customers]


REPORTS = [
    ("visit-summary", visit_summary, "visits per rep: by result, customers visited, calls before the visits"),
    ("customer-stats", customer_stats,
     "customers followed up: by source, by intent stage, new/old per rep and month"),
    ("invalid-phones", invalid_phones, "numbers marked invalid per rep and in total: marked, corrected, still open"),
    ("call-performance", call_performance,
     "per rep: calls, connected, customers called, visits, deals, callbacks scheduled"),
    ("conversion-rates", conversion_rates, "phone → visit and visit → deal conversion per rep and in total"),
    ("conversion-snapshot", conversion_snapshot, "customers per intent stage at the period end, per rep"),
    ("conversion-process", conversion_process, "customers' intent-stage movements over the period (from → to)"),
]
