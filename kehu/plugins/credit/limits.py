"""Credit limits, over-limit approvals, shipping, write-offs and settlements in goods (DOMAIN.md §3.4–3.6, §3.10).

* :func:`check_credit` says whether a sale on credit is within the customer's limit, needs approval (and whose,
  §3.5), or is refused because the customer is long overdue (§3.6).
* :func:`request_credit` opens a ``credit`` approval routed to those approvers (:mod:`.approvals`).
* :func:`ship` records a sale through :func:`kehu.plugins.credit.ledger.record_sale`: a credit sale over the
  limit needs an approved credit request, which it consumes; a cash sale (款到发货) is paid at once.
* :func:`request_write_off` and :func:`request_goods_settlement` open the §3.10 chains; the actions registered
  with :func:`~kehu.plugins.credit.approvals.on_approved` close or reduce the receivable on the last approval.

Money is ``Decimal`` yuan throughout; band edges are compared by cross-multiplication, never by dividing
(``over_by*100 <= limit*30``), so 30% is 30% exactly (DESIGN decisions 9 and 11).
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import attrs
from marshmallow import Schema, ValidationError, fields, validate
from peewee import JOIN

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import is_postgres, money
from kehu.core.models import Customer
from kehu.core.schemas import Text, load
from kehu.core.services.lookup import customer_by_id, parse_id
from kehu.errors import Conflict, Invalid, KehuError, NotFound
from kehu.plugins.credit import ledger
from kehu.plugins.credit.approvals import approval_for, approval_view, on_approved, open_approval
from kehu.plugins.credit.grading import grade_in_force
from kehu.plugins.credit.models import (
    APPROVED, CREDIT, GOODS_SETTLEMENT, OPEN, PENDING, USED, WRITE_OFF, WRITTEN_OFF, CreditApproval, Receivable,
)
from kehu.plugins.credit.policy import policy_for
from kehu.plugins.credit.receivables import record_payment
from kehu.plugins.credit.scoring import parse_amount

OK, APPROVAL_REQUIRED, DENIED = "ok", "approval_required", "denied"
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# Payment kinds of sales settled at once and of goods accepted (recorded through receivables.record_payment).
CASH_SALE_PAYMENT, GOODS_PAYMENT = "cash_sale", "goods"


# --- input ----------------------------------------------------------------------------------------------------


class Amount(fields.Field):
    """Yuan text (``120000``, ``1,200,000.50``, ``12万``) → Decimal; ``positive``: zero is refused too."""

    def __init__(self, positive=True, **kwargs):
        super().__init__(**kwargs)
        self.positive = positive

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            amount = parse_amount(value, what=attr)
        except Invalid as exc:
            raise ValidationError(_unprefixed(exc.message, attr)) from None
        if self.positive and amount <= 0:
            raise ValidationError(f"must be more than zero, not {value!r}")
        return amount


class Day(fields.Field):
    """A calendar date ``YYYY-MM-DD``."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return ledger.parse_date(value, attr)
        except Invalid as exc:
            raise ValidationError(_unprefixed(exc.message, attr)) from None


def _unprefixed(message, name):
    # parse_amount/parse_date start their message with the value's name; the schema error names it again.
    return message[len(name) + 1:] if message.startswith(name + " ") else message


class CreditInput(Schema):
    amount = Amount(required=True)
    contract = Amount(load_default=None, allow_none=True)


class ShipInput(Schema):
    amount = Amount(required=True)
    received_on = Day(required=True)
    cash = fields.Boolean(load_default=False)
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=300))


class WriteOffInput(Schema):
    reason = Text(required=True, validate=validate.Length(max=300))


class GoodsInput(Schema):
    value = Amount(required=True)
    asset = Text(required=True, validate=validate.Length(max=300))


def _given(**values):
    """Leave out the ``None`` values so schema defaults (and "required") apply to them."""
    return {key: value for key, value in values.items() if value is not None}


# --- the grade in force and the assessment ------------------------------------------------------------------


def _pct(numerator, denominator):
    """``numerator`` as a percentage of ``denominator``, two places half-up (display only; bands compare
    exactly); ``None`` when there is nothing to measure against."""
    if denominator <= 0:
        return None
    return (numerator * HUNDRED / denominator).quantize(CENT, rounding=ROUND_HALF_UP)


def band_role(rule, part, whole):
    """The approver for ``part`` measured against ``whole`` (percentage bands, each including its upper edge),
    by cross-multiplication: ``part*100 <= whole*edge``. Nothing to measure against (``whole`` 0) is above
    every band."""
    if whole > 0:
        for edge, role in rule.bands:
            if part * HUNDRED <= whole * edge:
                return role
    return rule.above


