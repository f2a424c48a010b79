"""Tables of the templates plugin."""

import peewee as pw

from kehu.core.db import UTCDateTimeField, utcnow
from kehu.core.models import TenantModel, User


class InstalledPack(TenantModel):
    """An industry pack installed in a workspace, with the version installed."""

    pack = pw.CharField(max_length=64)
    version = pw.CharField(max_length=20)
    installed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    installed_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "templates_installed_pack"
        indexes = ((("workspace", "pack"), True),)


MODELS = [InstalledPack]
