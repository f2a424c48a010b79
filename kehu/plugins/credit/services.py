"""Credit policy services: show the workspace's policy, replace its override."""

from kehu.core import access
from kehu.core.context import service
from kehu.core.documents import parse_document, store_override
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
    document = parse_document(document, "policy")
    merged = merge(DEFAULT_POLICY, document)
    load_policy(merged)  # raises Invalid naming every problem; nothing is stored then
    store_override(context, CreditPolicy, document, "credit.policy_set")
    return merged


SERVICES = {"policy": show_policy, "policy_set": set_policy}
