"""``kehu credit score | strategic | grade | regrade | set-grade | history``: A/B/C grading (DOMAIN.md §3.1–3.4).

Option values are validated by the services (a bad amount, rate or level is ``invalid``, exit 1), not by click
types, which would exit 2.
"""

import click

from kehu.core.console import emit, pass_context
from kehu.plugins.credit import grading

HISTORY_COLUMNS = ["at", "kind", "grade", "score", "credit_limit", "credit_days", "actor", "reason"]


def _grading_line(result):
    why = f" ({result['reason']})" if result.get("reason") else ""
    flags = f" [{', '.join(result['flags'])}]" if result.get("flags") else ""
    score = f" score {result['score']}," if result.get("score") is not None else ""
    return (f"customer {result['customer']}: grade {result['grade']},{score} limit {result['credit_limit']}, "
            f"{result['credit_days']} days{flags}{why}")


@click.command("score")
@click.option("--sales", required=True, help="Sales in the period, yuan (1200000, 1,200,000.50 or 120万).")
@click.option("--collection-rate", required=True, help="Collected ÷ sales: a fraction (0.85) or a percentage (85%).")
@click.option("--receivables", required=True, help="Open receivables, yuan.")
@click.option("--strategic", required=True, help="leader, key, important, ordinary or sporadic.")
@pass_context
def credit_score(context, sales, collection_rate, receivables, strategic):
    """Score figures under the workspace's policy: points, score, grade and terms (nothing is stored)."""
    emit(grading.calculate(context, sales, collection_rate, receivables, strategic))


@click.command("strategic")
@click.argument("customer")
@click.argument("level")
@pass_context
def credit_strategic(context, customer, level):
    """Rate CUSTOMER's strategic influence LEVEL (manager or above)."""
    emit(grading.set_strategic(context, customer, level))


@click.command("grade")
@click.argument("customer")
@pass_context
def credit_grade(context, customer):
    """Grade CUSTOMER from its ledger and strategic level; the result is the grade in force."""
    emit(grading.grade_customer(context, customer), human=_grading_line)


@click.command("regrade")
@click.option("--since", help="Skip customers already graded since this date (finish a regrade that stopped).")
@pass_context
def credit_regrade(context, since):
    """Grade every customer of the workspace (vp, gm, finance, admin; also yearly in `kehu tick`)."""
    emit(grading.regrade(context, since=since),
         human=lambda r: f"graded {r['graded']}: " + ", ".join(f"{g} {n}" for g, n in r["grades"].items()))


@click.command("set-grade")
@click.argument("customer")
@click.argument("grade")
@click.option("--reason", required=True, help="What the yearly review meeting decided, and why.")
@pass_context
def credit_set_grade(context, customer, grade, reason):
    """Record the GRADE the yearly review decided for CUSTOMER (finance or gm)."""
    emit(grading.decide_grade(context, customer, grade, reason), human=_grading_line)


@click.command("history")
@click.argument("customer")
@pass_context
def credit_history(context, customer):
    """CUSTOMER's gradings, newest first (computed and decided)."""
    emit(grading.grading_history(context, customer), columns=HISTORY_COLUMNS)


COMMANDS = [credit_score, credit_strategic, credit_grade, credit_regrade, credit_set_grade, credit_history]
