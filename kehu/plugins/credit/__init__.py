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


