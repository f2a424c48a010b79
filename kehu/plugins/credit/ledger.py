"""The receivables ledger (应收账款台账, DOMAIN.md §3.8): the one place receivables are written.

``record_sale`` is called only by the ship service (a credit sale, or a cash sale paid at once); payments
are applied by the pay service. Dates are calendar dates in the workspace timezone.
"""

import datetime as dt
from decimal import Decimal

from peewee import fn

from kehu.core.db import money
from kehu.errors import Invalid
from kehu.plugins.credit.models import OPEN, Receivable


def today(context):
    """The workspace's local calendar date at ``context.now``."""
    return context.now.astimezone(context.tz).date()


def parse_date(text, what="date"):
    """A calendar date from ``YYYY-MM-DD`` text (or a ``date``); ``Invalid`` otherwise."""
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise Invalid(f"{what} must be a date YYYY-MM-DD, not {text!r}") from None


def due_date(policy, received_on):
    """The last day of the collection period for goods received on ``received_on``.

    The receipt day is not counted by default (received 1 January → due 20 February with 50 days); with
    ``count_receipt_day`` it is, and the due date is one day earlier.
    """
    return received_on + dt.timedelta(days=policy.collection_days - (1 if policy.count_receipt_day else 0))


def record_sale(context, policy, customer_id, amount, received_on, approval_id=None, cash=False, note=None):
    """Write one receivable (in the caller's transaction, after its checks); returns the row."""
    return Receivable.create(
        workspace=context.workspace, customer=customer_id, amount=money(amount), paid=Decimal(0),
        received_on=received_on, due_on=due_date(policy, received_on), status=OPEN, cash=cash,
        approval=approval_id, note=note, created_by=context.user, created_at=context.now)


def outstanding(context, customer_id):
    """The customer's open balance (amount − paid over its open receivables), Decimal yuan."""
    total = (Receivable.select(fn.COALESCE(fn.SUM(Receivable.amount - Receivable.paid), 0))
             .where(Receivable.workspace == context.workspace, Receivable.customer == customer_id,
                    Receivable.status == OPEN).scalar())
    return money(Decimal(total) / 100)


def oldest_overdue(context, customer_id, on):
    """The earliest due date among the customer's open receivables past due on ``on`` (or ``None``)."""
    return (Receivable.select(fn.MIN(Receivable.due_on))
            .where(Receivable.workspace == context.workspace, Receivable.customer == customer_id,
                   Receivable.status == OPEN, Receivable.due_on < on).scalar())
