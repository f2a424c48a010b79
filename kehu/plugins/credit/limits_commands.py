"""``kehu credit check | request | ship | write-off | write-offs | settle-goods`` (:mod:`.limits`).

Values are passed to the services as text and validated there (DESIGN decision 8: a bad amount or date is
exit 1 with code ``invalid``, not a click usage error).
"""

import click

from kehu.core.console import emit, list_options, page, pass_context
from kehu.plugins.credit import limits

WRITE_OFF_COLUMNS = ["receivable", "customer_name", "amount", "written_off", "reason", "approved_at"]


@click.command("check")
@click.argument("customer_id")
@click.option("--amount", required=True, help="The sale on credit, in yuan (120000, 12万).")
@click.option("--contract", help="The single contract's value (grade C: required).")
@pass_context
def credit_check(context, customer_id, amount, contract):
    """Whether selling --amount on credit to CUSTOMER_ID is ok, needs approval (by whom) or is denied."""
    emit(limits.check_credit(context, customer_id, amount, contract=contract))


@click.command("request")
@click.argument("customer_id")
@click.option("--amount", required=True, help="The credit asked for, in yuan.")
@click.option("--contract", help="The single contract's value (grade C: required).")
@pass_context
def credit_request(context, customer_id, amount, contract):
    """Ask for credit over CUSTOMER_ID's limit (grade C: any credit); routed to the approvers in order."""
    emit(limits.request_credit(context, customer_id, amount, contract=contract))


@click.command("ship")
@click.argument("customer_id")
@click.option("--amount", required=True, help="The sale, in yuan.")
@click.option("--received-on", "received_on", required=True, help="The day the customer receives the goods.")
@click.option("--request", "request_id", help="An approved credit request covering a sale over the limit.")
@click.option("--cash", is_flag=True, help="Cash before delivery (款到发货): paid the same day, no credit.")
@click.option("--note", help="A remark kept with the receivable.")
@pass_context
def credit_ship(context, customer_id, amount, received_on, request_id, cash, note):
    """Record a sale to CUSTOMER_ID (a receivable; over the limit only with an approved --request)."""
    emit(limits.ship(context, customer_id, amount, received_on, request=request_id, cash=cash, note=note))


@click.command("write-off")
@click.argument("receivable_id")
@click.option("--reason", required=True, help="Why the debt is bad.")
@pass_context
def credit_write_off(context, receivable_id, reason):
    """Apply to write off RECEIVABLE_ID's unpaid part as a bad debt (vp → finance → gm)."""
    emit(limits.request_write_off(context, receivable_id, reason))


@click.command("write-offs")
@list_options
@pass_context
def credit_write_offs(context, limit, offset, csv_output):
    """The write-off register: receivables written off, with the reason and approval."""
    emit(page(limits.list_write_offs(context), limit, offset), columns=WRITE_OFF_COLUMNS, csv_output=csv_output)


@click.command("settle-goods")
@click.argument("receivable_id")
@click.option("--value", required=True, help="The goods' appraised value, in yuan.")
@click.option("--asset", required=True, help="What the customer hands over.")
@pass_context
def credit_settle_goods(context, receivable_id, value, asset):
    """Apply to settle RECEIVABLE_ID in goods (以物抵账; vp → finance → gm)."""
    emit(limits.request_goods_settlement(context, receivable_id, value, asset))


COMMANDS = [credit_check, credit_request, credit_ship, credit_write_off, credit_write_offs, credit_settle_goods]
