"""The credit ledger: standings, gradings, approvals, receivables, payments, allocations, collection steps."""


def up(migrator, db):
    from kehu.plugins.credit.models import NEW_IN_0002

    db.create_tables(NEW_IN_0002, safe=True)


def down(migrator, db):
    from kehu.plugins.credit.models import NEW_IN_0002

    db.drop_tables(list(reversed(NEW_IN_0002)), safe=True)
