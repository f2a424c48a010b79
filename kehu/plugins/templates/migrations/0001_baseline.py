"""Baseline of the templates plugin's schema: on a fresh database its tables are created from its models."""


def up(migrator, db):
    pass


def down(migrator, db):
    pass
