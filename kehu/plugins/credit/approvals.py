"""Approval chains of the credit plugin: over-limit credit, write-offs, settlements in goods, repayment
agreements (DOMAIN.md §3.5, §3.9, §3.10, §3.12).

An approval lists the roles that must approve, in order; only a user whose role is the next one may decide,
and ``gm_office`` (the general manager's office meeting) is recorded by a ``gm`` with the meeting reference
(DESIGN decision 5). Every decision is audited and announced (``kehu_approval_decided``); when the last role
approves, the action registered for the approval's kind runs in the same transaction.
"""

from kehu.core.context import Notice, service
from kehu.core.db import money
from kehu.core.models import Customer, User
from kehu.core.services.lookup import parse_id
from kehu.core import access
from kehu.errors import Conflict, Invalid, NotFound, PermissionDenied
from kehu.plugins.credit.models import APPROVED, PENDING, REJECTED, CreditApproval, CreditDecision

GM_OFFICE = "gm_office"
# kind → function(context, approval) run when the last approver approves (registered by the module owning
# the kind: the ship service consumes approved credit when it ships, write-offs close the receivable ...).
ON_APPROVED = {}


def on_approved(kind):
    """Register the action that completes an approval of ``kind``."""
    def register(function):
        ON_APPROVED[kind] = function
        return function
    return register


def deciding_role(role):
    """The user role that records a chain step: the gm records the gm office meeting's decisions."""
    return "gm" if role == GM_OFFICE else role


def open_approval(context, kind, customer_id, amount, chain, contract=None, details=None, receivable_id=None):
    """Open an approval of ``kind`` routed through ``chain`` (roles, in order) and tell the first approvers.

    Runs in the caller's transaction; returns the stored row.
    """
    if not chain:
        raise Invalid("an approval needs at least one approver")
    approval = CreditApproval.create(
        workspace=context.workspace, kind=kind, customer=customer_id, receivable_id=receivable_id,
        amount=money(amount), contract=money(contract) if contract is not None else None, details=details or {},
        chain=list(chain), step=0, status=PENDING, requested_by=context.user, requested_at=context.now)
    context.audit(f"credit.{kind}_requested", "credit_approval", approval.id, after=approval_view(approval))
    _tell_next(context, approval)
    return approval


def approval_for(context, approval_id, for_update=True):
    approval_id = parse_id(approval_id, "approval")
    query = CreditApproval.select().where(CreditApproval.workspace == context.workspace,
                                          CreditApproval.id == approval_id)
    if for_update:
        from kehu.core.db import is_postgres
        if is_postgres():
            query = query.for_update()
    approval = query.first()
    if approval is None:
        raise NotFound(f"no approval {approval_id}")
    return approval


def _require_next_approver(context, approval, meeting):
    if approval.status != PENDING:
        raise Conflict(f"approval {approval.id} is already {approval.status}")
    role = approval.chain[approval.step]
    if context.user is None or context.user.role != deciding_role(role):
        who = "a gm recording the general manager's office meeting" if role == GM_OFFICE else f"a {role}"
        raise PermissionDenied(f"approval {approval.id} waits for {who}")
    if role == GM_OFFICE and not (meeting or "").strip():
        raise Invalid("a gm office meeting decision needs the meeting reference (--meeting)")
    return role


@service
def approve(context, approval_id, meeting=None, reason=None):
    """The next approver in the chain approves; the last approval completes the request."""
    approval = approval_for(context, approval_id)
    role = _require_next_approver(context, approval, meeting)
    _record(context, approval, role, "approve", reason, meeting)
    if approval.step + 1 < len(approval.chain):
        approval.step += 1
        approval.save(only=[CreditApproval.step])
        _tell_next(context, approval)
    else:
        approval.step = len(approval.chain)
        approval.status, approval.decided_at = APPROVED, context.now
        approval.save(only=[CreditApproval.step, CreditApproval.status, CreditApproval.decided_at])
        action = ON_APPROVED.get(approval.kind)
        if action is not None:
            action(context, approval)
        _tell_requester(context, approval, "approved")
    return _announce(context, approval)


