"""marshmallow schemas for core input: what the CLI, the API, imports and embedding callers may send."""

import re
from decimal import ROUND_HALF_UP

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from kehu.core import normalize
from kehu.core.timeutil import zone
from kehu.errors import Invalid

NAME_RE = r"^[^\s/\\]{1,100}$"
LOGIN_RE = r"^[A-Za-z0-9._@\-]{1,100}$"
FIELD_NAME_RE = r"^[a-z][a-z0-9_]{0,63}$"
FIELD_TYPES = ("text", "int", "decimal", "date", "choice")
ACTIVITY_KINDS = ("call", "visit", "note", "task")
OPPORTUNITY_STATUSES = ("open", "won", "lost")


def flatten_errors(messages, prefix=""):
    """marshmallow's nested error dict as ``["field: message", ...]``."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            label = key if key != "_schema" else ""
            out.extend(flatten_errors(value, f"{prefix}{label}: " if label else prefix))
    elif isinstance(messages, (list, tuple)):
        for item in messages:
            out.extend(flatten_errors(item, prefix))
    else:
        out.append(f"{prefix}{messages}")
    return out


def load(schema, data, **options):
    """Validate ``data`` with ``schema``; raise :class:`kehu.Invalid` with every problem on one line."""
    try:
        return schema.load(data, **options)
    except ValidationError as exc:
        problems = flatten_errors(exc.messages)
        raise Invalid("; ".join(problems), details={"fields": exc.messages}) from None


class Text(fields.String):
    """A string stripped of surrounding whitespace; empty means ``None`` (refused unless ``allow_none``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = normalize.clean_text(super()._deserialize(value, attr, data, **kwargs))
        if value is None and not self.allow_none:  # "" or "  " for a value that must be given
            raise ValidationError("must not be empty")
        return value


class Keyed(Text):
    """Text that must reduce to a matching key (``key_function`` raises ``ValueError`` when it cannot)."""

    key_function = None

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value is not None:
            try:
                type(self).key_function(value)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
        return value


class Phone(Keyed):
    key_function = staticmethod(normalize.phone_key)


class Email(Keyed):
    key_function = staticmethod(normalize.email_key)


class StrictSchema(Schema):
    class Meta:
        unknown = "raise"


class WorkspaceInput(StrictSchema):
    name = fields.String(required=True, validate=validate.Regexp(NAME_RE, error="must be 1-100 characters "
                                                                                "without spaces or slashes"))
    timezone = fields.String(load_default="Asia/Shanghai")
    plugins = fields.List(fields.String(), load_default=None, allow_none=True)
    admin = fields.String(required=True, validate=validate.Regexp(LOGIN_RE, error="not a valid login"))

    @validates("timezone")
    def _known_timezone(self, value, **kwargs):
        try:
            zone(value)
        except Invalid as exc:
            raise ValidationError(exc.message) from None


class OrgUnitInput(StrictSchema):
    path = fields.String(required=True)
    kind = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))

    @validates("path")
    def _path(self, value, **kwargs):
        parts = value.strip().strip("/").split("/")
        if not value.strip() or any(not p.strip() for p in parts) or any(len(p) > 100 for p in parts):
            raise ValidationError("an org path is names joined by '/', e.g. 华东/销售一部")


class UserInput(StrictSchema):
    login = fields.String(required=True, validate=validate.Regexp(LOGIN_RE, error="not a valid login "
                                                                                  "(letters, digits, . _ @ -)"))
    role = fields.String(required=True, validate=validate.Length(min=1, max=50))
    unit = Text(load_default=None, allow_none=True)
    name = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class UserUpdate(StrictSchema):
    role = fields.String(validate=validate.Length(min=1, max=50))
    unit = Text(allow_none=True)
    name = Text(allow_none=True, validate=validate.Length(max=200))


class CustomerInput(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    phone = Phone(load_default=None, allow_none=True, validate=validate.Length(max=50))
    email = Email(load_default=None, allow_none=True, validate=validate.Length(max=200))
    region = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    industry = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    source = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    owner = Text(load_default=None, allow_none=True)
    parent = fields.Integer(load_default=None, allow_none=True, strict=False)
    custom = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _name_present(self, data, **kwargs):
        if "name" in data and data["name"] is None:
            raise ValidationError("name is required", "name")


class ContactInput(StrictSchema):
    customer = fields.Integer(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    title = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    role = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))
    phone = Phone(load_default=None, allow_none=True, validate=validate.Length(max=50))
    email = Email(load_default=None, allow_none=True, validate=validate.Length(max=200))


class OpportunityInput(StrictSchema):
    customer = fields.Integer(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    amount = fields.Decimal(load_default=0, validate=validate.Range(min=0), places=2, rounding=ROUND_HALF_UP,
                            allow_nan=False)
    stage = fields.String(required=True, validate=validate.Length(min=1, max=50))
    owner = Text(load_default=None, allow_none=True)
    expected_close = fields.Date(load_default=None, allow_none=True)


class ActivityInput(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    subject = Text(required=True, validate=validate.Length(min=1, max=300))
    notes = Text(load_default=None, allow_none=True)
    customer = fields.Integer(load_default=None, allow_none=True)
    entity = fields.String(load_default=None, allow_none=True,
                           validate=validate.Regexp(r"^[a-z_]+:\d+$", error="an entity is kind:id, e.g. lead:12"))
    due = fields.Raw(load_default=None, allow_none=True)
    done = fields.Raw(load_default=None, allow_none=True)

    @validates_schema
    def _linked(self, data, **kwargs):
        if data.get("customer") is None and data.get("entity") is None:
            raise ValidationError("an activity needs --customer or an entity it belongs to", "customer")


class FieldInput(StrictSchema):
    name = fields.String(required=True, validate=validate.Regexp(
        FIELD_NAME_RE, error="a field name is lower-case letters, digits and _, starting with a letter"))
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=None,
                          allow_none=True)
    required = fields.Boolean(load_default=False)
    entity = fields.String(load_default="customer", validate=validate.Regexp(r"^[a-z_]{1,50}$"))
    label = Text(load_default=None, allow_none=True)

    @validates_schema
    def _choices(self, data, **kwargs):
        if data.get("type") == "choice" and not data.get("choices"):
            raise ValidationError("a choice field needs --choices a,b,...", "choices")
        if data.get("type") != "choice" and data.get("choices"):
            raise ValidationError("only a choice field takes choices", "choices")


def listing_bounds(limit, offset):
    """Validate ``--limit``/``--offset``: limit 0 means no limit."""
    if limit is None:
        limit = 100
    try:
        limit, offset = int(limit), int(offset or 0)
    except (TypeError, ValueError):
        raise Invalid("limit and offset must be whole numbers") from None
    if limit < 0 or offset < 0:
        raise Invalid("limit and offset must not be negative")
    return limit, offset


def is_identifier(value):
    return re.match(FIELD_NAME_RE, value or "") is not None
