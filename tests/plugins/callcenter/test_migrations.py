"""A database from before the call-center tables: migration 0002 adds the call columns and the new tables."""

from playhouse.schema_diff import diff_models

import kehu
from kehu.plugins.callcenter.models import NEW_IN_0002, CallLog

# The baseline's call table (as 0001 created it), kept as literal DDL: the model has moved on since.
BASELINE_CALL_TABLE = (
    'CREATE TABLE "callcenter_call" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" INTEGER NOT NULL '
    'REFERENCES "workspace" ("id") ON DELETE CASCADE, "activity_id" INTEGER NOT NULL REFERENCES "activity" ("id") '
    'ON DELETE CASCADE, "intent" SMALLINT NOT NULL, "annotations" TEXT NOT NULL, "need_category" VARCHAR(100), '
    '"awareness_category" VARCHAR(100), "disposition" VARCHAR(50), "callback_at" DATETIME)')


def test_an_older_database_is_migrated_to_the_current_models(kehu_sqlite_url):
    kehu_app = kehu.connect(kehu_sqlite_url)  # SQLite only: the baseline DDL above is SQLite's
    db = kehu_app.db
    db.drop_tables([*reversed(NEW_IN_0002), CallLog])
    db.execute_sql(BASELINE_CALL_TABLE)
    db.execute_sql('CREATE UNIQUE INDEX "callcenter_call_activity_id" ON "callcenter_call" ("activity_id")')
    db.execute_sql('CREATE INDEX "callcenter_call_workspace_id_intent" ON "callcenter_call" ("workspace_id", '
                   '"intent")')
    db.execute_sql("DELETE FROM kehu_migrations_callcenter WHERE name LIKE '0002%'")

    done = {row["plugin"]: row["applied"] for row in kehu_app.upgrade()}

    try:
        assert done["callcenter"] == ["0002_calls_visits_phones_targets"]
        assert str(diff_models(db, [CallLog, *NEW_IN_0002])) == ""
    finally:
        kehu_app.close()
