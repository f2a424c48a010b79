"""Tables of the leads plugin."""

import peewee as pw

from kehu.core.db import UTCDateTimeField, utcnow
from kehu.core.models import OrgUnit, TenantModel


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


MODELS = [Pool]
