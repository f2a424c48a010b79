"""The one writer of owner columns (decision 6): every owner change goes through :func:`write_owner`."""

from kehu.core.context import OwnerChange
from kehu.core.models import Event


def write_owner(context, model, entity, ids, new_owner_id, reason):
    """Set ``model.owner`` of the rows ``ids`` to ``new_owner_id`` in the current transaction.

    Set-based: one UPDATE and one batch of audit rows; ``kehu_owner_changed`` fires after commit.
    Rows already owned by ``new_owner_id`` are left alone. Returns the :class:`OwnerChange` list.
    """
    if not ids:
        return []
    rows = list(model.select(model.id, model.owner).where(
        model.workspace == context.workspace, model.id.in_(list(ids))).tuples())
    changes = [OwnerChange(entity, row_id, old, new_owner_id, reason) for row_id, old in rows
               if old != new_owner_id]
    if not changes:
        return []
    changed_ids = [c.id for c in changes]
    fields = {model.owner: new_owner_id}
    if hasattr(model, "updated_at"):
        fields[model.updated_at] = context.now
    model.update(fields).where(model.workspace == context.workspace, model.id.in_(changed_ids)).execute()
    Event.insert_many([
        {"workspace": context.workspace.id, "actor": context.user.id if context.user else None,
         "at": context.now, "action": f"{entity}.owner_changed", "entity_type": entity,
         "entity_id": str(c.id), "before": {"owner": c.old_owner},
         "after": {"owner": c.new_owner, "reason": reason}}
        for c in changes
    ]).execute()
    context.after_commit(lambda: context.hooks.kehu_owner_changed(context=context, entity=entity,
                                                                  changes=changes))
    return changes
