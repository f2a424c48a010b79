"""The audit trail, custom field definitions and the inbox."""

from kehu.core import access
from kehu.core.context import service
from kehu.core.models import Customer, Event, FieldDefinition, Notification, User
from kehu.core.schemas import FieldInput, listing_bounds, load
from kehu.core.services.lookup import customer_by_id, user_by_login
from kehu.core.services.customers import CORE_FIELDS
from kehu.core.views import EventView, FieldView, NotificationView, dump, dump_many, with_login
from kehu.errors import Conflict, Invalid


def list_events(context, entity=None, action=None, actor=None, limit=100, offset=0):
    """Audit rows, newest first. The whole log needs ``admin``; a record's own history needs only to see it."""
    limit, offset = listing_bounds(limit, offset)
    query = Event.select().where(Event.workspace == context.workspace).order_by(Event.id.desc())
    if entity:
        kind, _, entity_id = entity.partition(":")
        if not kind or not entity_id:
            raise Invalid("an entity is kind:id, e.g. customer:12")
        if not access.has_permission(context, "admin"):
            if kind != "customer":
                access.require(context, "admin", "read the audit log")
            customer = Customer.get_or_none(Customer.workspace == context.workspace, Customer.id == entity_id) \
                if entity_id.isdigit() else None
            if customer is None:
                customer_by_id(context, entity_id)  # raises not_found
            access.require_record(context, "view", customer.owner_id, f"customer {customer.id}")
        query = query.where(Event.entity_type == kind, Event.entity_id == entity_id)
    else:
        access.require(context, "admin", "read the audit log")
    if action:
        query = query.where(Event.action == action)
    if actor:
        query = query.where(Event.actor == user_by_login(context, actor, active_only=False))
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    return dump_many(EventView, with_login(query, Event, User, "actor"))


@service
def add_field(context, name, type, choices=None, required=False, entity="customer", label=None):
    """Declare a custom field (admin): text, int, decimal, date or choice, optionally required."""
    access.require(context, "admin", "declare custom fields")
    data = load(FieldInput(), {"name": name, "type": type, "choices": choices, "required": required,
                               "entity": entity, "label": label})
    if data["entity"] == "customer" and data["name"] in CORE_FIELDS + ("owner", "id"):
        raise Invalid(f"{data['name']} is a built-in customer field")
    if FieldDefinition.get_or_none(FieldDefinition.workspace == context.workspace,
                                   FieldDefinition.entity == data["entity"],
                                   FieldDefinition.name == data["name"]) is not None:
        raise Conflict(f"field {data['name']!r} already exists on {data['entity']}")
    row = FieldDefinition.create(workspace=context.workspace, created_at=context.now, entity=data["entity"],
                                 name=data["name"], type=data["type"], choices=data["choices"],
                                 required=data["required"], label=data["label"] or data["name"])
    context.cache.pop(("fields", data["entity"]), None)
    result = dump(FieldView, row)
    context.audit("field.added", "field", row.id, after=result)
    return result


def list_fields(context, entity=None):
    query = FieldDefinition.select().where(FieldDefinition.workspace == context.workspace) \
        .order_by(FieldDefinition.entity, FieldDefinition.name)
    if entity:
        query = query.where(FieldDefinition.entity == entity)
    return dump_many(FieldView, query)


def store_notifications(context, notifications):
    """Core's ``kehu_notify``: keep notices for ``kehu inbox`` (one INSERT for the batch)."""
    rows = [{"workspace": context.workspace.id, "user": n.user_id, "at": context.now, "kind": n.kind,
             "message": n.message, "entity": n.entity} for n in notifications]
    if rows:
        Notification.insert_many(rows).execute()


@service
def inbox(context, unread_only=False, mark_read=False, limit=100, offset=0):
    """The acting user's notifications, newest first; ``mark_read`` marks the ones returned as read."""
    limit, offset = listing_bounds(limit, offset)
    if context.user is None:
        raise Invalid("the inbox belongs to a user: pass --as LOGIN")
    query = Notification.select().where(Notification.workspace == context.workspace,
                                        Notification.user == context.user).order_by(Notification.id.desc())
    if unread_only:
        query = query.where(Notification.read_at.is_null())
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    rows = list(query)
    result = dump_many(NotificationView, rows)
    if mark_read and rows:
        Notification.update(read_at=context.now).where(Notification.id.in_([r.id for r in rows]),
                                                       Notification.read_at.is_null()).execute()
    return result


AUDIT_SERVICES = {"list": list_events}
FIELD_SERVICES = {"add": add_field, "list": list_fields}
INBOX_SERVICES = {"list": inbox}
