"""Baseline of the hello plugin's schema: on a fresh database its tables are created from its models.

Later changes go in 0002_..., 0003_... (``up(migrator, db)`` with ``playhouse.migrate`` operations).
"""


def up(migrator, db):
    pass


def down(migrator, db):
    pass
