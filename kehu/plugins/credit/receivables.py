"""Payments, aging, late fees, rebates and collections on the receivables ledger (DOMAIN.md §3.7–3.9, §3.11).

Receivables are written only by the ship service (:func:`kehu.plugins.credit.ledger.record_sale`); this
module records payments against them (oldest first, as :class:`Allocation` rows dated the payment day), and
reads the ledger: the aging report, late fees, the year-end rebate less late fees, the collection list and the
collection steps taken. Dates are calendar dates in the workspace timezone; money is ``Decimal`` yuan in Python
and integer fen in SQL, rounded half-up to the fen only at the end (DESIGN decision 9).

Readings where the issue leaves room (each is repeated where the code decides it):

* A payment pays goods already received on its date, oldest due first; it may not be dated after today, and
  may not exceed that open balance (nothing is stored then).
* Late fees: the fee of an overdue day is ``late_fee_per_day`` × the amount unpaid that day, where a payment
  made on a day still accrues that day. A written-off receivable stops accruing at its write-off day (that day
  included, like a payment day); its fees up to then remain due.
* The rebate of year Y is computed in Y+1 and deducts the late fees accrued on days within Y.
"""

import datetime as dt
from decimal import Decimal, localcontext

from peewee import JOIN, Case, Cast, Value, fn

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import is_postgres, money
from kehu.core.models import Customer, User
from kehu.core.schemas import listing_bounds
from kehu.core.services.lookup import customer_by_id, parse_id
from kehu.errors import Conflict, Invalid, NotFound, PermissionDenied
from kehu.plugins.credit.approvals import approval_view, on_approved, open_approval
from kehu.plugins.credit.ledger import parse_date, today
from kehu.plugins.credit.models import (OPEN, PAID, PENDING, REPAYMENT_AGREEMENT, WRITTEN_OFF, Allocation,
                                        CollectionStep, CreditApproval, Payment, Receivable)
from kehu.plugins.credit.policy import policy_for
from kehu.plugins.credit.scoring import parse_amount

# Roles that keep the ledger for the whole workspace; anyone else needs "edit" on the customer (its owner, the
# owner's managers, the vp).
LEDGER_ROLES = ("finance", "gm", "admin")
ZERO = Decimal(0)


# --- small shared pieces -------------------------------------------------------------------------------------


def yuan(fen):
    """Integer fen from SQL (int on SQLite, Decimal on PostgreSQL, ``None`` for an empty sum) → Decimal yuan."""
    return money(Decimal(int(fen or 0)) / 100)


def days_between(later, earlier):
    """SQL for ``later − earlier`` in whole days; each side a date column or a ``datetime.date``.

    PostgreSQL subtracts dates to an integer; SQLite stores dates as ``YYYY-MM-DD`` text and has no date type,
    so it goes through julianday (both at midnight, so the difference is a whole number, cast to INTEGER).
    """
    if is_postgres():
        return _pg_date(later) - _pg_date(earlier)
    return Cast(fn.julianday(_sqlite_date(later)) - fn.julianday(_sqlite_date(earlier)), "INTEGER")


def _pg_date(value):
    return Cast(Value(value.isoformat()), "DATE") if isinstance(value, dt.date) else value


