"""Tables of the hello plugin."""

import peewee as pw

from kehu.core.db import UTCDateTimeField, utcnow
from kehu.core.models import Customer, TenantModel


class Greeting(TenantModel):
    """A greeting stored for a new customer."""

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    message = pw.CharField(max_length=200)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "hello_greeting"
        indexes = ((("workspace", "customer"), False),)  # workspace first in every index (kehu rule 4)


MODELS = [Greeting]
