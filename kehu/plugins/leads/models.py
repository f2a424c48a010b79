"""Tables of the leads plugin: pools and their rules, leads, the ownership history, round-robin cursors."""

import peewee as pw

from kehu.core.db import JSONField, UTCDateTimeField, utcnow
from kehu.core.models import Customer, OrgUnit, TenantModel, User

IN_POOL, HELD, CONVERTED = "in_pool", "held", "converted"
STATES = (IN_POOL, HELD, CONVERTED)


class Pool(TenantModel):
    """A lead pool and its rules (DOMAIN.md §2.2 defaults). ``public`` is every workspace's 公海; 0 = rule off."""

    name = pw.CharField(max_length=100)
    max_held = pw.IntegerField(default=100)
    daily_claims = pw.IntegerField(default=20)
    protect_days = pw.IntegerField(default=30)
    followup_days = pw.IntegerField(default=7)
    warn_days = pw.IntegerField(default=2)
    cooldown_hours = pw.IntegerField(default=12)
    team = pw.ForeignKeyField(OrgUnit, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "leads_pool"
        indexes = ((("workspace", "name"), True),)


class Lead(TenantModel):
    """A lead. ``holder`` is written only by the ownership state machine (kehu.plugins.leads.machine)."""

    name = pw.CharField(max_length=200)
    company = pw.CharField(max_length=200, null=True)
    phone = pw.CharField(max_length=50, null=True)
    email = pw.CharField(max_length=200, null=True)
    region = pw.CharField(max_length=100, null=True)
    industry = pw.CharField(max_length=100, null=True)
    source = pw.CharField(max_length=100, null=True)
    custom = JSONField(default=dict)
    pool = pw.ForeignKeyField(Pool, on_delete="RESTRICT")
    state = pw.CharField(max_length=10, default=IN_POOL)
    holder = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    # Normalised matching keys (duplicates): E.164 phone, whether it is a mobile, e-mail, company name.
    phone_key = pw.CharField(max_length=32, null=True)
    phone_mobile = pw.BooleanField(default=False)
    email_key = pw.CharField(max_length=200, null=True)
    company_key = pw.CharField(max_length=200, null=True)
    # Clock of the current holding. Deadlines are exact instants (start + N x 24 h). A warning is due at its
    # ``*_warn_at`` instant and cleared once sent; moving a deadline sets it again (re-arms it). Precomputed
    # instants keep the sweep plain comparisons, the same SQL on SQLite and PostgreSQL.
    held_since = UTCDateTimeField(null=True)
    protected_until = UTCDateTimeField(null=True)
    followup_due = UTCDateTimeField(null=True)
    last_followup_at = UTCDateTimeField(null=True)
    protect_warn_at = UTCDateTimeField(null=True)
    followup_warn_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    converted_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "leads_lead"
        indexes = (
            (("workspace", "pool", "state"), False),
            (("workspace", "holder", "state"), False),
            (("workspace", "state", "protected_until"), False),
            (("workspace", "state", "followup_due"), False),
            (("workspace", "state", "protect_warn_at"), False),
            (("workspace", "state", "followup_warn_at"), False),
            (("workspace", "phone_key"), False),
            (("workspace", "email_key"), False),
            (("workspace", "company_key"), False),
        )


class LeadTransition(TenantModel):
    """One move of the ownership state machine, with its reason code: the lead's ownership timeline."""

    lead = pw.ForeignKeyField(Lead, on_delete="CASCADE")
    from_state = pw.CharField(max_length=10, null=True)
    to_state = pw.CharField(max_length=10)
    from_holder = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="from_holder_id")
    to_holder = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="to_holder_id")
    reason = pw.CharField(max_length=30)
    note = pw.CharField(max_length=300, null=True)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="actor_id")
    at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "leads_transition"
        indexes = (
            (("workspace", "lead", "at"), False),
            (("workspace", "to_holder", "reason", "at"), False),
            (("workspace", "from_holder", "lead", "at"), False),
        )


class AssignmentRule(TenantModel):
    """An ordered assignment rule of a pool: a condition on source/region/industry → strategy and team."""

    pool = pw.ForeignKeyField(Pool, on_delete="CASCADE")
    position = pw.IntegerField()
    condition = JSONField(default=dict)
    strategy = pw.CharField(max_length=30)
    team = pw.ForeignKeyField(OrgUnit, null=True, on_delete="SET NULL")
    targets = JSONField(default=list)  # logins, for designated and special

    class Meta:
        table_name = "leads_rule"
        indexes = ((("workspace", "pool", "position"), False),)


class RoundRobinCursor(TenantModel):
    """Where round-robin assignment resumes, per pool and team: the last user who received a lead."""

    pool = pw.ForeignKeyField(Pool, on_delete="CASCADE")
    team_key = pw.CharField(max_length=500, default="")
    last_user_id = pw.IntegerField(default=0)

    class Meta:
        table_name = "leads_cursor"
        indexes = ((("workspace", "pool", "team_key"), True),)


MODELS = [Pool, Lead, LeadTransition, AssignmentRule, RoundRobinCursor]
