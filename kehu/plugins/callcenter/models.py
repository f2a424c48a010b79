"""Tables of the callcenter plugin: call and visit details of core activities, invalid numbers, phone claims,
targets, and the workspace's settings override.

A call or a visit is a core :class:`~kehu.core.models.Activity` (kind ``call`` / ``visit``, written through core's
activity service); these tables add what the call center needs to it.
"""

import peewee as pw

from kehu.core.db import JSONField, MoneyField, UTCDateTimeField, utcnow
from kehu.core.models import Activity, Customer, OrgUnit, TenantModel, User


class CallcenterSettings(TenantModel):
    """A workspace's override of the default call-center settings document (see ``settings.py``)."""

    document = JSONField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "callcenter_settings"
        indexes = ((("workspace",), True),)


class CallLog(TenantModel):
    """Call-center details of a core call activity: intent stage, annotations, categories, disposition.

    ``intent_before`` is the customer's (or lead's) stage before this call (``None`` for a first call), so the
    conversion-process report reads stage movements without replaying history. ``customer`` or ``lead_id``
    says who was called (a lead id, not a key: leads are another plugin's table).
    """

    activity = pw.ForeignKeyField(Activity, on_delete="CASCADE", unique=True)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE")
    lead_id = pw.IntegerField(null=True)
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = UTCDateTimeField(default=utcnow)
    intent = pw.SmallIntegerField()
    intent_before = pw.SmallIntegerField(null=True)
    annotations = JSONField(default=dict)
    need_category = pw.CharField(max_length=100, null=True)
    awareness_category = pw.CharField(max_length=100, null=True)
    disposition = pw.CharField(max_length=50, null=True)
    callback_at = UTCDateTimeField(null=True)
    phone = pw.CharField(max_length=50, null=True)

    class Meta:
        table_name = "callcenter_call"
        indexes = ((("workspace", "intent"), False), (("workspace", "rep", "at"), False),
                   (("workspace", "customer", "at"), False), (("workspace", "lead_id", "at"), False),
                   (("workspace", "at"), False), (("workspace", "disposition", "at"), False))


class VisitLog(TenantModel):
    """Details of a core visit activity (出访记录): purpose, who was met, the result, and the calls before it."""

    activity = pw.ForeignKeyField(Activity, on_delete="CASCADE", unique=True)
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = UTCDateTimeField(default=utcnow)
    result = pw.CharField(max_length=50)
    purpose = pw.CharField(max_length=200, null=True)
    contact = pw.CharField(max_length=100, null=True)
    disposition = pw.CharField(max_length=50, null=True)
    next_step = pw.CharField(max_length=300, null=True)
    calls = JSONField(default=list)  # ids of the calls to this customer since the previous visit

    class Meta:
        table_name = "callcenter_visit"
        indexes = ((("workspace", "rep", "at"), False), (("workspace", "customer", "at"), False))


class InvalidPhone(TenantModel):
    """A number marked invalid (无效电话): reported, left out of dialing lists, until corrected."""

    phone_key = pw.CharField(max_length=32)
    phone = pw.CharField(max_length=50)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE")
    lead_id = pw.IntegerField(null=True)
    reason = pw.CharField(max_length=200, null=True)
    marked_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="marked_by_id")
    marked_at = UTCDateTimeField(default=utcnow)
    corrected_to = pw.CharField(max_length=50, null=True)
    corrected_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="corrected_by_id")
    corrected_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "callcenter_invalid_phone"
        indexes = ((("workspace", "phone_key", "corrected_at"), False), (("workspace", "marked_at"), False))


class PhoneClaim(TenantModel):
    """A number a rep claimed to call (电话申领): due back when not called in time."""

    rep = pw.ForeignKeyField(User, on_delete="CASCADE")
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    phone = pw.CharField(max_length=50)
    claimed_at = UTCDateTimeField(default=utcnow)
    due_at = UTCDateTimeField()
    called_at = UTCDateTimeField(null=True)
    returned_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "callcenter_phone_claim"
        indexes = ((("workspace", "rep", "claimed_at"), False), (("workspace", "customer", "returned_at"), False),
                   (("workspace", "returned_at", "called_at", "due_at"), False))


class Target(TenantModel):
    """A month's target for an org unit or a rep (目标分解: GM → region → department → rep)."""

    period = pw.CharField(max_length=7)  # YYYY-MM
    unit = pw.ForeignKeyField(OrgUnit, null=True, on_delete="CASCADE")
    user = pw.ForeignKeyField(User, null=True, on_delete="CASCADE")
    amount = MoneyField(default=0)
    calls = pw.IntegerField(null=True)
    visits = pw.IntegerField(null=True)
    set_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="set_by_id")
    set_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "callcenter_target"
        indexes = ((("workspace", "period", "unit", "user"), True),)


MODELS = [CallcenterSettings, CallLog, VisitLog, InvalidPhone, PhoneClaim, Target]
# Tables new since the baseline (which had only a first CallLog): created by migration 0002.
NEW_IN_0002 = [CallcenterSettings, VisitLog, InvalidPhone, PhoneClaim, Target]
