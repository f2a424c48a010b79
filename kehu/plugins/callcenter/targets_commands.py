"""``kehu targets set|progress``: monthly targets and their achievement (see :mod:`kehu.plugins.callcenter.targets`).

Option values are validated by the service (a bad period or amount is ``invalid``, exit 1), not by click
types, which would exit 2 (DESIGN decision 8).
"""

import click

from kehu.core.console import emit, pass_context, render_table

PROGRESS_COLUMNS = ["unit", "rep", "target_amount", "achieved_amount", "percent_amount", "gap_amount",
                    "unassigned_amount", "target_calls", "achieved_calls", "percent_calls", "target_visits",
                    "achieved_visits", "percent_visits"]


@click.command("set")
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--unit", help="An org unit path (总公司/华东).")
@click.option("--rep", help="A user's login.")
@click.option("--amount", required=True, help="The deals amount target in yuan.")
@click.option("--calls", help="The number of calls to make.")
@click.option("--visits", help="The number of visits to make.")
@pass_context
def set_target(context, period, unit, rep, amount, calls, visits):
    """Set the month's target of a unit (--unit) or a rep (--rep); warns when the children plan above it."""
    emit(context.services.targets.set(period, amount, unit=unit, rep=rep, calls=calls, visits=visits),
         human=_set_text)


def _set_text(data):
    holder = data["unit"] or data["rep"]
    lines = [f"target {data['period']} of {holder}: amount {data['amount']}, calls {data['calls']}, "
             f"visits {data['visits']}"]
    lines += [f"warning: {w['message']}" for w in data["warnings"]]
    return "\n".join(lines)


@click.command("progress")
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--unit", help="Start the tree at this org unit path (default: yours, or the whole organisation).")
@pass_context
def progress(context, period, unit):
    """Achievement against target per unit and rep for a month: deals amount, calls, visits."""
    emit(context.services.targets.progress(period, unit=unit), human=_progress_text)


def _progress_text(data):
    rows = [{**row, "unit": "  " * row["depth"] + (row["rep"] or row["unit"] or "")} for row in data["rows"]]
    columns = [c for c in PROGRESS_COLUMNS if c != "rep"]
    return f"period {data['period']}\n" + render_table(rows, columns)


TARGETS_COMMANDS = [set_target, progress]