def _sqlite_date(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _as_of(context, as_of):
    return today(context) if as_of in (None, "") else parse_date(as_of, "--as-of")


def _local_midnight(context, day):
    return dt.datetime.combine(day, dt.time(), tzinfo=context.tz)


def _may_keep_ledger(context, customer):
    """finance, gm and admin keep the whole ledger; others need "edit" on the customer (owner, managers)."""
    if context.user is None or context.user.role in LEDGER_ROLES or access.has_permission(context, "finance"):
        return
    access.require_record(context, "edit", customer.owner_id, f"customer {customer.id}")


def _may_view(context, customer):
    access.require_record(context, "view", customer.owner_id, f"customer {customer.id}")


def _unpaid_as_of(as_of):
    """SQL: a receivable's unpaid amount in fen counting only the payments made on or before ``as_of``."""
    settled = (Allocation.select(fn.SUM(Allocation.amount).coerce(False))
               .where(Allocation.workspace == Receivable.workspace, Allocation.receivable == Receivable.id,
                      Allocation.paid_on <= as_of))
    return Receivable.amount - fn.COALESCE(settled, 0)


def _on_books(as_of):
    """SQL: receivables that were on the books on ``as_of``: received by then, and not settled or written off
    by then (a receivable closed after ``as_of`` still counts, with what was unpaid on that day)."""
    return (Receivable.received_on <= as_of) & (
        (Receivable.status == OPEN) | (Receivable.closed_on > as_of))


# --- payments ------------------------------------------------------------------------------------------------


def record_payment(context, customer, amount, paid_on, kind="cash", note=None, receivable=None):
    """Store a payment and apply it to the customer's open receivables, oldest due first, in the caller's
    transaction; returns ``(payment, allocations)``. Raises ``Invalid`` (nothing stored) when ``amount``
    exceeds what was open on ``paid_on``. ``receivable``: pay that one only (a cash sale settled at once,
    goods accepted against one debt).

    Only goods received on or before ``paid_on`` are paid: money received before the goods is not a payment
    of them (and an allocation dated before its receivable would make the daily balance meaningless).
    """
    query = (Receivable.select()
             .where(Receivable.workspace == context.workspace, Receivable.customer == customer.id,
                    Receivable.status == OPEN, Receivable.received_on <= paid_on)
             .order_by(Receivable.due_on, Receivable.received_on, Receivable.id))
    if receivable is not None:
        query = query.where(Receivable.id == receivable.id)
    if is_postgres():
        query = query.for_update()  # two payments of one customer must not both take the same balance
    receivables = list(query)
    balance = sum((r.amount - r.paid for r in receivables), ZERO)
    if amount > balance:
        raise Invalid(f"{amount} yuan is more than the open balance of customer {customer.id} on {paid_on} "
                      f"({balance} yuan)")
    payment = Payment.create(workspace=context.workspace, customer=customer.id, amount=amount, paid_on=paid_on,
                             kind=kind, note=(note or "").strip() or None, created_by=context.user,
                             created_at=context.now)
    allocations, left = [], amount
    for receivable in receivables:
        if left <= 0:
            break
        part = min(left, receivable.amount - receivable.paid)
        left -= part
        paid = receivable.paid + part
        settled = paid == receivable.amount
        Receivable.update(paid=paid, status=PAID if settled else OPEN, closed_on=paid_on if settled else None) \
            .where(Receivable.id == receivable.id).execute()
        allocations.append({"receivable": receivable.id, "due_on": receivable.due_on, "amount": part,
                            "unpaid": receivable.amount - paid, "status": PAID if settled else OPEN})
    Allocation.insert_many([{"workspace": context.workspace.id, "payment": payment.id, "receivable": a["receivable"],
                             "amount": a["amount"], "paid_on": paid_on} for a in allocations]).execute()
    return payment, allocations


@service
def pay(context, customer_id, amount, on=None, note=None):
    """Record a payment of ``amount`` yuan received on ``on`` (default today), applied to the oldest open
    receivables first (by due date, then receipt date, then id). finance, gm and admin, or a user who may edit
    the customer (its rep, the rep's managers); audited. Returns the payment and its allocations."""
    customer = customer_by_id(context, customer_id)
    _may_keep_ledger(context, customer)
    amount = parse_amount(amount, "--amount")
    if amount <= 0:
        raise Invalid("--amount must be more than zero")
    paid_on = parse_date(on, "--on") if on not in (None, "") else today(context)
    if note is not None and len(note.strip()) > 300:
        raise Invalid("--note has at most 300 characters")
    if paid_on > today(context):
        # A payment is booked once received; a future date would also make aging and late fees lie today.
        raise Invalid(f"a payment cannot be dated after today ({today(context)}), not {paid_on}")
    payment, allocations = record_payment(context, customer, amount, paid_on, note=note)
    view = {
        "payment": payment.id, "customer": customer.id, "amount": str(amount), "paid_on": paid_on.isoformat(),
        "note": payment.note,
        "allocations": [{**a, "due_on": a["due_on"].isoformat(), "amount": str(a["amount"]),
                         "unpaid": str(a["unpaid"])} for a in allocations],
    }
    context.audit("credit.payment_recorded", "credit_payment", payment.id, after=view)
    return view


# --- aging ---------------------------------------------------------------------------------------------------


def bucket_names(policy):
    """Column names of the aging report: ``current``, ``overdue_1_30`` … ``overdue_over_90``."""
    names, low = ["current"], 1
    for high in policy.aging_buckets:
        names.append(f"overdue_{low}_{high}")
        low = high + 1
    return names + [f"overdue_over_{policy.aging_buckets[-1]}"]


def _bucket_sums(policy, days, unpaid):
    """One ``SUM(CASE ...)`` per aging bucket, on the day difference ``days`` = as-of − due date."""
    ranges, low = [days <= 0], 1  # current: not yet past due (due on or after the as-of day)
    for high in policy.aging_buckets:
        ranges.append(days.between(low, high))
        low = high + 1
    ranges.append(days >= low)
    return [fn.SUM(Case(None, [(condition, unpaid)], 0)).coerce(False) for condition in ranges]


@service
def aging(context, as_of=None, limit=100, offset=0):
    """The aging report as of a day (default today): per customer in the acting user's scope, what was unpaid
    then (payments after that day ignored), split into not yet due and overdue-days buckets of the policy.

    One SQL statement: an inner select gives each receivable on the books its unpaid amount and day difference
    (each computed once), the outer one groups by customer with a ``SUM(CASE ...)`` per bucket.
    """
    as_of = _as_of(context, as_of)
    limit, offset = listing_bounds(limit, offset)
    policy = policy_for(context)
    ledger_lines = (Receivable.select(Customer.id.alias("customer"), Customer.name.alias("name"),
                                      _unpaid_as_of(as_of).alias("unpaid"),
                                      days_between(as_of, Receivable.due_on).alias("days"))
                    .join(Customer, on=(Receivable.customer == Customer.id))
                    .where(Receivable.workspace == context.workspace, _on_books(as_of)))
    scope = access.owner_condition(context, Customer.owner)  # finance, vp, gm, admin: None (everything)
    if scope is not None:
        ledger_lines = ledger_lines.where(scope)
    lines = ledger_lines.alias("lines")
    total = fn.SUM(lines.c.unpaid).coerce(False)
    query = (Receivable.select(lines.c.customer, lines.c.name, *_bucket_sums(policy, lines.c.days, lines.c.unpaid),
                               total)
             .from_(lines)
             .group_by(lines.c.customer, lines.c.name)
             .having(total > 0)
             .order_by(lines.c.customer))
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    names = bucket_names(policy)
    return [{"customer": row[0], "name": row[1], **{name: str(yuan(v)) for name, v in zip(names, row[2:-1])},
             "total": str(yuan(row[-1]))} for row in query.tuples()]


# --- late fees -----------------------------------------------------------------------------------------------


def accrual(amount, allocations, first, last):
    """Σ over the days ``first``..``last`` of the amount unpaid that day, and the number of such days with
    something unpaid. ``allocations`` are ``(paid_on, amount)`` sorted by day; a payment reduces the balance
    from the day after it (the day it is paid still accrues on it)."""
    if first > last:
        return ZERO, 0
    unpaid = amount - sum((part for on, part in allocations if on < first), ZERO)
    balance_days, days, day = ZERO, 0, first
    for on, part in allocations:
        if on < first:
            continue
        end = min(on, last)
        if end >= day and unpaid > 0:
            count = (end - day).days + 1
            balance_days, days = balance_days + unpaid * count, days + count
        day = max(day, on + dt.timedelta(days=1))
        unpaid -= part
        if day > last:
            return balance_days, days
    if unpaid > 0:
        count = (last - day).days + 1
        balance_days, days = balance_days + unpaid * count, days + count
    return balance_days, days


def _write_off_day(context, receivable):
    if receivable.closed_on is not None:
        return receivable.closed_on
    if receivable.written_off_at is not None:
        return receivable.written_off_at.astimezone(context.tz).date()
    return None


def fee_lines(context, policy, customer_id, first, last):
    """Per overdue receivable of the customer, the late fee accrued on the days ``first``..``last`` (``first``
    ``None``: from the start): ``[(receivable, days charged, exact Decimal fee)]`` by due date.

    The selection is one query and the allocations another; the day arithmetic is per receivable in Python
    (a customer has few), exact: nothing is rounded here.
    """
    receivables = list(
        Receivable.select()
        .where(Receivable.workspace == context.workspace, Receivable.customer == customer_id,
               Receivable.due_on < last, Receivable.received_on <= last,
               # settled on or before the due day: never late
               (Receivable.status != PAID) | (Receivable.closed_on > Receivable.due_on)
               | Receivable.closed_on.is_null())
        .order_by(Receivable.due_on, Receivable.received_on, Receivable.id))
    paid = {r.id: [] for r in receivables}
    if receivables:
        for receivable_id, on, part in (Allocation.select(Allocation.receivable, Allocation.paid_on,
                                                          Allocation.amount)
                                        .where(Allocation.workspace == context.workspace,
                                               Allocation.receivable.in_(list(paid)), Allocation.paid_on <= last)
                                        .order_by(Allocation.paid_on, Allocation.id).tuples()):
            paid[receivable_id].append((on, part))
    lines = []
    with localcontext() as exact:
        exact.prec = 60  # enough digits that amount × days × rate is never rounded
        for receivable in receivables:
            start = receivable.due_on + dt.timedelta(days=1)  # the first overdue day
            if first is not None:
                start = max(start, first)
            end = last
            if receivable.status == PAID and receivable.closed_on is not None:
                end = min(end, receivable.closed_on)  # settled: nothing accrues after the day of payment
            if receivable.status == WRITTEN_OFF:
                # Fees stop at the write-off: the day it is written off still accrues, like a payment day.
                stop = _write_off_day(context, receivable)
                if stop is None:
                    continue
                end = min(end, stop)
            balance_days, days = accrual(receivable.amount, paid[receivable.id], start, end)
            if days:
                lines.append((receivable, days, balance_days * policy.late_fee_per_day))
    return lines


def total_fee(lines):
    """The exact sum of ``fee_lines``' fees, rounded half-up to the fen once, at the end."""
    with localcontext() as exact:
        exact.prec = 60
        return money(sum((fee for _, _, fee in lines), ZERO))


@service
def late_fees(context, customer_id, as_of=None):
    """The customer's late fees accrued up to ``as_of`` (default today): per overdue receivable the days
    charged and the fee, and the total. Each overdue day (after the due day, up to and including the day of
    payment) accrues the daily rate on what was unpaid that day; the total is the exact sum rounded half-up to
    the fen (each line's fee is shown rounded for display only)."""
    customer = customer_by_id(context, customer_id)
    _may_view(context, customer)
    as_of = _as_of(context, as_of)
    lines = fee_lines(context, policy_for(context), customer.id, None, as_of)
    return {
        "total": str(total_fee(lines)),
        "lines": [{"receivable": r.id, "due_on": r.due_on.isoformat(), "overdue_days": days, "fee": str(money(fee))}
                  for r, days, fee in lines],
    }


# --- rebate --------------------------------------------------------------------------------------------------


def _year(value):
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid(f"--year must be a year like 2025, not {value!r}") from None
    if not 1900 <= year <= 9999:
        raise Invalid(f"--year must be a year like 2025, not {value!r}")
    return year


def tier_rate(policy, sales):
    """The rebate rate for a year's ``sales``: half-open bands (DOMAIN.md §9.9), the first edge not reached."""
    for edge, rate in policy.rebate_tiers:
        if sales < edge:
            return rate
    return policy.rebate_top


@service
def rebate(context, customer_id, year=None, amount=None):
    """The year-end rebate of ``year`` (default last year) less the late fees to deduct.

    Reading (DOMAIN.md §3.7, §3.11): the rebate for year Y is computed in Y+1 and deducts the late fees
    accrued on days within Y. Without ``amount`` it is the policy's tier rate (chosen by the year's sales,
    i.e. the receivables received in Y) × the year's collections (payments dated in Y); ``payable`` is
    never negative. Approval of the rebate itself (§3.11) is outside kehu."""
    customer = customer_by_id(context, customer_id)
    _may_view(context, customer)
    year = _year(year) if year not in (None, "") else today(context).year - 1
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    policy = policy_for(context)
    sales = yuan(Receivable.select(fn.SUM(Receivable.amount).coerce(False)).where(
        Receivable.workspace == context.workspace, Receivable.customer == customer.id,
        Receivable.received_on.between(first, last)).scalar())
    collections = yuan(Payment.select(fn.SUM(Payment.amount).coerce(False)).where(
        Payment.workspace == context.workspace, Payment.customer == customer.id,
        Payment.paid_on.between(first, last)).scalar())
    rate = tier_rate(policy, sales)
    value = parse_amount(amount, "--amount") if amount not in (None, "") else money(collections * rate)
    # Fees of days up to today only: a rebate looked at during the year deducts what has accrued so far.
    fees = total_fee(fee_lines(context, policy, customer.id, first, min(last, today(context))))
    return {"year": year, "sales": str(sales), "collections": str(collections), "tier_rate": str(rate),
            "rebate": str(value), "late_fees": str(fees), "payable": str(money(max(ZERO, value - fees)))}


# --- collections ---------------------------------------------------------------------------------------------


def step_names(policy):
    return [step["step"] for step in policy.collection_steps]


def _taken(steps, receivable_id, since):
    """Names of the steps that count for a receivable (or, with ``receivable_id`` None, for the customer):
    customer-wide steps and the receivable's own, taken since it fell overdue (an old episode's phone call
    does not count for a new debt)."""
    return [s.step for s in steps
            if (s.receivable_id is None or s.receivable_id == receivable_id) and s.at >= since]


def _next_step(policy, taken):
    return next((name for name in step_names(policy) if name not in taken), None)


@service
def collections(context, as_of=None, limit=100, offset=0):
    """Overdue receivables as of a day (default today) in the acting user's scope, most overdue first: days
    overdue, the amount unpaid then, the collection steps taken since it fell overdue, the next step of the
    policy's procedure and a pending approval, if any."""
    as_of = _as_of(context, as_of)
    limit, offset = listing_bounds(limit, offset)
    policy = policy_for(context)
    unpaid = _unpaid_as_of(as_of)
    query = (Receivable.select(Receivable.id, Receivable.customer, Customer.name, User.login,
                               Receivable.received_on, Receivable.due_on,
                               days_between(as_of, Receivable.due_on).alias("days"), unpaid.alias("unpaid"))
             .join(Customer, on=(Receivable.customer == Customer.id))
             .join(User, JOIN.LEFT_OUTER, on=(Customer.owner == User.id))
             .where(Receivable.workspace == context.workspace, _on_books(as_of), Receivable.due_on < as_of,
                    unpaid > 0)
             .order_by(Receivable.due_on, Receivable.id))
    scope = access.owner_condition(context, Customer.owner)
    if scope is not None:
        query = query.where(scope)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    rows = list(query.tuples())
    customers = sorted({row[1] for row in rows})
    steps, pending = {}, {}
    if customers:
        for step in (CollectionStep.select().where(CollectionStep.workspace == context.workspace,
                                                   CollectionStep.customer.in_(customers))
                     .order_by(CollectionStep.at, CollectionStep.id)):
            steps.setdefault(step.customer_id, []).append(step)
        for approval in CreditApproval.select().where(
                CreditApproval.workspace == context.workspace, CreditApproval.kind == REPAYMENT_AGREEMENT,
                CreditApproval.status == PENDING, CreditApproval.customer.in_(customers)):
            pending.setdefault(approval.customer_id, []).append(approval)
    out = []
    for receivable_id, customer_id, name, owner, received_on, due_on, days, fen in rows:
        since = _local_midnight(context, due_on + dt.timedelta(days=1))
        taken = _taken(steps.get(customer_id, []), receivable_id, since)
        waiting = [a.id for a in pending.get(customer_id, []) if a.receivable_id in (None, receivable_id)]
        out.append({"receivable": receivable_id, "customer": customer_id, "name": name, "owner": owner,
                    "received_on": received_on.isoformat(), "due_on": due_on.isoformat(),
                    "overdue_days": int(days), "unpaid": str(yuan(fen)), "steps": taken,
                    "next": _next_step(policy, taken), "pending_approval": waiting[0] if waiting else None})
    return out


def _target(context, target):
    """``CUSTOMER`` (an id) or ``receivable:ID`` → (customer, receivable or None)."""
    text = str(target).strip()
    if text.lower().startswith("receivable:"):
        receivable_id = parse_id(text.split(":", 1)[1], "receivable")
        receivable = Receivable.get_or_none(Receivable.workspace == context.workspace,
                                            Receivable.id == receivable_id)
        if receivable is None:
            raise NotFound(f"no receivable {receivable_id}")
        return customer_by_id(context, receivable.customer_id), receivable
    return customer_by_id(context, text), None


def _overdue(context, customer, receivable, on):
    """What is overdue on ``on`` for the target: (unpaid Decimal, earliest due date) — (0, None) if nothing."""
    query = Receivable.select(fn.SUM(Receivable.amount - Receivable.paid).coerce(False),
                              fn.MIN(Receivable.due_on)).where(
        Receivable.workspace == context.workspace, Receivable.customer == customer.id,
        Receivable.status == OPEN, Receivable.due_on < on)
    if receivable is not None:
        query = query.where(Receivable.id == receivable.id)
    fen, due_on = query.tuples().first()
    if isinstance(due_on, str):  # SQLite hands MIN() of a date column back as text
        due_on = dt.date.fromisoformat(due_on)
    return yuan(fen), due_on


@service
def collect(context, target, step, notes=None):
    """Record a collection step (DOMAIN.md §3.9) on an overdue customer (``CUSTOMER``) or receivable
    (``receivable:ID``). ``phone`` tells the customer's rep to collect; a step with approvers (the repayment
    agreement: head-office vp) opens an approval and counts once approved. Audited."""
    customer, receivable = _target(context, target)
    _may_keep_ledger(context, customer)
    policy = policy_for(context)
    names = step_names(policy)
    step = (step or "").strip()
    if step not in names:
        raise Invalid(f"unknown collection step {step!r}; the steps are {', '.join(names)}")
    on = today(context)
    unpaid, due_on = _overdue(context, customer, receivable, on)
    if unpaid <= 0:
        what = f"receivable {receivable.id}" if receivable is not None else f"customer {customer.id}"
        raise Conflict(f"{what} has nothing overdue on {on}")
    receivable_id = receivable.id if receivable is not None else None
    steps = list(CollectionStep.select().where(CollectionStep.workspace == context.workspace,
                                               CollectionStep.customer == customer.id))
    taken = _taken(steps, receivable_id, _local_midnight(context, due_on + dt.timedelta(days=1)))
    missing = [name for name in names[:names.index(step)] if name not in taken]
    # The procedure escalates step by step; skipping one (straight to legal action for a customer who has
    # vanished, say) is a judgement for a manager or above, not for the rep chasing the money.
    if missing and not access.is_manager_or_above(context):
        raise PermissionDenied(f"only a manager or above may take collection steps out of order: "
                               f"{', '.join(missing)} first")
    spec = policy.collection_steps[names.index(step)]
    details = {"step": step, "notes": (notes or "").strip() or None, "target": str(target).strip()}
    if spec["approvers"]:
        waiting = CreditApproval.select(CreditApproval.id).where(
            CreditApproval.workspace == context.workspace, CreditApproval.kind == REPAYMENT_AGREEMENT,
            CreditApproval.status == PENDING, CreditApproval.customer == customer.id,
            (CreditApproval.receivable_id == receivable_id) if receivable_id is not None
            else CreditApproval.receivable_id.is_null()).scalar()
        if waiting is not None:
            raise Conflict(f"approval {waiting} for this step is still pending")
        # Every collection step that needs approvers is filed as a repayment agreement (the only such step of
        # the default procedure); the step's name travels in the details.
        approval = open_approval(context, REPAYMENT_AGREEMENT, customer.id, unpaid, spec["approvers"],
                                 details=details, receivable_id=receivable_id)
        return {"customer": customer.id, "receivable": receivable_id, "step": step, "status": "pending",
                "unpaid": str(unpaid), "approval": approval_view(approval)}
    row = _record_step(context, customer, receivable_id, step, details["notes"], approval=None,
                       actor=context.user)
    return {"customer": customer.id, "receivable": receivable_id, "step": step, "status": "taken",
            "unpaid": str(unpaid), "id": row.id}


def _record_step(context, customer, receivable_id, step, notes, approval, actor):
    row = CollectionStep.create(workspace=context.workspace, customer=customer.id, receivable=receivable_id,
                                step=step, notes=notes, approval=approval, actor=actor, at=context.now)
    context.audit("credit.collection_step", "credit_collection_step", row.id,
                  after={"customer": customer.id, "receivable": receivable_id, "step": step, "notes": notes,
                         "approval": approval.id if approval is not None else None})
    if step == "phone" and customer.owner_id is not None:
        target = f"receivable {receivable_id}" if receivable_id is not None else "its overdue receivables"
        context.notify([Notice(customer.owner_id, "credit_collect",
                               f"please collect from {customer.name}: {target} (phoned by {context.actor_label})",
                               f"customer:{customer.id}")])
    return row


@on_approved(REPAYMENT_AGREEMENT)
def repayment_agreement_approved(context, approval):
    """The last approver approved a collection step: it is taken now, on behalf of whoever asked for it."""
    details = approval.details or {}
    customer = Customer.get_by_id(approval.customer_id)
    _record_step(context, customer, approval.receivable_id, details.get("step", REPAYMENT_AGREEMENT),
                 details.get("notes"), approval=approval, actor=approval.requested_by_id)


# --- overdue notifications -----------------------------------------------------------------------------------


@service
def notify_overdue(context):
    """Job (daily, as the system): tell each owning rep once per receivable that it has fallen overdue.

    Set-based: one locked selection of the open receivables past due and not yet notified, one UPDATE marking
    them, one batch of notices; safe to re-run (a notified receivable is never selected again).
    """
    on = today(context)
    query = (Receivable.select(Receivable.id, Customer.owner, Customer.name, Receivable.due_on,
                               Receivable.amount, Receivable.paid)
             .join(Customer, on=(Receivable.customer == Customer.id))
             .where(Receivable.workspace == context.workspace, Receivable.status == OPEN,
                    Receivable.due_on < on, Receivable.overdue_notified_at.is_null()))
    if is_postgres():
        # Lock only the receivables (not their customers), skipping those a concurrent run holds.
        query = query.for_update(of=Receivable, skip_locked=True)
    due = list(query.tuples())
    if due:
        Receivable.update(overdue_notified_at=context.now).where(
            Receivable.id.in_([row[0] for row in due])).execute()
    # amount and paid come back as Decimal yuan (MoneyField converts them).
    notices = [Notice(owner, "credit_overdue", f"receivable {rid} of {name} ({money(amount - paid)} yuan "
                      f"unpaid) is overdue since {due_on}", f"credit_receivable:{rid}")
               for rid, owner, name, due_on, amount, paid in due if owner is not None]
    context.notify(notices)
    return {"overdue": len(due), "notified": len(notices)}


SERVICES = {"pay": pay, "aging": aging, "late_fees": late_fees, "rebate": rebate, "collections": collections,
            "collect": collect, "notify_overdue": notify_overdue}
JOBS = [("credit.overdue", notify_overdue, "day")]
