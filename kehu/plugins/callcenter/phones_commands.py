"""``kehu calls invalid mark|list|correct``, ``kehu calls dialing-list``, ``kehu calls claim``, ``kehu calls claims``,
``kehu calls return-unclaimed``: numbers to call (see :mod:`kehu.plugins.callcenter.phones`).

Option values are validated by the services (a bad count or number is ``invalid``, exit 1), not by click
types, which would exit 2 (DESIGN decision 8).
"""

import click

from kehu.core.console import emit, list_options, pass_context

INVALID_COLUMNS = ["id", "phone", "customer", "customer_name", "reason", "marked_by", "marked_at", "status",
                   "corrected_to", "corrected_by", "corrected_at"]
CLAIM_COLUMNS = ["id", "rep", "customer", "name", "phone", "claimed_at", "due_at", "called_at"]
DIALING_COLUMNS = ["customer", "name", "phone", "why", "due_at", "last_called_at"]


@click.group("invalid")
def invalid_group():
    """Invalid numbers (无效电话): mark, report, correct."""


@invalid_group.command("mark")
@click.argument("target")
@click.option("--reason", help="Why the number is invalid (空号, 停机, wrong person ...).")
@pass_context
def invalid_mark(context, target, reason):
    """Mark TARGET invalid: a phone number, or a customer id (its number); customer:ID / phone:N force either."""
    emit(context.services.calls.invalid_mark(target, reason=reason))


@invalid_group.command("list")
@click.option("--all", "include_corrected", is_flag=True, help="Corrected marks too, not only open ones.")
@list_options
@pass_context
def invalid_list(context, include_corrected, limit, offset, csv_output):
    """The invalid-number report: open marks (newest first) with who marked them, when and why."""
    rows = context.services.calls.invalid_list(include_corrected=include_corrected, limit=limit, offset=offset)
    emit(rows, columns=INVALID_COLUMNS, csv_output=csv_output)


@invalid_group.command("correct")
@click.argument("mark")
@click.option("--phone", required=True, help="The correct number; the customer's phone is changed to it.")
@pass_context
def invalid_correct(context, mark, phone):
    """Correct the number of invalid-number mark MARK and close the mark."""
    emit(context.services.calls.invalid_correct(mark, phone))


@click.command("dialing-list")
@list_options
@pass_context
def dialing_list(context, limit, offset, csv_output):
    """Your numbers to call: your customers and your claims, without invalid numbers, least recently called
    first."""
    emit(context.services.calls.dialing_list(limit=limit, offset=offset), columns=DIALING_COLUMNS,
         csv_output=csv_output)


@click.command("claim")
@click.option("--count", required=True, help="How many numbers to claim (within your daily allowance).")
@pass_context
def claim(context, count):
    """Claim numbers to call from the public pool (customers without an owner); uncalled ones return."""
    emit(context.services.calls.claim(count), human=_claim_text)


def _claim_text(data):
    lines = [f"claimed {data['granted']} of {data['requested']}"
             + (f" ({data['remaining_today']} left today)" if data["remaining_today"] is not None else "")]
    lines += [f"  {c['phone']}  {c['name']} (customer {c['customer']}, due back {c['due_at']})"
              for c in data["claimed"]]
    if data["notice"]:
        lines.append(data["notice"])
    return "\n".join(lines)


@click.command("claims")
@click.option("--mine", is_flag=True, help="Only your own claims.")
@list_options
@pass_context
def claims(context, mine, limit, offset, csv_output):
    """Open claims in your scope (a rep's own, a manager's unit's), oldest first."""
    emit(context.services.calls.claims(mine=mine, limit=limit, offset=offset), columns=CLAIM_COLUMNS,
         csv_output=csv_output)


@click.command("return-unclaimed")
@pass_context
def return_unclaimed(context):
    """Return claims not called in time to the pool now (what `kehu tick` does)."""
    emit(context.services.calls.return_unclaimed())


PHONES_COMMANDS = [invalid_group, dialing_list, claim, claims, return_unclaimed]
