"""Who was called and when (customer, lead, rep, time, stage before, number) on calls; the visit, invalid-number,
phone-claim, target and settings tables."""

import peewee as pw


def up(migrator, db):
    from kehu.core.db import UTCDateTimeField
    from kehu.core.models import Customer, User
    from kehu.plugins.callcenter.models import NEW_IN_0002

    migrator.migrate(
        migrator.add_column("callcenter_call", "customer_id",
                            pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE", field=Customer.id)),
        migrator.add_column("callcenter_call", "lead_id", pw.IntegerField(null=True)),
        migrator.add_column("callcenter_call", "rep_id",
                            pw.ForeignKeyField(User, null=True, on_delete="SET NULL", field=User.id)),
        migrator.add_column("callcenter_call", "at", UTCDateTimeField(null=True)),
        migrator.add_column("callcenter_call", "intent_before", pw.SmallIntegerField(null=True)),
        migrator.add_column("callcenter_call", "phone", pw.CharField(max_length=50, null=True)),
        migrator.add_index("callcenter_call", ("workspace_id", "rep_id", "at"), False),
        migrator.add_index("callcenter_call", ("workspace_id", "customer_id", "at"), False),
        migrator.add_index("callcenter_call", ("workspace_id", "lead_id", "at"), False),
        migrator.add_index("callcenter_call", ("workspace_id", "at"), False),
        migrator.add_index("callcenter_call", ("workspace_id", "disposition", "at"), False),
    )
    db.create_tables(NEW_IN_0002, safe=True)


def down(migrator, db):
    from kehu.plugins.callcenter.models import NEW_IN_0002

    db.drop_tables(list(reversed(NEW_IN_0002)), safe=True)
    migrator.migrate(*(migrator.drop_column("callcenter_call", column)
                       for column in ("customer_id", "lead_id", "rep_id", "at", "intent_before", "phone")))
