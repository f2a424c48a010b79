"""Credit: A/B/C grading, limits and terms, over-limit approvals, receivables, late fees and collections.

The policy (DOMAIN.md §3) is one validated document (:mod:`kehu.plugins.credit.policy`); grading lives in
:mod:`.grading`, limits, approvals and shipping in :mod:`.limits` and :mod:`.approvals`, the ledger's payments,
aging, late fees, rebates and collections in :mod:`.receivables`. Receivables are written only by the ship
service (:func:`kehu.plugins.credit.ledger.record_sale`).
"""

from pathlib import Path

from kehu import hookimpl
from kehu.errors import Veto
from kehu.plugins.credit.models import MODELS, OPEN, Receivable


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")


@hookimpl
def kehu_register_policies(register):
    from kehu.plugins.credit import policy

    register("credit", policy.DEFAULT_POLICY, validate=policy.load_policy)


@hookimpl
def kehu_register_services(register):
    from kehu.plugins.credit import approvals, grading, limits, receivables, services

    register("credit", {**services.SERVICES, **grading.SERVICES, **limits.SERVICES, **receivables.SERVICES,
                        "approval": approvals.show_approval, "approvals": approvals.list_approvals,
                        "approve": approvals.approve, "reject": approvals.reject})


@hookimpl
def kehu_register_commands(cli):
    from kehu.plugins.credit import commands

    cli.add_command(commands.credit)


@hookimpl
def kehu_register_jobs(register):
    from kehu.plugins.credit import grading, limits, receivables

    for name, function, every in [*grading.JOBS, *limits.JOBS, *receivables.JOBS]:
        register(name, function, every=every)


@hookimpl
def kehu_before_delete(context, entity, records):
    """No bypass: a customer with open receivables cannot be deleted (the ledger would lose its debtor)."""
    if entity != "customer":
        return None
    ids = [r["id"] for r in records]
    owing = {c for (c,) in Receivable.select(Receivable.customer).where(
        Receivable.workspace == context.workspace, Receivable.customer.in_(ids), Receivable.status == OPEN)
        .distinct().tuples()}
    return [Veto(f"customer {r['id']} has open receivables in the credit ledger", code="open_receivables")
            if r["id"] in owing else None for r in records]




@hookimpl
def kehu_populate_demo(context, customers, say):
    """Demo: a customer graded B in the yearly review, a credit sale, an over-limit sale approved by the gm,
    a partial payment and the late fee on what is overdue."""
    import datetime as dt

    from kehu.plugins.credit import ledger

    def as_(login):
        return context.app.workspace(context.workspace.name, user=login, now=context.clock)

    hz = customers["hz"]
    today = ledger.today(context)
    as_("wu").credit.strategic(hz, "important")
    as_("qian").credit.set_grade(hz, "B", reason="年度信用评审 (yearly review)")
    li = as_("li")
    li.credit.ship(hz, "800000", received_on=(today - dt.timedelta(days=70)).isoformat())
    check = li.credit.check(hz, "450000")
    request = li.credit.request(hz, "450000")
    for login in request["chain"]:
        as_({"vp": "wang", "gm": "zhang", "gm_office": "zhang"}[login]).credit.approve(
            request["id"], meeting="总经理办公会 demo" if login == "gm_office" else None)
    li.credit.ship(hz, "450000", received_on=today.isoformat(), request=request["id"])
    as_("qian").credit.pay(hz, "300000", on=today.isoformat())
    fees = as_("qian").credit.late_fees(hz)
    say(f"credit: customer {hz} graded B in the yearly review (limit 1,000,000 yuan, 50 days); li shipped "
        f"800,000 on credit 70 days ago, then 450,000 more — {check['over_pct']}% over the limit, so "
        f"{' → '.join(check['approvers'])} approved request {request['id']} first; finance booked a 300,000 "
        f"payment today; late fees so far: {fees['total']} yuan (0.02% a day on the overdue amount).")
