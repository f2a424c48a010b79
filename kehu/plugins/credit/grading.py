"""Credit grading (DOMAIN.md §3.1–3.4): score, strategic level, grade one customer, regrade them all, the
grade decided in the yearly review, the history, and the grade in force that limits and shipping read.

Two implementations of one rule, kept in agreement by the tests:

* :func:`grade_customer` reads one customer's ledger with small queries and scores it with
  :func:`kehu.plugins.credit.scoring.score` (the reference arithmetic, exact).
* :func:`regrade` is set-based: GROUP BY aggregates over the ledger, points as SQL ``CASE`` expressions
  generated from the policy bands (the collection band by cross-multiplication in integer fen), the score in
  hundredths as an integer expression, the grade a ``CASE``; rows are written with ``INSERT ... SELECT``, a
  few thousand customers per transaction.

The inputs, for a grading day ``today`` (workspace-local date):

* the *period* is the ``period_months`` ending today: from the day after ``today − period_months`` to today,
  both included (12 months ending 2025-06-02 = 2024-06-03 … 2025-06-02);
* *sales* = the amounts of the customer's receivables received in the period (cash sales included: they go
  through the ledger too, DESIGN decision 11);
* *collected* = the payments (cash or goods) dated in the period, whichever receivables they settled: the
  rate is the year's collections over the year's sales (§3.2), so it may exceed 100%;
* *receivables* = the open balance now (amount − paid of open receivables);
* the *strategic level* from :class:`~kehu.plugins.credit.models.CreditStanding` (a level the current policy
  no longer knows counts as not rated);
* *first year*: trading began (the earliest of the customer's creation, local date, and its first receipt of
  goods) after ``today − new_customer_months``: the lowest grade whatever the score (§3.1, §9.5).
"""

import calendar
import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction

import attrs
from peewee import JOIN, Case, Cast, Select, Value, fn

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import Prepared, Slot, ids_in, is_postgres, json_object_sql, money, to_utc
from kehu.core.models import Customer, Event, User
from kehu.core.services.lookup import customer_by_id
from kehu.errors import Invalid, PermissionDenied
from kehu.plugins.credit import ledger
from kehu.plugins.credit.models import OPEN, CreditGrading, CreditStanding, Payment, Receivable
from kehu.plugins.credit.policy import CRITERIA, policy_for
from kehu.plugins.credit.scoring import parse_amount, parse_rate, score

COMPUTED, DECIDED = "computed", "decided"
NO_SALES, NO_STRATEGIC_LEVEL, FIRST_YEAR = "no_sales", "no_strategic_level", "first_year"
# Who may regrade the whole workspace (and the system, for the yearly job).
REGRADE_ROLES = ("vp", "gm", "finance", "admin")
# Who decides a grade in the yearly review meeting (§3.1: the sales company leads, finance takes part).
DECIDE_ROLES = ("finance", "gm")
REVIEW_ROLES = ("finance", "gm")
# Customers per regrade transaction: short write locks on SQLite, bounded hook payloads.
REGRADE_BATCH = 5000
HUNDRED = Decimal(100)


# --- calendar --------------------------------------------------------------------------------------------


def add_months(day, months):
    """``day`` moved by ``months`` calendar months, clamped to the month's end (2024-02-29 − 12 → 2023-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def period(policy, today):
    """``(first, last)`` days of the scoring period: the ``period_months`` ending ``today``, both included."""
    return add_months(today, -policy.period_months) + dt.timedelta(days=1), today


def first_year_cutoff(policy, today):
    """A customer whose trading began after this day is in its first year of trade."""
    return add_months(today, -policy.new_customer_months)


def first_year_reason(policy):
    return (f"first year of trade: a customer trading for less than {policy.new_customer_months} months is "
            f"grade {policy.lowest_grade} whatever its score")


# --- views -----------------------------------------------------------------------------------------------


def hundredths_text(number):
    """An integer count of hundredths as decimal text (740 → ``"7.40"``, -150 → ``"-1.50"``): exact, and
    cheap enough for a regrade's hook payloads."""
    sign, number = ("-" if number < 0 else ""), abs(number)
    return f"{sign}{number // 100}.{number % 100:02d}"