@service
def reject(context, approval_id, reason, meeting=None):
    """The next approver in the chain rejects (a reason is required); the request is closed."""
    if not (reason or "").strip():
        raise Invalid("a rejection needs a reason (--reason)")
    approval = approval_for(context, approval_id)
    role = _require_next_approver(context, approval, meeting)
    _record(context, approval, role, "reject", reason, meeting)
    approval.status, approval.decided_at, approval.reason = REJECTED, context.now, reason.strip()
    approval.save(only=[CreditApproval.status, CreditApproval.decided_at, CreditApproval.reason])
    _tell_requester(context, approval, f"rejected ({reason.strip()})")
    return _announce(context, approval)


def _record(context, approval, role, decision, reason, meeting):
    CreditDecision.create(workspace=context.workspace, approval=approval, step=approval.step, role=role,
                          user=context.user, decision=decision, reason=(reason or "").strip() or None,
                          meeting=(meeting or "").strip() or None, at=context.now)
    past = {"approve": "approved", "reject": "rejected"}[decision]
    context.audit(f"credit.approval_{past}", "credit_approval", approval.id,
                  after={"kind": approval.kind, "step": approval.step, "role": role, "meeting": meeting,
                         "reason": reason})


def _announce(context, approval):
    view = approval_view(approval)
    context.after_commit(lambda: context.hooks.kehu_approval_decided(context=context, approval=view))
    return view


def _tell_next(context, approval):
    role = deciding_role(approval.chain[approval.step])
    users = User.select(User.id).where(User.workspace == context.workspace, User.role == role, User.active)
    customer = Customer.get_by_id(approval.customer_id).name
    context.notify([Notice(user.id, "credit_approval", f"approval {approval.id} ({approval.kind}, {customer}, "
                           f"{money(approval.amount)} yuan) waits for you as {approval.chain[approval.step]}",
                           f"credit_approval:{approval.id}") for user in users])


def _tell_requester(context, approval, outcome):
    if approval.requested_by_id is not None:
        context.notify([Notice(approval.requested_by_id, "credit_approval",
                               f"approval {approval.id} ({approval.kind}) {outcome}",
                               f"credit_approval:{approval.id}")])


def approval_view(approval):
    """An approval as the API prints it."""
    return {
        "id": approval.id, "kind": approval.kind, "customer": approval.customer_id,
        "receivable": approval.receivable_id, "amount": str(money(approval.amount)),
        "contract": str(money(approval.contract)) if approval.contract is not None else None,
        "chain": list(approval.chain), "step": approval.step,
        "next": approval.chain[approval.step] if approval.status == PENDING else None,
        "status": approval.status, "details": approval.details or {}, "reason": approval.reason,
        "requested_at": _when(approval.requested_at), "decided_at": _when(approval.decided_at),
    }


def _when(value):
    return value.isoformat() if value is not None else None


def decisions_of(approval):
    return [{"step": d.step, "role": d.role, "user": d.user.login if d.user_id else None,
             "decision": d.decision, "reason": d.reason, "meeting": d.meeting, "at": _when(d.at)}
            for d in approval.decisions.order_by(CreditDecision.step, CreditDecision.id)]


# Approvers see every approval (they are asked to decide across the company).
ALL_APPROVER_ROLES = ("vp", "gm", "finance", "admin")


def _may_see(context, approval, owner_id):
    if context.user is None or context.user.role in ALL_APPROVER_ROLES:
        return True
    return approval.requested_by_id == context.user.id or access.owner_in_scope(context, owner_id)


@service
def show_approval(context, approval_id):
    """An approval with its decisions so far."""
    approval = approval_for(context, approval_id, for_update=False)
    customer = Customer.get_by_id(approval.customer_id)
    if not _may_see(context, approval, customer.owner_id):
        raise PermissionDenied(f"approval {approval.id} is outside your data scope")
    return {**approval_view(approval), "decisions": decisions_of(approval)}


@service
def list_approvals(context, status=None, kind=None, mine=False):
    """Approvals, newest first; ``mine``: those waiting for the acting user's role."""
    query = CreditApproval.select().join(Customer).where(CreditApproval.workspace == context.workspace) \
        .order_by(CreditApproval.id.desc())
    if context.user is not None and context.user.role not in ALL_APPROVER_ROLES:
        scope = access.owner_condition(context, Customer.owner)
        if scope is not None:
            query = query.where(scope | (CreditApproval.requested_by == context.user.id))
    if status:
        query = query.where(CreditApproval.status == status)
    if kind:
        query = query.where(CreditApproval.kind == kind)
    items = [approval_view(a) for a in query]
    if mine:
        role = context.user.role if context.user is not None else None
        items = [a for a in items if a["next"] is not None and deciding_role(a["next"]) == role]
    return items