def chain_of(rule, role):
    """The approvers in order: the rule's ``first`` roles (grade C: the vp approves the application), then the
    band's role; a role is not listed twice in a row (C within 20%: just the vp)."""
    chain = []
    for each in (*rule.first, role):
        if not chain or chain[-1] != each:
            chain.append(each)
    return chain


@attrs.frozen
class Assessment:
    """What a sale of ``amount`` on credit would do to a customer's limit."""

    customer_id: int
    grade: str
    credit: bool  # the grade sells on credit by default
    credit_limit: Decimal
    outstanding: Decimal
    amount: Decimal
    contract: Decimal | None
    measure: str  # "over_limit" | "contract_share"
    over_by: Decimal
    over_pct: Decimal | None  # the percentage the bands are measured on
    decision: str
    approvers: tuple
    reason: str | None

    @property
    def needs_approval(self):
        return self.decision == APPROVAL_REQUIRED

    def view(self):
        def text(value):
            return None if value is None else str(value)

        return {"customer": self.customer_id, "grade": self.grade, "credit": self.credit,
                "credit_limit": str(self.credit_limit), "outstanding": str(self.outstanding),
                "amount": str(self.amount), "contract": text(self.contract), "measure": self.measure,
                "over_by": str(self.over_by), "over_pct": text(self.over_pct), "decision": self.decision,
                "approvers": list(self.approvers), "reason": self.reason}


def long_overdue(context, policy, customer_id):
    """The reason supply is restricted (a receivable more than ``long_overdue_days`` past due), or ``None``."""
    if policy.long_overdue_days <= 0:  # 0 turns the block off
        return None
    on = ledger.today(context)
    # due_on < on − N  ⇔  on − due_on > N days past due
    due = ledger.oldest_overdue(context, customer_id, on - dt.timedelta(days=policy.long_overdue_days))
    if due is None:
        return None
    days = (on - due).days
    return (f"supply restricted: a receivable due on {due.isoformat()} is {days} days past due (more than "
            f"{policy.long_overdue_days}); cash before delivery (--cash) or repayment first")


def assess(context, customer_id, amount, contract=None, require_contract=True):
    """The :class:`Assessment` of selling ``amount`` (Decimal) on credit to ``customer_id``.

    ``over_by = outstanding + amount − limit`` (DESIGN decision 11). Approval is needed when that is above
    zero, or always when the grade gets no credit by default (C). Grades measured by ``contract_share``
    route on the amount's share of the single contract, so they need ``contract`` (unless
    ``require_contract`` is off: shipping asks only whether an approval is needed, not whose).
    """
    policy = policy_for(context)
    grade, limit, _days, credit = grade_in_force(context, customer_id)
    limit = money(limit)
    rule = policy.approvals[grade]
    owed = ledger.outstanding(context, customer_id)
    over_by = owed + amount - limit
    if rule.measure == "contract_share":
        if contract is None:
            if require_contract:
                raise Invalid(f"grade {grade} credit is measured against a single contract: give --contract")
            over_pct = None
        else:
            if contract <= 0 or amount > contract:
                raise Invalid(f"the contract ({contract}) must be more than zero and at least the amount "
                              f"({amount})")
            over_pct = _pct(amount, contract)
        part, whole = amount, contract or Decimal(0)
    else:
        over_pct = _pct(over_by, limit)
        part, whole = over_by, limit
    reason = long_overdue(context, policy, customer_id)
    if reason is not None:
        decision, approvers = DENIED, ()
    elif over_by <= 0 and credit:
        decision, approvers = OK, ()
    else:
        decision = APPROVAL_REQUIRED
        # Without the contract (shipping) nobody is named: only "an approval is needed" matters there.
        unmeasured = rule.measure == "contract_share" and contract is None
        approvers = () if unmeasured else tuple(chain_of(rule, band_role(rule, part, whole)))
        if not credit:
            reason = f"grade {grade} gets no credit without an approved credit application"
    return Assessment(customer_id, grade, credit, limit, owed, amount, contract, rule.measure, over_by, over_pct,
                      decision, approvers, reason)


def _customer(context, customer_id, lock=False):
    customer = customer_by_id(context, customer_id)
    if lock and is_postgres():
        # Serialise limit checks and sales of one customer (SQLite's write transaction is already exclusive).
        Customer.select(Customer.id).where(Customer.id == customer.id).for_update().execute()
    return customer


def _label(customer):
    return f"customer {customer.id} ({customer.name})"