def score_text(hundredths):
    """The weighted score as a decimal string (740 → ``"7.40"``); ``None`` stays ``None``."""
    return None if hundredths is None else hundredths_text(hundredths)


def money_text(value):
    """A Decimal amount in yuan as a decimal string with two places."""
    return str(money(value))


def rate_text(collected_fen, sales_fen):
    """The collection rate for display, floored to four places (the band itself uses the exact fraction, so a
    rate shown as 0.7999 never scores the 80% band)."""
    if not sales_fen:
        return None
    return str((Decimal(collected_fen * 10000 // sales_fen) / 10000).quantize(Decimal("0.0001")))


def grading_view(row):
    """A stored grading as services return it (money and score as decimal strings)."""
    return {"customer": row.customer_id, "grade": row.grade, "score": score_text(row.score),
            "points": row.points, "inputs": row.inputs, "flags": row.flags, "reason": row.reason,
            "credit_limit": money_text(row.credit_limit), "credit_days": row.credit_days, "kind": row.kind}


def announced(row):
    """The ``kehu_credit_graded`` payload of one grading."""
    return {"customer": row["customer"], "grade": row["grade"], "kind": row["kind"], "score": row["score"],
            "credit_limit": row["credit_limit"], "credit_days": row["credit_days"]}


def announce(context, gradings):
    """Fire ``kehu_credit_graded`` once the transaction commits (one call per committed batch)."""
    if gradings:
        context.after_commit(lambda: context.hooks.kehu_credit_graded(context=context, gradings=gradings))


# --- permissions -----------------------------------------------------------------------------------------


def _role_key(context):
    return context.user.role if context.user is not None else None


def require_customer_in_scope(context, customer):
    if not access.owner_in_scope(context, customer.owner_id):
        raise PermissionDenied(f"customer {customer.id} is outside the data scope of {context.actor_label}")


def require_grader(context, customer):
    """Manager or above, or finance (§3.12: the sales company and finance grade); managers and directors only
    within their scope."""
    if not (access.is_manager_or_above(context) or access.has_permission(context, "finance")):
        raise PermissionDenied(f"{context.actor_label} ({_role_key(context)}) may not grade customers: "
                               "manager or above, or finance")
    require_customer_in_scope(context, customer)


# --- pure calculation ------------------------------------------------------------------------------------


def score_view(result):
    return {"points": dict(result.points), "score": str(result.score), "grade": result.grade,
            "credit_limit": money_text(result.credit_limit), "credit_days": result.credit_days}


@service
def calculate(context, sales, collection_rate, receivables, strategic):
    """Score given figures without reading or writing anything (``kehu credit score``): what grade and terms
    would these sales, collection rate, receivables and strategic level give under the workspace's policy?"""
    policy = policy_for(context)
    for name, value in (("sales", sales), ("collection rate", collection_rate), ("receivables", receivables),
                        ("strategic level", strategic)):
        if value is None or not str(value).strip():
            raise Invalid(f"{name} is required")
    level = str(strategic).strip()
    if level not in policy.strategic_levels:
        raise Invalid(f"strategic level must be one of {', '.join(policy.strategic_levels)}, not {strategic!r}")
    result = score(policy, parse_amount(sales, "sales"), parse_rate(collection_rate),
                   parse_amount(receivables, "receivables"), level)
    return score_view(result)


# --- strategic level -------------------------------------------------------------------------------------


@service
def set_strategic(context, customer_id, level):
    """Rate a customer's strategic influence (§3.2: by a business-department manager or above, within scope).
    The level is an input of every later grading."""
    access.require_manager(context, "rate a customer's strategic influence")
    customer = customer_by_id(context, customer_id)
    require_customer_in_scope(context, customer)
    policy = policy_for(context)
    level = str(level or "").strip()
    if level not in policy.strategic_levels:
        raise Invalid(f"strategic level must be one of {', '.join(policy.strategic_levels)}, not {level!r}")
    row = CreditStanding.get_or_none(CreditStanding.workspace == context.workspace,
                                     CreditStanding.customer == customer.id)
    before = {"strategic": row.strategic} if row is not None else None
    values = {CreditStanding.strategic: level, CreditStanding.strategic_by: context.user,
              CreditStanding.strategic_at: context.now}
    # An upsert: two raters at once end with one row, the later level.
    (CreditStanding.insert(workspace=context.workspace, customer=customer.id, strategic=level,
                           strategic_by=context.user, strategic_at=context.now)
     .on_conflict(conflict_target=[CreditStanding.workspace, CreditStanding.customer], update=values)
     .execute())
    context.audit("credit.strategic_set", "customer", customer.id, before=before, after={"strategic": level})
    return {"customer": customer.id, "strategic": level, "by": context.actor_label,
            "at": to_utc(context.now).isoformat()}


# --- grading one customer (the reference path) -----------------------------------------------------------


def ledger_figures(context, customer, first, last):
    """``(sales_fen, collected_fen, open_fen, first_sale)`` of one customer for the period ``first``–``last``."""
    R, P = Receivable, Payment
    mine = (R.workspace == context.workspace) & (R.customer == customer.id)
    # COALESCE keeps peewee from converting the sums: they stay integer fen.
    sales = R.select(fn.COALESCE(fn.SUM(R.amount), 0)).where(
        mine, R.received_on >= first, R.received_on <= last).scalar()
    collected = P.select(fn.COALESCE(fn.SUM(P.amount), 0)).where(
        P.workspace == context.workspace, P.customer == customer.id, P.paid_on >= first, P.paid_on <= last
    ).scalar()
    open_fen = R.select(fn.COALESCE(fn.SUM(R.amount - R.paid), 0)).where(mine, R.status == OPEN).scalar()
    first_sale = R.select(fn.MIN(R.received_on)).where(mine).scalar()
    return int(sales), int(collected), int(open_fen), (ledger.parse_date(first_sale) if first_sale else None)


def strategic_level(context, policy, customer_id):
    """The stored level, and the level scored (``None`` when not rated or unknown to the current policy)."""
    stored = (CreditStanding.select(CreditStanding.strategic)
              .where(CreditStanding.workspace == context.workspace, CreditStanding.customer == customer_id)
              .scalar())
    return stored, (stored if stored in policy.strategic_levels else None)


def compute_grading(context, policy, customer, today):
    """Score one customer from its recorded data: ``(Score, inputs, reason)`` (nothing written)."""
    first, last = period(policy, today)
    sales, collected, open_fen, first_sale = ledger_figures(context, customer, first, last)
    stored_level, level = strategic_level(context, policy, customer.id)
    trading_since = customer.created_at.astimezone(context.tz).date()
    if first_sale is not None:
        trading_since = min(trading_since, first_sale)
    new_customer = trading_since > first_year_cutoff(policy, today)
    # The rate stays an exact fraction: Decimal thresholds compare with a Fraction exactly.
    rate = Fraction(collected, sales) if sales else None
    result = score(policy, Decimal(sales) / HUNDRED, rate, Decimal(open_fen) / HUNDRED, level, new_customer)
    inputs = {"sales": money_text(Decimal(sales) / HUNDRED), "collected": money_text(Decimal(collected) / HUNDRED),
              "collection_rate": rate_text(collected, sales), "receivables": money_text(Decimal(open_fen) / HUNDRED),
              "strategic": stored_level, "period_from": first.isoformat(), "period_to": last.isoformat()}
    return result, inputs, (first_year_reason(policy) if new_customer else None)


@service
def grade_customer(context, customer_id):
    """Grade a customer from its recorded data (manager or above within scope, or finance), store the grading
    (kind ``computed``), audit it and announce it: it is the grade in force until the next one."""
    customer = customer_by_id(context, customer_id)
    require_grader(context, customer)
    policy = policy_for(context)
    result, inputs, reason = compute_grading(context, policy, customer, ledger.today(context))
    row = CreditGrading.create(
        workspace=context.workspace, customer=customer.id, kind=COMPUTED, grade=result.grade,
        score=result.hundredths, points=dict(result.points), inputs=inputs, flags=list(result.flags),
        reason=reason, credit_limit=result.credit_limit, credit_days=result.credit_days, actor=context.user,
        at=context.now)
    view = grading_view(row)
    context.audit("credit.graded", "customer", customer.id, after={"grading": row.id, "grade": row.grade,
                                                                   "kind": COMPUTED})
    announce(context, [announced(view)])
    return view


# --- the grade decided in the yearly review --------------------------------------------------------------


@service
def decide_grade(context, customer_id, grade, reason):
    """Record the grade the yearly review meeting decided (finance or gm only; a reason is required). It is
    stored as kind ``decided`` with that grade's terms and is in force until the next grading."""
    if context.user is not None and context.user.role not in DECIDE_ROLES:
        raise PermissionDenied(f"only finance or the gm may set a customer's grade, not {context.user.login} "
                               f"({context.user.role})")
    customer = customer_by_id(context, customer_id)
    require_customer_in_scope(context, customer)
    policy = policy_for(context)
    grade = str(grade or "").strip().upper()
    if grade not in policy.grade_names:
        raise Invalid(f"grade must be one of {', '.join(policy.grade_names)}, not {grade!r}")
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise Invalid("a reason is required (what the review meeting decided and why)")
    if len(reason) > 300:
        raise Invalid("the reason is at most 300 characters")
    before = grade_in_force(context, customer.id)[0]
    terms = policy.terms_for(grade)
    row = CreditGrading.create(
        workspace=context.workspace, customer=customer.id, kind=DECIDED, grade=grade, reason=reason,
        credit_limit=terms.limit if terms.credit else Decimal(0), credit_days=terms.days, actor=context.user,
        at=context.now)
    view = grading_view(row)
    context.audit("credit.grade_decided", "customer", customer.id, before={"grade": before},
                  after={"grading": row.id, "grade": grade, "kind": DECIDED, "reason": reason})
    announce(context, [announced(view)])
    return view


# --- reading ---------------------------------------------------------------------------------------------


def latest_grading(context, customer_id):
    """The customer's latest grading row (computed or decided), or ``None``."""
    return (CreditGrading.select()
            .where(CreditGrading.workspace == context.workspace, CreditGrading.customer == customer_id)
            .order_by(CreditGrading.at.desc(), CreditGrading.id.desc()).first())


def grade_in_force(context, customer_id):
    """``(grade, credit_limit, credit_days, credit)`` in force for a customer: the latest grading's grade
    (computed or decided) with the *current* policy's terms for it (a policy change applies at once).

    A customer never graded, or whose grade the current policy no longer names, is treated as the lowest
    grade (C by default): no credit until graded (§3.1: new customers are C).
    """
    policy = policy_for(context)
    row = latest_grading(context, customer_id)
    grade = row.grade if row is not None and row.grade in policy.grade_names else policy.lowest_grade
    terms = policy.terms_for(grade)
    return grade, money(terms.limit if terms.credit else 0), terms.days, terms.credit


@service
def grading_history(context, customer_id):
    """The customer's gradings, newest first, computed and decided side by side (anyone who sees the
    customer: reps need their customers' grades)."""
    customer = customer_by_id(context, customer_id)
    access.require_record(context, "view", customer.owner_id, f"customer {customer.id}")
    Actor = User.alias()
    rows = (CreditGrading.select(CreditGrading, Actor.login.alias("actor_login"))
            .join_from(CreditGrading, Actor, JOIN.LEFT_OUTER, on=(CreditGrading.actor == Actor.id))
            .where(CreditGrading.workspace == context.workspace, CreditGrading.customer == customer.id)
            .order_by(CreditGrading.at.desc(), CreditGrading.id.desc()).objects())
    return [{"kind": r.kind, "grade": r.grade, "score": score_text(r.score), "reason": r.reason,
             "actor": r.actor_login if r.actor_id is not None else None, "at": r.at.isoformat(),
             "credit_limit": money_text(r.credit_limit), "credit_days": r.credit_days, "flags": r.flags}
            for r in rows]


# --- regrade: set-based ----------------------------------------------------------------------------------


def _fen(value):
    """Decimal yuan → integer fen (exact: policy amounts are validated decimals)."""
    return value * 100


def band_case(value, criterion):
    """Points for an amount column in integer fen: the criterion's bands as one CASE.

    ``fen/100 ≥ t`` ⟺ ``fen ≥ ceil(100·t)`` and ``fen/100 ≤ t`` ⟺ ``fen ≤ floor(100·t)`` for integer fen, so
    every comparison is between integers whatever decimals a threshold has.
    """
    whens = []
    for band in criterion.bands:
        edge = _fen(band.threshold)
        if criterion.basis == "at_least":
            whens.append((value >= int(edge.to_integral_value(ROUND_CEILING)), band.points))
        else:
            whens.append((value <= int(edge.to_integral_value(ROUND_FLOOR)), band.points))
    return Case(None, whens, criterion.otherwise)


def rate_case(collected, sales, criterion):
    """Points for the collection rate ``collected / sales`` (sales > 0): each threshold ``N/D`` compared by
    cross-multiplication, ``collected·D ≥ sales·N``, in integers (never a division). ``N/D`` is in lowest terms
    (0.8 = 4/5), so the products stay far inside 64 bits for any rate written with a few decimals."""
    whens = []
    for band in criterion.bands:
        numerator, denominator = band.threshold.as_integer_ratio()
        if criterion.basis == "at_least":
            whens.append((collected * denominator >= sales * numerator, band.points))
        else:
            whens.append((collected * denominator <= sales * numerator, band.points))
    return Case(None, [(sales == 0, criterion.otherwise)] + whens, criterion.otherwise)


def _decimal_sql(value, scale):
    """An integer expression divided by 10**scale, as decimal text with ``scale`` places ("1234.50")."""
    unit = 10 ** scale
    if is_postgres():
        return Cast(Cast(Cast(value, "NUMERIC") / unit, f"NUMERIC(30,{scale})"), "TEXT")
    # SQLite has no exact decimal type: whole and fractional parts by integer division of a non-negative value
    # (a negative balance takes the other branch). peewee spells ``-x`` DESC and ``x % y`` GLOB, hence
    # ``0 - x`` and ``x - x / y * y``.
    layout = f"%d.%0{scale}d"
    negated = 0 - value
    return Case(None, [(value >= 0, fn.printf(layout, value / unit, value - value / unit * unit))],
                fn.printf("-" + layout, negated / unit, negated - negated / unit * unit))


def _flags_case(no_sales, no_level, new):
    """The JSON list of flags, in the order :func:`scoring.score` gives them."""
    whens = []
    for a in (True, False):
        for b in (True, False):
            for c in (True, False):
                names = [n for n, on in ((NO_SALES, a), (NO_STRATEGIC_LEVEL, b), (FIRST_YEAR, c)) if on]
                condition = ((no_sales if a else ~no_sales) & (no_level if b else ~no_level)
                             & (new if c else ~new))
                whens.append((condition, "[" + ", ".join(f'"{n}"' for n in names) + "]"))
    return Case(None, whens[:-1], "[]")


# The bounds of a batch, ``lo < customer id ≤ hi``: bound at each execution of the statements compiled once per run.
LO, HI = Slot("lo"), Slot("hi")


def _batch_ledger(context, lo, hi, first, last):
    """The GROUP BY aggregates of customers ``lo < id ≤ hi``: ``(receivables, payments)`` subqueries."""
    R, P = Receivable, Payment
    in_window = (R.received_on >= first) & (R.received_on <= last)
    receivables = (R.select(R.customer.alias("customer_id"),
                            Cast(fn.SUM(Case(None, [(in_window, R.amount)], 0)), "BIGINT").alias("sales"),
                            Cast(fn.SUM(Case(None, [(R.status == OPEN, R.amount - R.paid)], 0)), "BIGINT")
                            .alias("open_fen"),
                            fn.MIN(R.received_on).alias("first_sale"))
                   .where(R.workspace == context.workspace, R.customer > lo, R.customer <= hi)
                   .group_by(R.customer).alias("r"))
    payments = (P.select(P.customer.alias("customer_id"), Cast(fn.SUM(P.amount), "BIGINT").alias("collected"))
                .where(P.workspace == context.workspace, P.customer > lo, P.customer <= hi, P.paid_on >= first,
                       P.paid_on <= last)
                .group_by(P.customer).alias("p"))
    return receivables, payments


def _scored(context, policy, lo, hi, today, since):
    """One row per customer of the batch to grade (those graded since ``since`` left out): its figures, points
    and flags (a subquery)."""
    first, last = period(policy, today)
    receivables, payments = _batch_ledger(context, lo, hi, first, last)
    cutoff = first_year_cutoff(policy, today)
    # created (local date) > cutoff ⟺ created_at ≥ local midnight after the cutoff.
    created_after = dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time(), tzinfo=context.tz)
    sales = fn.COALESCE(receivables.c.sales, 0)
    collected = fn.COALESCE(payments.c.collected, 0)
    open_fen = fn.COALESCE(receivables.c.open_fen, 0)
    level = CreditStanding.strategic
    levels = policy.strategic_levels
    criteria = policy.criteria
    wanted = [Customer.workspace == context.workspace, Customer.deleted_at.is_null(), Customer.id > lo,
              Customer.id <= hi]
    if since is not None:
        done = CreditGrading.alias("done")
        wanted.append(~fn.EXISTS(done.select(Value(1)).where(
            done.workspace == context.workspace, done.customer == Customer.id, done.at >= since)))
    return (Customer.select(
        Customer.workspace.alias("workspace_id"), Customer.id.alias("customer_id"), sales.alias("sales"),
        collected.alias("collected"), open_fen.alias("open_fen"), level.alias("strategic"),
        band_case(sales, criteria["sales"]).alias("sp"),
        rate_case(collected, sales, criteria["collection"]).alias("cp"),
        band_case(open_fen, criteria["receivables"]).alias("rp"),
        Case(level, list(levels.items()), min(levels.values())).alias("stp"),
        (sales == 0).alias("no_sales"),
        (level.is_null() | level.not_in(list(levels))).alias("no_level"),
        ((Customer.created_at >= created_after)
         & (receivables.c.first_sale.is_null() | (receivables.c.first_sale > cutoff.isoformat()))).alias("new"))
        .join_from(Customer, receivables, JOIN.LEFT_OUTER, on=(receivables.c.customer_id == Customer.id))
        .join_from(Customer, payments, JOIN.LEFT_OUTER, on=(payments.c.customer_id == Customer.id))
        .join_from(Customer, CreditStanding, JOIN.LEFT_OUTER,
                   on=((CreditStanding.workspace == Customer.workspace) & (CreditStanding.customer == Customer.id)))
        .where(*wanted)
        .alias("s"))


def weighted_sql(policy, points):
    """``100 · score`` as an integer expression: Σ weight · points (the weights are integers)."""
    weights = [policy.criteria[name].weight for name in CRITERIA[:3]] + [policy.strategic_weight]
    terms = [weight * column for weight, column in zip(weights, points)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _graded(policy, s):
    """Adds the score in hundredths and the grade to the scored rows ``s`` (a subquery)."""
    hundredths = weighted_sql(policy, (s.c.sp, s.c.cp, s.c.rp, s.c.stp))
    # Thresholds have at most two decimals (the policy checks it): 100 · threshold is an integer.
    grade = Case(None, [(s.c.new, policy.lowest_grade)]
                 + [(hundredths >= int(threshold * 100), name) for name, threshold in policy.grades],
                 policy.lowest_grade)
    return Select([s], [s.c.workspace_id, s.c.customer_id, s.c.sales, s.c.collected, s.c.open_fen, s.c.strategic,
                        s.c.sp, s.c.cp, s.c.rp, s.c.stp, s.c.no_sales, s.c.no_level, s.c.new,
                        hundredths.alias("hundredths"), grade.alias("grade")]).alias("g")


def regrade_insert(context, policy, today, at, since):
    """``INSERT INTO credit_grading ... SELECT`` for the customers of a batch, returning the new rows."""
    g = _graded(policy, _scored(context, policy, LO, HI, today, since))
    terms = {name: policy.terms_for(name) for name in policy.grade_names}
    limit = Case(g.c.grade, [(name, int(_fen(t.limit if t.credit else Decimal(0)))) for name, t in terms.items()], 0)
    days = Case(g.c.grade, [(name, t.days) for name, t in terms.items()], 0)
    points = json_object_sql(*zip(CRITERIA, (g.c.sp, g.c.cp, g.c.rp, g.c.stp)))
    first, last = period(policy, today)
    inputs = json_object_sql(
        ("sales", _decimal_sql(g.c.sales, 2)), ("collected", _decimal_sql(g.c.collected, 2)),
        # floored to four places, like rate_text (integer division of non-negative integers)
        ("collection_rate", Case(None, [(g.c.sales > 0, _decimal_sql(g.c.collected * 10000 / g.c.sales, 4))])),
        ("receivables", _decimal_sql(g.c.open_fen, 2)), ("strategic", g.c.strategic),
        ("period_from", Value(first.isoformat())), ("period_to", Value(last.isoformat())))
    actor = context.user.id if context.user is not None else None
    select = Select([g], [
        g.c.workspace_id, g.c.customer_id, Value(COMPUTED), g.c.grade, g.c.hundredths, points, inputs,
        _flags_case(g.c.no_sales, g.c.no_level, g.c.new), Case(None, [(g.c.new, first_year_reason(policy))]),
        limit, days, Value(actor), Value(CreditGrading.at.db_value(at))])
    G = CreditGrading
    return G.insert_from(select, [G.workspace, G.customer, G.kind, G.grade, G.score, G.points, G.inputs, G.flags,
                                  G.reason, G.credit_limit, G.credit_days, G.actor, G.at]) \
        .returning(G.id, G.customer, G.grade, G.score, G.credit_limit, G.credit_days)


def audit_gradings(context, at):
    """One audit row per new grading (ids bound as ``ids``), INSERT ... SELECT from the gradings themselves."""
    G = CreditGrading
    actor = context.user.id if context.user is not None else None
    return Event.insert_from(
        G.select(G.workspace, Value(actor), Value(Event.at.db_value(at)), Value("credit.graded"),
                 Value("customer"), Cast(G.customer, "TEXT"),
                 Value(None), json_object_sql(("grading", G.id), ("grade", G.grade), ("kind", G.kind)))
        .where(G.workspace == context.workspace, ids_in(G.id)),
        [Event.workspace, Event.actor, Event.at, Event.action, Event.entity_type, Event.entity_id, Event.before,
         Event.after])


def batch_end(context):
    """The id of the last customer of the next batch after ``lo`` (NULL when none are left)."""
    batch = (Customer.select(Customer.id)
             .where(Customer.workspace == context.workspace, Customer.deleted_at.is_null(), Customer.id > LO)
             .order_by(Customer.id).limit(REGRADE_BATCH)).alias("batch")
    return Customer.select(fn.MAX(batch.c.id)).from_(batch)


@attrs.frozen
class RegradeStatements:
    """A run's statements, each compiled to SQL once (peewee spends milliseconds turning the generated CASE
    expressions into SQL) and executed per batch with its bounds."""

    batch_end: Prepared
    insert: Prepared
    audit: Prepared

    @classmethod
    def build(cls, context, policy, today, at, since):
        return cls(batch_end=Prepared(lambda: batch_end(context)),
                   insert=Prepared(lambda: regrade_insert(context, policy, today, at, since)),
                   audit=Prepared(lambda: audit_gradings(context, at)))


@service
def _regrade_batch(context, statements, lo, hi):
    """Grade customers ``lo < id ≤ hi`` in one transaction; returns the new rows ``(id, customer, grade, ...)``."""
    rows = statements.insert.rows(lo=lo, hi=hi)
    if rows:
        statements.audit.execute(ids=[r[0] for r in rows])
        announce(context, [{"customer": customer, "grade": grade, "kind": COMPUTED, "score": score_text(hundredths),
                            "credit_limit": hundredths_text(limit), "credit_days": days}
                           for _, customer, grade, hundredths, limit, days in rows])
    return rows


def require_regrader(context):
    if context.user is not None and context.user.role not in REGRADE_ROLES:
        raise PermissionDenied(f"only {', '.join(REGRADE_ROLES)} may regrade every customer, not "
                               f"{context.user.login} ({context.user.role})")


def regrade(context, since=None):
    """Grade every customer of the workspace from its recorded data (vp, gm, finance, admin or the system).

    Set-based, a batch of customers per transaction, each announced after its commit. With ``since`` (an
    instant, or a date = its local midnight) a customer already graded since then is skipped — computed, or
    decided in the review meeting, which a later computation must not silently overrule: a run
    that stopped half-way is finished by running again with ``since`` = its day, without grading anyone twice
    (the yearly job always passes the start of the year). Without it, everyone is graded afresh.
    Returns ``{"graded": N, "grades": {"A": n, "B": n, "C": n}}``.
    """
    require_regrader(context)
    at = context.now  # one instant for the whole run (context.now is pinned only inside a service call)
    if isinstance(since, (str, dt.date)) and not isinstance(since, dt.datetime):
        since = dt.datetime.combine(ledger.parse_date(since, "--since"), dt.time(), tzinfo=context.tz)
    policy = policy_for(context)
    statements = RegradeStatements.build(context, policy, at.astimezone(context.tz).date(), at, since)
    grades = dict.fromkeys(policy.grade_names, 0)
    lo = 0
    while (hi := statements.batch_end.first(lo=lo)[0]) is not None:
        for row in _regrade_batch(context, statements, lo, hi):
            grades[row[2]] += 1
        lo = hi
    return {"graded": sum(grades.values()), "grades": grades}


def regrade_job(context):
    """The yearly regrade (``kehu tick``, §3.1): every customer not yet graded this year, as the system."""
    year = context.now.astimezone(context.tz).year
    return regrade(context, since=dt.datetime(year, 1, 1, tzinfo=context.tz))


# --- quarterly review of limits --------------------------------------------------------------------------


@service
def review_limits(context):
    """Remind finance and the gm each quarter (§3.1) how many customers' limits and terms are due for review:
    those with a grade in force. Audited; returns ``{"customers", "notified"}``."""
    G = CreditGrading
    due = (G.select(fn.COUNT(fn.DISTINCT(G.customer)))
           .join(Customer, on=(G.customer == Customer.id))
           .where(G.workspace == context.workspace, Customer.deleted_at.is_null()).scalar())
    users = list(User.select(User.id).where(User.workspace == context.workspace, User.active == True,  # noqa: E712
                                            User.role.in_(REVIEW_ROLES)).order_by(User.id))
    if due:
        context.notify([Notice(u.id, "credit_review", f"{due} customer(s) with a credit grade are due for the "
                               "quarterly review of limits and terms") for u in users])
    context.audit("credit.limits_review_due", "workspace", context.workspace.id,
                  after={"customers": due, "notified": len(users) if due else 0})
    return {"customers": due, "notified": len(users) if due else 0}


SERVICES = {
    "score": calculate, "strategic": set_strategic, "grade": grade_customer, "regrade": regrade,
    "set_grade": decide_grade, "history": grading_history,
}
# The review runs before the regrade in a tick that starts both periods: grades the regrade has just set are
# not yet due for review (and a workspace's first tick does not ask for a review of grades made that minute).
JOBS = [("credit.review_limits", review_limits, "quarter"), ("credit.regrade", regrade_job, "year")]
