"""Output shapes (marshmallow) of core records: what ``--json``, the API and hooks see.

Money is a decimal string, times ISO-8601 UTC; related users appear by login.
"""

from marshmallow import Schema, fields


def _login(attribute):
    def get(obj):
        user_id = getattr(obj, attribute + "_id")
        return None if user_id is None else getattr(obj, attribute).login

    return fields.Function(get)


class WorkspaceView(Schema):
    id = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    created_at = fields.DateTime()


class OrgUnitView(Schema):
    id = fields.Integer()
    name = fields.String()
    path = fields.String()
    kind = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True)


class UserView(Schema):
    id = fields.Integer()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    unit = fields.Function(lambda u: u.unit.path if u.unit_id else None)
    active = fields.Boolean()


class CustomerView(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    owner = _login("owner")
    parent = fields.Integer(attribute="parent_id", allow_none=True)
    custom = fields.Dict()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ContactView(Schema):
    id = fields.Integer()
    customer = fields.Integer(attribute="customer_id")
    name = fields.String()
    title = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class OpportunityView(Schema):
    id = fields.Integer()
    customer = fields.Integer(attribute="customer_id")
    name = fields.String()
    amount = fields.Decimal(as_string=True)
    stage = fields.String()
    status = fields.String()
    owner = _login("owner")
    expected_close = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ActivityView(Schema):
    id = fields.Integer()
    kind = fields.String()
    subject = fields.String()
    notes = fields.String(allow_none=True)
    customer = fields.Integer(attribute="customer_id", allow_none=True)
    entity = fields.String(allow_none=True)
    user = _login("user")
    due_at = fields.DateTime(allow_none=True)
    done_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class EventView(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = _login("actor")
    action = fields.String()
    entity = fields.Function(lambda e: f"{e.entity_type}:{e.entity_id}" if e.entity_id else e.entity_type)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class NotificationView(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    kind = fields.String()
    message = fields.String()
    entity = fields.String(allow_none=True)
    read = fields.Function(lambda n: n.read_at is not None)


class FieldView(Schema):
    id = fields.Integer()
    entity = fields.String()
    name = fields.String()
    type = fields.String()
    choices = fields.List(fields.String(), allow_none=True)
    required = fields.Boolean()
    label = fields.String()


def dump(view, obj):
    return view().dump(obj)


def dump_many(view, objs):
    return view(many=True).dump(list(objs))
