"""Tables of the callcenter plugin."""

import peewee as pw

from kehu.core.db import JSONField, UTCDateTimeField
from kehu.core.models import Activity, TenantModel


class CallLog(TenantModel):
    """Call-center details of a core call activity: intent stage, annotations, categories, disposition."""

    activity = pw.ForeignKeyField(Activity, on_delete="CASCADE", unique=True)
    intent = pw.SmallIntegerField()
    annotations = JSONField(default=dict)
    need_category = pw.CharField(max_length=100, null=True)
    awareness_category = pw.CharField(max_length=100, null=True)
    disposition = pw.CharField(max_length=50, null=True)
    callback_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "callcenter_call"
        indexes = ((("workspace", "intent"), False),)


MODELS = [CallLog]
