"""Policy documents: validated JSON-shaped data with defaults that a workspace (or an industry pack) overrides.

Plugins keep their rules as documents (the credit policy, the call-center settings); an override is laid
over the defaults with :func:`merge_documents` and the result validated whole before anything is stored.
"""

import copy
import json

from kehu.errors import Invalid


def merge_documents(base, override):
    """``base`` with ``override`` laid over it: objects merge key by key, anything else (lists included) is
    replaced. Neither argument is changed."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_documents(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def parse_document(document, what):
    """``document`` as a dict: embedding callers pass a dict or JSON text; ``Invalid`` says what is wrong."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise Invalid(f"the {what} file is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Invalid(f"the {what} must be a JSON object")
    return document


def store_override(context, model, document, action):
    """Keep ``document`` as the workspace's override in ``model`` (one row per workspace: ``document``,
    ``updated_by``, ``updated_at``), replacing the previous one, and audit the change as ``action``. The
    caller has validated the merged result already."""
    row = model.get_or_none(model.workspace == context.workspace)
    before = row.document if row is not None else None
    if row is None:
        model.create(workspace=context.workspace, document=document, updated_by=context.user,
                     updated_at=context.now)
    else:
        row.document, row.updated_by, row.updated_at = document, context.user, context.now
        row.save()
    context.audit(action, model._meta.table_name, context.workspace.id, before=before, after=document)