def _require_seller(context, customer):
    """The customer's owner, or anyone with it in scope who may edit it; finance too (it books sales)."""
    if access.has_permission(context, "finance"):
        return
    access.require_record(context, "edit", customer.owner_id, _label(customer))


# --- check, request -------------------------------------------------------------------------------------------


def check_credit(context, customer_id, amount, contract=None):
    """Whether selling ``amount`` yuan on credit is ``ok``, needs approval (and by whom), or is ``denied``.

    Read only. Returns grade, credit_limit, outstanding, over_by, over_pct (two places; for grades measured
    on a contract share, that share), decision, approvers and, when denied or for a no-credit grade, reason.
    """
    customer = _customer(context, customer_id)
    access.require_record(context, "view", customer.owner_id, _label(customer))
    data = load(CreditInput(), _given(amount=amount, contract=contract))
    return assess(context, customer.id, data["amount"], data["contract"]).view()


@service
def request_credit(context, customer_id, amount, contract=None):
    """Ask for credit over the limit (or, for grade C, any credit): open a ``credit`` approval routed to the
    approvers :func:`check_credit` names. Refused when no approval is needed (``conflict``) or the customer
    is long overdue (``denied``)."""
    customer = _customer(context, customer_id, lock=True)
    access.require_record(context, "edit", customer.owner_id, _label(customer))
    data = load(CreditInput(), _given(amount=amount, contract=contract))
    found = assess(context, customer.id, data["amount"], data["contract"])
    if found.decision == DENIED:
        raise KehuError(found.reason, code="denied")
    if found.decision == OK:
        raise Conflict(f"no approval needed: {found.amount} on credit keeps {_label(customer)} within its "
                       f"limit of {found.credit_limit} (outstanding {found.outstanding})")
    details = {"grade": found.grade, "credit_limit": str(found.credit_limit),
               "outstanding": str(found.outstanding), "over_by": str(found.over_by),
               "over_pct": None if found.over_pct is None else str(found.over_pct), "measure": found.measure}
    approval = open_approval(context, CREDIT, customer.id, found.amount, found.approvers, contract=found.contract,
                             details=details)
    return approval_view(approval)


# --- ship -----------------------------------------------------------------------------------------------------


def _credit_request(context, request_id, customer):
    approval = approval_for(context, request_id)
    if approval.kind != CREDIT or approval.customer_id != customer.id:
        raise Invalid(f"approval {approval.id} is not a credit request of {_label(customer)}")
    return approval


def _covering(approval, amount):
    """Why ``approval`` does not cover a sale of ``amount``, or ``None`` when it does."""
    if approval is None:
        return "without an approved credit request (kehu credit request)"
    if approval.status != APPROVED:
        return f"credit request {approval.id} is {approval.status}, not approved"
    if approval.amount < amount:
        return f"credit request {approval.id} covers only {approval.amount}"
    return None


def _use(context, approval):
    """Mark an approved credit request used, once: a conditional UPDATE, so two sales cannot both use it."""
    done = (CreditApproval.update(status=USED)
            .where(CreditApproval.id == approval.id, CreditApproval.status == APPROVED).execute())
    if done != 1:
        raise KehuError(f"credit request {approval.id} was used meanwhile", code="over_limit")
    context.audit("credit.approval_used", "credit_approval", approval.id, before={"status": APPROVED},
                  after={"status": USED})


def receivable_view(receivable):
    return {"id": receivable.id, "customer": receivable.customer_id, "amount": str(receivable.amount),
            "paid": str(money(receivable.paid)), "received_on": receivable.received_on.isoformat(),
            "due_on": receivable.due_on.isoformat(), "status": receivable.status, "cash": receivable.cash,
            "request": receivable.approval_id, "note": receivable.note,
            "closed_on": receivable.closed_on.isoformat() if receivable.closed_on else None}


