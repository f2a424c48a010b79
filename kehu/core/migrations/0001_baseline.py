"""Baseline of core's schema: on a fresh database the tables are created from kehu.core.models.

Later changes go in numbered scripts beside this one (``up(migrator, db)``, ``down(migrator, db)``).
"""


def up(migrator, db):
    pass


def down(migrator, db):
    pass
