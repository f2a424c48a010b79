"""``kehu credit ...``: the group, the policy and approval commands; each concern adds its own commands
(:mod:`.grading_commands`, :mod:`.limits_commands`, :mod:`.receivables_commands`)."""


import click

from kehu.core.console import emit, pass_context, read_json_file
from kehu.plugins.credit import approvals, services
from kehu.plugins.credit.grading_commands import COMMANDS as GRADING
from kehu.plugins.credit.limits_commands import COMMANDS as LIMITS
from kehu.plugins.credit.receivables_commands import COMMANDS as RECEIVABLES

APPROVAL_COLUMNS = ["id", "kind", "customer", "amount", "chain", "next", "status"]


@click.group("credit")
def credit():
    """Credit: A/B/C grading, limits, over-limit approvals, receivables, late fees, collections."""


@credit.group("policy")
def policy_group():
    """The workspace's credit policy (DOMAIN.md §3 by default)."""


@policy_group.command("show")
@pass_context
def policy_show(context):
    """Print the policy in force (JSON)."""
    emit(services.show_policy(context))


@policy_group.command("set")
@click.argument("file")
@pass_context
def policy_set(context, file):
    """Override the policy with FILE.json (parts left out keep the defaults)."""
    emit(services.set_policy(context, read_json_file(file, "policy")))


@credit.command("approve")
@click.argument("approval_id")
@click.option("--meeting", help="The gm office meeting's reference (for gm_office steps).")
@click.option("--reason", help="A remark kept with the decision.")
@pass_context
def credit_approve(context, approval_id, meeting, reason):
    """Approve the step of APPROVAL_ID that waits for your role."""
    emit(approvals.approve(context, approval_id, meeting=meeting, reason=reason))


@credit.command("reject")
@click.argument("approval_id")
@click.option("--reason", required=True, help="Why.")
@click.option("--meeting", help="The gm office meeting's reference (for gm_office steps).")
@pass_context
def credit_reject(context, approval_id, reason, meeting):
    """Reject APPROVAL_ID at the step that waits for your role."""
    emit(approvals.reject(context, approval_id, reason, meeting=meeting))


@credit.command("approvals")
@click.option("--status", help="pending, approved, rejected or used.")
@click.option("--kind", help="credit, write_off, goods_settlement or repayment_agreement.")
@click.option("--mine", is_flag=True, help="Only those waiting for your role.")
@pass_context
def credit_approvals(context, status, kind, mine):
    """Approval requests, newest first."""
    emit(approvals.list_approvals(context, status=status, kind=kind, mine=mine), columns=APPROVAL_COLUMNS)


@credit.command("approval")
@click.argument("approval_id")
@pass_context
def credit_approval(context, approval_id):
    """One approval request with its decisions."""
    emit(approvals.show_approval(context, approval_id))


for command in (*GRADING, *LIMITS, *RECEIVABLES):
    credit.add_command(command)
