"""Response slots (tokens, answers, derived scores), complaints and their steps."""


def up(migrator, db):
    from kehu.plugins.survey.models import NEW_IN_0002

    db.create_tables(NEW_IN_0002, safe=True)


def down(migrator, db):
    from kehu.plugins.survey.models import NEW_IN_0002

    db.drop_tables(list(reversed(NEW_IN_0002)), safe=True)