@service
def ship(context, customer_id, amount, received_on, request=None, cash=False, note=None):
    """Record a sale of ``amount`` yuan whose goods the customer receives on ``received_on``.

    A credit sale becomes a receivable. It is refused with code ``over_limit`` when it would take the
    balance over the limit (or, for a no-credit grade such as C, at all) unless ``request`` names an approved
    credit request of this customer for at least ``amount``, which it then marks ``used``; refused with
    ``denied`` while the customer is long overdue. A ``cash`` sale (款到发货) needs no credit: the receivable is
    recorded and paid the same day, so grading sees every sale (DESIGN decision 11). The owner (or anyone with
    edit rights over the customer) or finance may ship; every sale is audited.
    """
    customer = _customer(context, customer_id, lock=True)
    _require_seller(context, customer)
    data = load(ShipInput(), _given(amount=amount, received_on=received_on, cash=cash, note=note))
    policy = policy_for(context)
    if data["cash"]:
        if request is not None:
            raise Invalid("a cash sale (--cash) needs no credit request")
        receivable = ledger.record_sale(context, policy, customer.id, data["amount"], data["received_on"],
                                        cash=True, note=data["note"])
        record_payment(context, customer, data["amount"], data["received_on"], kind=CASH_SALE_PAYMENT,
                       note="款到发货 cash before delivery", receivable=receivable)
        receivable = Receivable.get_by_id(receivable.id)  # settled by the payment
        found = None
    else:
        approval = _credit_request(context, request, customer) if request is not None else None
        # Cash is the way out of a long-overdue block (§3.6), so the block applies to credit sales only.
        found = assess(context, customer.id, data["amount"], require_contract=False)
        if found.decision == DENIED:
            raise KehuError(found.reason, code="denied")
        if found.needs_approval:
            missing = _covering(approval, found.amount)
            if missing is not None:
                raise KehuError(_over_limit_message(customer, found, missing), code="over_limit")
            _use(context, approval)
        else:
            approval = None  # within the limit: a request given is not consumed
        receivable = ledger.record_sale(context, policy, customer.id, found.amount, data["received_on"],
                                        approval_id=approval.id if approval else None, note=data["note"])
    result = receivable_view(receivable)
    result["outstanding"] = str(ledger.outstanding(context, customer.id))
    if found is not None:
        result.update(grade=found.grade, credit_limit=str(found.credit_limit),
                      over_limit=found.outstanding + found.amount > found.credit_limit)
        if result["over_limit"]:
            _tell_owner_over_limit(context, customer, found)
    context.audit("credit.shipped", "credit_receivable", receivable.id, after=result)
    return result


def _over_limit_message(customer, found, missing):
    if not found.credit:
        return f"{found.reason}: cannot ship {found.amount} on credit to {_label(customer)} {missing}"
    return (f"shipping {found.amount} on credit would take {_label(customer)} to "
            f"{found.outstanding + found.amount}, over its limit of {found.credit_limit} (grade {found.grade}), "
            f"{missing}")


def _tell_owner_over_limit(context, customer, found):
    if customer.owner_id is not None:
        balance = found.outstanding + found.amount
        context.notify([Notice(customer.owner_id, "credit_over_limit",
                               f"{customer.name} owes {balance}, over its credit limit of {found.credit_limit} "
                               f"(approved): collect", f"customer:{customer.id}")])


# --- write-offs and settlements in goods ----------------------------------------------------------------------


def _receivable(context, receivable_id):
    receivable_id = parse_id(receivable_id, "receivable")
    query = Receivable.select().where(Receivable.workspace == context.workspace, Receivable.id == receivable_id)
    receivable = (query.for_update() if is_postgres() else query).first()
    if receivable is None:
        raise NotFound(f"no receivable {receivable_id}")
    return receivable


def _open_receivable(context, receivable_id, kind):
    """An open receivable the acting user may act on, with no pending approval of ``kind`` yet."""
    receivable = _receivable(context, receivable_id)
    _require_seller(context, Customer.get_by_id(receivable.customer_id))
    if receivable.status != OPEN:
        raise Conflict(f"receivable {receivable.id} is {receivable.status}, not open")
    pending = CreditApproval.select(CreditApproval.id).where(
        CreditApproval.workspace == context.workspace, CreditApproval.receivable_id == receivable.id,
        CreditApproval.kind == kind, CreditApproval.status == PENDING).first()
    if pending is not None:
        raise Conflict(f"receivable {receivable.id} already has a pending {kind} approval ({pending.id})")
    return receivable


def _still_open(context, approval):
    receivable = _receivable(context, approval.receivable_id)
    if receivable.status != OPEN:
        # The last approver should reject instead; raising rolls the approval back to pending.
        raise Conflict(f"receivable {receivable.id} is {receivable.status} now; reject approval {approval.id}")
    return receivable


@service
def request_write_off(context, receivable_id, reason):
    """Apply to write off the unpaid part of an open receivable as a bad debt (坏账核销, §3.10): an approval of
    kind ``write_off`` through the policy's ``write_off_chain`` (vp, finance, gm by default)."""
    data = load(WriteOffInput(), _given(reason=reason))
    receivable = _open_receivable(context, receivable_id, WRITE_OFF)
    policy = policy_for(context)
    approval = open_approval(context, WRITE_OFF, receivable.customer_id, receivable.amount - receivable.paid,
                             policy.write_off_chain, details={"reason": data["reason"]},
                             receivable_id=receivable.id)
    return approval_view(approval)


