"""Tables of the credit plugin."""

import peewee as pw

from kehu.core.db import JSONField, UTCDateTimeField, utcnow
from kehu.core.models import TenantModel, User


class CreditPolicy(TenantModel):
    """A workspace's override of the default credit policy document (DOMAIN.md §3)."""

    document = JSONField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_policy"
        indexes = ((("workspace",), True),)


MODELS = [CreditPolicy]
