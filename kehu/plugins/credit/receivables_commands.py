"""``kehu credit pay | aging | late-fees | rebate | collections | collect``: the receivables ledger's commands.

Option values are validated by the services (bad dates and amounts are ``invalid``, exit 1), not by click
types, which would exit 2 (DESIGN decision 8).
"""

import click

from kehu.core.console import emit, list_options, pass_context, render_table
from kehu.plugins.credit import receivables
from kehu.plugins.credit.policy import policy_for

COLLECTION_COLUMNS = ["receivable", "customer", "name", "owner", "due_on", "overdue_days", "unpaid", "steps",
                      "next", "pending_approval"]


@click.command("pay")
@click.argument("customer")
@click.option("--amount", required=True, help="Yuan received (1200000, 1,200,000.50 or 120万).")
@click.option("--on", "on", help="The day it was received, YYYY-MM-DD (default today).")
@click.option("--note", help="A remark (bank reference ...).")
@pass_context
def pay(context, customer, amount, on, note):
    """Record a payment from CUSTOMER, applied to its oldest open receivables first."""
    emit(receivables.pay(context, customer, amount, on=on, note=note), human=_payment_text)


def _payment_text(data):
    lines = [f"payment {data['payment']}: {data['amount']} yuan from customer {data['customer']} on "
             f"{data['paid_on']}"]
    for a in data["allocations"]:
        lines.append(f"  receivable {a['receivable']} (due {a['due_on']}): {a['amount']} paid, {a['unpaid']} left")
    return "\n".join(lines)


@click.command("aging")
@click.option("--as-of", "as_of", help="The day to age at, YYYY-MM-DD (default today); later payments ignored.")
@list_options
@pass_context
def aging(context, as_of, limit, offset, csv_output):
    """Receivables aging per customer: not yet due and overdue-days buckets (policy aging_buckets)."""
    rows = receivables.aging(context, as_of=as_of, limit=limit, offset=offset)
    columns = ["customer", "name", *receivables.bucket_names(policy_for(context)), "total"]
    emit(rows, columns=columns, csv_output=csv_output)


@click.command("late-fees")
@click.argument("customer")
@click.option("--as-of", "as_of", help="Accrue up to this day, YYYY-MM-DD (default today).")
@pass_context
def late_fees(context, customer, as_of):
    """CUSTOMER's late fees (0.02% of the unpaid amount per overdue day by default), per receivable."""
    emit(receivables.late_fees(context, customer, as_of=as_of), human=_fees_text)


def _fees_text(data):
    if not data["lines"]:
        return f"no late fees (total {data['total']})"
    return render_table(data["lines"], ["receivable", "due_on", "overdue_days", "fee"]) + \
        f"\ntotal {data['total']}"


@click.command("rebate")
@click.argument("customer")
@click.option("--year", help="The year the rebate is for (default last year).")
@click.option("--amount", help="The rebate agreed, in yuan (default: the policy's tier rate × collections).")
@pass_context
def rebate(context, customer, year, amount):
    """CUSTOMER's year-end rebate less the late fees accrued in that year."""
    emit(receivables.rebate(context, customer, year=year, amount=amount))


@click.command("collections")
@click.option("--as-of", "as_of", help="The day, YYYY-MM-DD (default today).")
@list_options
@pass_context
def collections(context, as_of, limit, offset, csv_output):
    """Overdue receivables in your scope with the collection steps taken and the next one."""
    emit(receivables.collections(context, as_of=as_of, limit=limit, offset=offset), columns=COLLECTION_COLUMNS,
         csv_output=csv_output)


@click.command("collect")
@click.argument("target")
@click.option("--step", required=True, help="A step of the policy's procedure: phone, repayment_agreement, legal.")
@click.option("--notes", help="What was said or agreed.")
@pass_context
def collect(context, target, step, notes):
    """Record a collection step on TARGET: a customer id or receivable:ID."""
    emit(receivables.collect(context, target, step, notes=notes))


COMMANDS = [pay, aging, late_fees, rebate, collections, collect]