@on_approved(WRITE_OFF)
def _write_off(context, approval):
    """The last approver approved: the receivable is written off (it leaves the balance, stays in the
    register). What is written off is what is unpaid now."""
    receivable = _still_open(context, approval)
    before = receivable_view(receivable)
    receivable.status, receivable.written_off_at = WRITTEN_OFF, context.now
    receivable.closed_on = ledger.today(context)
    receivable.save(only=[Receivable.status, Receivable.written_off_at, Receivable.closed_on])
    context.audit("credit.written_off", "credit_receivable", receivable.id, before=before,
                  after={**receivable_view(receivable), "approval": approval.id,
                         "written_off": str(receivable.amount - receivable.paid)})


@service
def request_goods_settlement(context, receivable_id, value, asset):
    """Apply to settle an open receivable in goods (以物抵账, §3.10): the asset ``asset`` appraised at
    ``value`` yuan (at most the unpaid part), approved through the policy's ``goods_settlement_chain``."""
    data = load(GoodsInput(), _given(value=value, asset=asset))
    receivable = _open_receivable(context, receivable_id, GOODS_SETTLEMENT)
    unpaid = receivable.amount - receivable.paid
    if data["value"] > unpaid:
        raise Invalid(f"the goods' value ({data['value']}) is more than the unpaid {unpaid} of receivable "
                      f"{receivable.id}")
    policy = policy_for(context)
    approval = open_approval(context, GOODS_SETTLEMENT, receivable.customer_id, data["value"],
                             policy.goods_settlement_chain, details={"asset": data["asset"]},
                             receivable_id=receivable.id)
    return approval_view(approval)


@on_approved(GOODS_SETTLEMENT)
def _settle_in_goods(context, approval):
    """The last approver approved: finance books the goods as a payment (kind ``goods``) on the receivable,
    closing it when that settles it whole."""
    receivable = _still_open(context, approval)
    unpaid = receivable.amount - receivable.paid
    if approval.amount > unpaid:
        raise Conflict(f"receivable {receivable.id} has only {unpaid} unpaid now; reject approval {approval.id}")
    payment, _ = record_payment(context, receivable.customer, approval.amount, ledger.today(context),
                                kind=GOODS_PAYMENT, note=(approval.details or {}).get("asset"),
                                receivable=receivable)
    receivable = Receivable.get_by_id(receivable.id)
    context.audit("credit.settled_in_goods", "credit_receivable", receivable.id,
                  after={**receivable_view(receivable), "approval": approval.id, "payment": payment.id})


def list_write_offs(context):
    """The write-off register (核销登记簿): written-off receivables the acting user may see, newest first —
    customer, amount, the unpaid part written off, the reason and when it was approved."""
    approvals = CreditApproval.alias()
    query = (Receivable.select(Receivable, Customer.name.alias("customer_name"), approvals.details,
                               approvals.decided_at.alias("approved_at"), approvals.id.alias("approval_id_"))
             .join(Customer, on=(Receivable.customer == Customer.id))
             .join_from(Receivable, approvals, JOIN.LEFT_OUTER,
                        on=((approvals.receivable_id == Receivable.id) & (approvals.kind == WRITE_OFF)
                            & (approvals.status == APPROVED)))
             .where(Receivable.workspace == context.workspace, Receivable.status == WRITTEN_OFF)
             .order_by(Receivable.written_off_at.desc(), Receivable.id.desc()))
    scope = access.owner_condition(context, Customer.owner)
    if scope is not None:
        query = query.where(scope)
    rows = []
    for row in query.objects():
        rows.append({"receivable": row.id, "customer": row.customer_id, "customer_name": row.customer_name,
                     "amount": str(money(row.amount)), "paid": str(money(row.paid)),
                     "written_off": str(row.amount - row.paid), "reason": (row.details or {}).get("reason"),
                     "approval": row.approval_id_, "approved_at": _iso(row.approved_at),
                     "written_off_at": _iso(row.written_off_at)})
    return rows


def _iso(value):
    return value.isoformat() if value is not None else None


SERVICES = {
    "check": check_credit, "request": request_credit, "ship": ship, "write_off": request_write_off,
    "write_offs": list_write_offs, "settle_goods": request_goods_settlement,
}
# Over-limit balances are reminded about by the ledger's jobs (receivables), not here.
JOBS = []
