"""Core tables: Workspace, OrgUnit, Role, User, Customer, Contact, Opportunity, Activity, Event and friends.

Every tenant row carries ``workspace`` and every tenant index starts with it (rule 4 of DESIGN.md).
"""

import peewee as pw

from kehu.core.db import BaseModel, JSONField, MoneyField, UTCDateTimeField, utcnow


class Workspace(BaseModel):
    """One customer deployment: its own users, records, enabled plugins and policies."""

    name = pw.CharField(max_length=100, unique=True)
    timezone = pw.CharField(max_length=64, default="Asia/Shanghai")
    settings = JSONField(default=dict)
    created_at = UTCDateTimeField(default=utcnow)


class TenantModel(BaseModel):
    """A row owned by one workspace."""

    workspace = pw.ForeignKeyField(Workspace, on_delete="CASCADE", index=False)


class WorkspacePlugin(TenantModel):
    """Whether a plugin is enabled in a workspace. A missing row means disabled."""

    plugin = pw.CharField(max_length=100)
    enabled = pw.BooleanField(default=True)
    changed_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "plugin"), True),)


class Role(TenantModel):
    """A role and what it may do: ``scope`` is own | unit | all; ``permissions`` a list of action names."""

    key = pw.CharField(max_length=50)
    label = pw.CharField(max_length=100, default="")
    rank = pw.IntegerField(default=0)
    scope = pw.CharField(max_length=10, default="own")
    permissions = JSONField(default=list)

    class Meta:
        indexes = ((("workspace", "key"), True),)


class OrgUnit(TenantModel):
    """A node of the organisation tree; ``path`` is the slash-joined names from the top (华东/销售一部)."""

    name = pw.CharField(max_length=100)
    path = pw.CharField(max_length=500)
    kind = pw.CharField(max_length=50, null=True)
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "path"), True),)


class User(TenantModel):
    login = pw.CharField(max_length=100)
    name = pw.CharField(max_length=200, default="")
    role = pw.CharField(max_length=50)
    unit = pw.ForeignKeyField(OrgUnit, null=True, backref="users", on_delete="SET NULL")
    active = pw.BooleanField(default=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "login"), True),)


class FieldDefinition(TenantModel):
    """A custom field declared for one entity (``customer``, or a plugin's, e.g. ``lead``) in a workspace."""

    entity = pw.CharField(max_length=50, default="customer")
    name = pw.CharField(max_length=64)
    type = pw.CharField(max_length=10)
    choices = JSONField(null=True)
    required = pw.BooleanField(default=False)
    label = pw.CharField(max_length=200, default="")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "entity", "name"), True),)


class Customer(TenantModel):
    name = pw.CharField(max_length=200)
    phone = pw.CharField(max_length=50, null=True)
    email = pw.CharField(max_length=200, null=True)
    region = pw.CharField(max_length=100, null=True)
    industry = pw.CharField(max_length=100, null=True)
    source = pw.CharField(max_length=100, null=True)
    owner = pw.ForeignKeyField(User, null=True, backref="customers", on_delete="SET NULL")
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="SET NULL")
    custom = JSONField(default=dict)
    # Normalised keys shared by duplicate checks (leads, call center): see kehu.core.normalize.
    name_key = pw.CharField(max_length=200, default="")
    phone_key = pw.CharField(max_length=50, null=True)
    email_key = pw.CharField(max_length=200, null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    deleted_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = (
            (("workspace", "owner"), False),
            (("workspace", "name_key"), False),
            (("workspace", "phone_key"), False),
            (("workspace", "email_key"), False),
            (("workspace", "parent"), False),
        )


class Contact(TenantModel):
    customer = pw.ForeignKeyField(Customer, backref="contacts", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    title = pw.CharField(max_length=100, null=True)
    role = pw.CharField(max_length=50, null=True)
    phone = pw.CharField(max_length=50, null=True)
    email = pw.CharField(max_length=200, null=True)
    phone_key = pw.CharField(max_length=50, null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "customer"), False), (("workspace", "phone_key"), False))


class Opportunity(TenantModel):
    customer = pw.ForeignKeyField(Customer, backref="opportunities", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    amount = MoneyField(default=0)
    stage = pw.CharField(max_length=50)
    status = pw.CharField(max_length=10, default="open")  # open | won | lost
    owner = pw.ForeignKeyField(User, null=True, backref="opportunities", on_delete="SET NULL")
    expected_close = pw.DateField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "owner"), False), (("workspace", "customer"), False))


class Activity(TenantModel):
    """A call, visit, note or task. ``entity`` links it to any record, e.g. ``lead:12``; plugins add details."""

    kind = pw.CharField(max_length=20)
    subject = pw.CharField(max_length=300)
    notes = pw.TextField(null=True)
    customer = pw.ForeignKeyField(Customer, null=True, backref="activities", on_delete="SET NULL")
    entity = pw.CharField(max_length=100, null=True)
    user = pw.ForeignKeyField(User, null=True, backref="activities", on_delete="SET NULL")
    due_at = UTCDateTimeField(null=True)
    done_at = UTCDateTimeField(null=True)
    reminded_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("workspace", "customer", "created_at"), False),
            (("workspace", "entity"), False),
            (("workspace", "user", "due_at"), False),
        )


class Event(TenantModel):
    """The audit trail: who did what to which record, when, with the values before and after."""

    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = UTCDateTimeField(default=utcnow)
    action = pw.CharField(max_length=100)
    entity_type = pw.CharField(max_length=50)
    entity_id = pw.CharField(max_length=50, null=True)
    before = JSONField(null=True)
    after = JSONField(null=True)

    class Meta:
        indexes = ((("workspace", "entity_type", "entity_id"), False), (("workspace", "at"), False))


class Notification(TenantModel):
    """A message for one user, listed by ``kehu inbox``."""

    user = pw.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    at = UTCDateTimeField(default=utcnow)
    kind = pw.CharField(max_length=50)
    message = pw.TextField()
    entity = pw.CharField(max_length=100, null=True)
    read_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("workspace", "user", "at"), False),)


class JobRun(TenantModel):
    """The last period a scheduled job ran for in a workspace, so ``kehu tick`` runs each job once per period."""

    job = pw.CharField(max_length=100)
    period = pw.CharField(max_length=20)
    ran_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "job"), True),)


CORE_MODELS = [
    Workspace,
    WorkspacePlugin,
    Role,
    OrgUnit,
    User,
    FieldDefinition,
    Customer,
    Contact,
    Opportunity,
    Activity,
    Event,
    Notification,
    JobRun,
]
