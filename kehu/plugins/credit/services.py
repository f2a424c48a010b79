"""Credit policy services: show the workspace's policy, replace its override."""

import json

from kehu.core import access
from kehu.core.context import service
from kehu.errors import Invalid
from kehu.plugins.credit.models import CreditPolicy
from kehu.plugins.credit.policy import DEFAULT_POLICY, load_policy, merge, policy_for

POLICY_ROLES = ("gm", "finance", "admin")


@service
def show_policy(context):
    """The credit policy in force in the workspace (the default with its override), as a document."""
    return policy_for(context).document


@service
def set_policy(context, document):
    """Replace the workspace's override with ``document`` (a dict or JSON text; parts omitted keep the
    defaults). gm, finance and admin only; validated whole before anything is stored."""
    if context.user is not None and context.user.role not in POLICY_ROLES:
        access.require(context, "admin", "change the credit policy")
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise Invalid(f"the policy file is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Invalid("a credit policy is a JSON object")
    merged = merge(DEFAULT_POLICY, document)
    load_policy(merged)  # raises Invalid naming every problem; nothing is stored then
    row = CreditPolicy.get_or_none(CreditPolicy.workspace == context.workspace)
    before = row.document if row is not None else None
    if row is None:
        CreditPolicy.create(workspace=context.workspace, document=document, updated_by=context.user,
                            updated_at=context.now)
    else:
        row.document, row.updated_by, row.updated_at = document, context.user, context.now
        row.save()
    context.audit("credit.policy_set", "credit_policy", context.workspace.id, before=before, after=document)
    return merged


SERVICES = {"policy": show_policy, "policy_set": set_policy}
