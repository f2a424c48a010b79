"""Schema creation and migration, per plugin, with ``playhouse.migrations``.

Each plugin (core included) has its own migrations folder and history table ``kehu_migrations_<plugin>``,
so plugins migrate independently. On a database that has never seen a plugin, its tables are created
from its current models and its migrations are recorded as applied (the baseline); after that, pending
migrations run in order. The whole upgrade is one transaction under a lock, so two processes opening a
new database at once do not race.
"""

import re

from playhouse.migrations import Runner

from kehu.core.db import database, is_postgres, is_sqlite


def history_table(plugin):
    return "kehu_migrations_" + re.sub(r"[^0-9a-zA-Z_]", "_", plugin)


def _runner(spec):
    if not spec.migrations:
        return None
    return Runner(database.obj, directory=spec.migrations, table_name=history_table(spec.plugin))


def plugin_status(spec):
    """``{"plugin", "version", "applied", "pending"}`` for one plugin's schema."""
    runner = _runner(spec)
    if runner is None:
        present = all(model.table_exists() for model in spec.models)
        return {"plugin": spec.plugin, "version": None, "applied": [], "pending": [] if present else ["create"]}
    rows = runner.status()
    applied = [m.name for m in rows if m.applied]
    pending = [m.name for m in rows if not m.applied and m.path]
    if not runner.History.table_exists():
        pending = pending or ["create"]
    return {"plugin": spec.plugin, "version": applied[-1] if applied else None, "applied": applied,
            "pending": pending}


def status(registry):
    return [plugin_status(spec) for spec in registry.schemas.values()]


def needs_upgrade(registry):
    return any(row["pending"] for row in status(registry))


def _lock():
    if is_postgres():
        # Serialises concurrent upgrades across processes; released at commit.
        database.execute_sql("SELECT pg_advisory_xact_lock(4242001)")


def upgrade(registry):
    """Create or migrate every registered plugin's tables; return what was done, per plugin.

    On SQLite, foreign keys are off while migrating: changing a column rebuilds the table (create, copy,
    drop, rename), and with them on the DROP would cascade to the rows referencing it. The pragma is a no-op
    inside a transaction, so it is switched before; ``foreign_key_check`` proves nothing dangles at the end.
    """
    if is_sqlite():
        database.execute_sql("PRAGMA foreign_keys=OFF")
        try:
            return _upgrade(registry, check_foreign_keys=True)
        finally:
            database.execute_sql("PRAGMA foreign_keys=ON")
    return _upgrade(registry)


def _upgrade(registry, check_foreign_keys=False):
    done = []
    with database.atomic():
        _lock()
        for spec in registry.schemas.values():
            runner = _runner(spec)
            if runner is None:
                database.create_tables(spec.models, safe=True)
                done.append({"plugin": spec.plugin, "created": True, "applied": []})
                continue
            if not runner.History.table_exists():
                database.create_tables(spec.models, safe=True)
                baseline = runner.up(fake=True)
                done.append({"plugin": spec.plugin, "created": True, "applied": baseline})
            else:
                done.append({"plugin": spec.plugin, "created": False, "applied": runner.up()})
        if check_foreign_keys:
            dangling = database.execute_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"a migration left rows pointing at nothing: {dangling[:5]}")
    return done
