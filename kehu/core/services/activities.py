"""Activities: calls, visits, notes and tasks logged against a customer or any record (``lead:12``)."""

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import lock_rows
from kehu.core.models import Activity, Customer, User
from kehu.core.schemas import ActivityInput, listing_bounds, load
from kehu.core.services.lookup import customer_by_id, parse_id
from kehu.core.timeutil import parse_instant
from kehu.core.views import ActivityView, dump, dump_many, with_login
from kehu.errors import Conflict, NotFound


@service
def log_activities(context, records, origin="manual"):
    """Log activities (dicts: kind, subject, notes, customer, entity, due, done); the batch-first path.

    The acting user must see the customer. Returns the logged activities; a vetoed batch raises ``vetoed``.
    """
    access.require(context, "view", "log activities")
    prepared = []
    for raw in records:
        data = load(ActivityInput(), raw)
        if data["customer"] is not None:
            customer = customer_by_id(context, data["customer"])
            access.require_customer(context, "view", customer)
            data["customer"] = customer.id
        data["due_at"] = parse_instant(data.pop("due"), context.tz, "due") if data["due"] else None
        data["done_at"] = parse_instant(data.pop("done"), context.tz, "done") if data["done"] else None
        data.pop("due", None)
        data.pop("done", None)
        prepared.append(data)
    context.raise_if_vetoed("kehu_before_create", prepared, entity="activity", records=prepared, origin=origin)
    rows = []
    for data in prepared:
        activity = Activity.create(workspace=context.workspace, user=context.user, created_at=context.now,
                                   **data)
        rows.append(activity)
        context.audit("activity.logged", "activity", activity.id, after=dump(ActivityView, activity))
    result = dump_many(ActivityView, rows)
    context.after_commit(lambda: context.hooks.kehu_activities_logged(context=context, activities=result))
    return result


def log_activity(context, kind, subject, customer=None, notes=None, due=None, done=None, entity=None):
    """Log one activity; see :func:`log_activities`."""
    return log_activities(context, [{"kind": kind, "subject": subject, "customer": customer, "notes": notes,
                                     "due": due, "done": done, "entity": entity}])[0]


def _scoped(context, query):
    scope = access.users_in_scope(context)
    if scope is None:
        return query
    # Visible: activities on customers in scope, and activities written by users in scope.
    return query.where(Activity.user.in_(scope) | Activity.customer.in_(
        Customer.select(Customer.id).where(Customer.workspace == context.workspace, Customer.owner.in_(scope))))


def list_activities(context, customer=None, kind=None, open_only=False, mine=False, entity=None, limit=100,
                    offset=0):
    limit, offset = listing_bounds(limit, offset)
    query = Activity.select().where(Activity.workspace == context.workspace).order_by(Activity.id)
    query = _scoped(context, query)
    if customer is not None:
        query = query.where(Activity.customer == parse_id(customer, "customer"))
    if kind:
        query = query.where(Activity.kind == kind)
    if entity:
        query = query.where(Activity.entity == entity)
    if open_only:
        query = query.where(Activity.done_at.is_null())
    if mine and context.user is not None:
        query = query.where(Activity.user == context.user)
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    return dump_many(ActivityView, with_login(query, Activity, User, "user"))


@service
def complete_activity(context, activity_id):
    """Mark a task (or any activity) done now; only its author or someone who sees its customer."""
    activity_id = parse_id(activity_id, "activity")
    query = _scoped(context, Activity.select().where(Activity.workspace == context.workspace,
                                                     Activity.id == activity_id))
    activity = query.first()
    if activity is None:
        raise NotFound(f"no activity {activity_id}")
    if activity.done_at is not None:
        raise Conflict(f"activity {activity_id} is already done")
    before = dump(ActivityView, activity)
    activity.done_at = context.now
    activity.save()
    after = dump(ActivityView, activity)
    context.audit("activity.done", "activity", activity.id, before=before, after=after)
    return after


@service
def remind_due_tasks(context):
    """Job: notify each open task's author once when it falls due. Set-based and safe to run concurrently."""
    query = Activity.select(Activity.id, Activity.user, Activity.subject).where(
        Activity.workspace == context.workspace, Activity.kind == "task", Activity.done_at.is_null(),
        Activity.reminded_at.is_null(), Activity.due_at <= context.now, Activity.user.is_null(False))
    due = list(lock_rows(query).tuples())
    if due:
        Activity.update(reminded_at=context.now).where(Activity.id.in_([row[0] for row in due])).execute()
        context.notify([Notice(user_id, "task_due", f"task due: {subject}", f"activity:{activity_id}")
                        for activity_id, user_id, subject in due])
    return {"reminded": len(due)}


SERVICES = {"log": log_activity, "log_many": log_activities, "list": list_activities,
            "complete": complete_activity}
