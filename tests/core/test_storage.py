"""Storage on every backend, and the fixtures of kehu.testing that give each test its own migrated database.

Most tests run once per backend in ``KEHU_TEST_BACKENDS`` (``[sqlite]`` and ``[postgresql]``), against a real
SQLite file or the session's real PostgreSQL server.
"""

import contextlib
import datetime as dt
import multiprocessing
import shutil
import sqlite3
import traceback
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import peewee as pw
import pytest
from playhouse.schema_diff import diff_models

import kehu
from kehu.core import schema
from kehu.core.db import database
from kehu.core.models import Contact, Customer, Opportunity, Workspace
from kehu.core.plugins import BUILTIN_PLUGINS, CORE_PLUGIN_NAME
from kehu.core.registry import SchemaSpec

SHANGHAI = ZoneInfo("Asia/Shanghai")


def migration_names(spec):
    """The migration scripts in a plugin's folder, in the order the runner applies them."""
    return [path.stem for path in sorted(Path(spec.migrations).glob("[0-9]*.py"))]


def history(app):
    """Every plugin's migration history rows, ``{plugin: [(name, applied), ...]}``, read from the tables."""
    rows = {}
    for plugin in app.registry.schemas:
        cursor = app.db.execute_sql(f"SELECT name, applied FROM {schema.history_table(plugin)} ORDER BY name")
        rows[plugin] = [tuple(row) for row in cursor.fetchall()]
    return rows


def raw_value(app, model, column, row_id):
    """A column as stored, bypassing the field's conversion."""
    table = model._meta.table_name
    return app.db.execute_sql(f"SELECT {column} FROM {table} WHERE id = {int(row_id)}").fetchone()[0]


def make_customer(name="Hangzhou Tea Co."):
    workspace = Workspace.create(name="acme")
    return workspace, Customer.create(workspace=workspace, name=name)


# --- the fixtures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_a_fresh_database(kehu_app, round_):
    # Both rounds write the same row: the second would fail if a clone carried the first one's data.
    assert Workspace.select().count() == 0
    Workspace.create(name="acme")
    assert Workspace.select().count() == 1


def test_sqlite_url_is_a_complete_copy_in_this_tests_directory(kehu_sqlite_url, tmp_path):
    path = Path(kehu_sqlite_url.removeprefix("sqlite:///"))
    assert path.parent == tmp_path
    # Only the main file was copied: it must hold the whole migrated schema (the template's WAL was folded in).
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute(f"SELECT name FROM {schema.history_table(CORE_PLUGIN_NAME)}").fetchall()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_postgres_server_is_a_private_unix_socket_cluster(postgres_server, kehu_postgres_url):
    assert kehu_postgres_url.startswith("postgresql://postgres@/kehu_test_")
    app = kehu.connect(kehu_postgres_url)
    try:
        settings = {
            name: app.db.execute_sql(f"SHOW {name}").fetchone()[0]
            for name in ("listen_addresses", "unix_socket_directories", "port", "data_directory")
        }
    finally:
        app.close()
    assert settings["listen_addresses"] == ""  # no TCP at all
    assert settings["unix_socket_directories"] == postgres_server.directory
    assert int(settings["port"]) == postgres_server.port
    # Not the package's default cluster (/var/lib/postgresql/<major>/main): our own, in our temp directory.
    assert settings["data_directory"] == postgres_server.data_directory


# --- schema and migrations -----------------------------------------------------------------------------


def test_every_plugin_registers_its_schema(kehu_app):
    assert {CORE_PLUGIN_NAME, *BUILTIN_PLUGINS} <= set(kehu_app.registry.schemas)


def test_migrated_schema_matches_the_models(kehu_app):
    # schema_diff compares tables, column names and indexes, not column types, so kehu's own field types
    # (UTCDateTimeField, MoneyField, JSONField) cannot give false positives here; their storage is proven
    # by the round-trip tests below.
    differences = {
        spec.plugin: str(diff_models(kehu_app.db, spec.models))
        for spec in kehu_app.registry.schemas.values()
    }
    assert {plugin: diff for plugin, diff in differences.items() if diff} == {}


def test_schema_status_shows_every_plugin_current_at_its_own_version(kehu_app):
    status = {row["plugin"]: row for row in kehu_app.schema_status()}
    assert set(status) == set(kehu_app.registry.schemas)
    for plugin, spec in kehu_app.registry.schemas.items():
        names = migration_names(spec)
        assert status[plugin] == {"plugin": plugin, "version": names[-1], "applied": names, "pending": []}


def test_second_connect_to_the_same_database_does_nothing(kehu_app):
    before = history(kehu_app)
    again = kehu.connect(kehu_app.url)
    try:
        assert not schema.needs_upgrade(again.registry)
        assert history(again) == before  # nothing re-applied, nothing re-recorded
    finally:
        again.close()
        database.initialize(kehu_app.db)  # the second connect rebound kehu's models; hand them back


def ship_core_migration(app, tmp_path, name, up_body):
    """Point core's schema at a copy of its migrations plus script ``name`` (``up()`` runs ``up_body``).

    The same plugin and models with one more script in the folder: what a kehu upgrade ships.
    """
    core = app.registry.schemas[CORE_PLUGIN_NAME]
    migrations = tmp_path / "migrations"
    shutil.copytree(core.migrations, migrations)
    (migrations / f"{name}.py").write_text(
        f"import peewee as pw\n\n\ndef up(migrator, db):\n    {up_body}\n", encoding="utf-8"
    )
    app.registry.schemas[CORE_PLUGIN_NAME] = SchemaSpec(core.plugin, core.models, str(migrations))
    return core


def core_status(app):
    return {row["plugin"]: row for row in app.schema_status()}[CORE_PLUGIN_NAME]


def test_new_migration_script_is_applied_by_upgrade(kehu_app, tmp_path):
    core = ship_core_migration(
        kehu_app, tmp_path, "0002_add_column",
        "migrator.migrate(migrator.add_column('customer', 'probe_note', pw.TextField(null=True)))",
    )
    workspace, customer = make_customer()
    assert core_status(kehu_app)["pending"] == ["0002_add_column"]

    done = {row["plugin"]: row for row in kehu_app.upgrade()}
    assert done[CORE_PLUGIN_NAME] == {"plugin": CORE_PLUGIN_NAME, "created": False, "applied": ["0002_add_column"]}
    assert all(row["applied"] == [] for plugin, row in done.items() if plugin != CORE_PLUGIN_NAME)

    assert "probe_note" in [column.name for column in kehu_app.db.get_columns("customer")]
    assert raw_value(kehu_app, Customer, "probe_note", customer.id) is None  # existing rows kept
    assert core_status(kehu_app)["version"] == "0002_add_column" and core_status(kehu_app)["pending"] == []
    # The diff sees a change: the database now has a column the models lack.
    assert str(diff_models(kehu_app.db, core.models)) == "drop column customer.probe_note"
    assert {row["plugin"]: row["applied"] for row in kehu_app.upgrade()}[CORE_PLUGIN_NAME] == []


def test_a_migration_that_rebuilds_a_table_keeps_the_rows_referencing_it(kehu_app, kehu_backend, tmp_path, request):
    # Widening a column: PostgreSQL alters it in place, SQLite rebuilds the table.
    ship_core_migration(
        kehu_app, tmp_path, "0002_widen_region",
        "migrator.migrate(migrator.alter_column_type('customer', 'region', pw.TextField(null=True)))",
    )
    workspace, customer = make_customer()
    Opportunity.create(workspace=workspace, customer=customer, name="tea", stage="new", amount=5)
    Contact.create(workspace=workspace, customer=customer, name="Li Lei")

    kehu_app.upgrade()
    assert core_status(kehu_app)["version"] == "0002_widen_region"
    assert [Customer.select().count(), Opportunity.select().count(), Contact.select().count()] == [1, 1, 1]


# --- column types and connection settings ------------------------------------------------------------


def test_sqlite_pragmas_are_in_effect(kehu_sqlite_url):
    app = kehu.connect(kehu_sqlite_url)
    try:
        def pragma(name):
            return app.db.execute_sql(f"PRAGMA {name}").fetchone()[0]

        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") > 0
    finally:
        app.close()


def test_times_round_trip_as_aware_utc(kehu_app):
    local = dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    workspace = Workspace.create(name="acme", created_at=local)

    stored = raw_value(kehu_app, Workspace, "created_at", workspace.id)
    assert str(stored) == "2026-03-01 01:30:15.123456"  # naive UTC in the column, on both backends
    read = Workspace.get_by_id(workspace.id).created_at
    assert read == local
    assert read.tzinfo == dt.timezone.utc
    assert read == dt.datetime(2026, 3, 1, 1, 30, 15, 123456, tzinfo=dt.timezone.utc)


def test_naive_times_are_taken_as_utc(kehu_app):
    workspace = Workspace.create(name="acme", created_at=dt.datetime(2026, 3, 1, 1, 30))
    assert Workspace.get_by_id(workspace.id).created_at == dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("amount", "fen", "back"),
    [
        (Decimal("1234.565"), 123457, Decimal("1234.57")),  # half-up (四舍五入) to the fen
        (Decimal("0.1"), 10, Decimal("0.10")),
        ("19.99", 1999, Decimal("19.99")),
        (3, 300, Decimal("3.00")),  # an int is whole yuan
        (Decimal("-0.005"), -1, Decimal("-0.01")),
        (Decimal("92233720368547758.07"), 2**63 - 1, Decimal("92233720368547758.07")),  # BIGINT's limit
    ],
)
def test_money_round_trips_as_decimal_stored_as_integer_fen(kehu_app, amount, fen, back):
    workspace, customer = make_customer()
    opportunity = Opportunity.create(workspace=workspace, customer=customer, name="tea", stage="new", amount=amount)

    assert raw_value(kehu_app, Opportunity, "amount", opportunity.id) == fen
    read = Opportunity.get_by_id(opportunity.id).amount
    assert type(read) is Decimal and read == back and str(read) == str(back)


def test_money_sums_exactly_in_sql(kehu_app):
    workspace, customer = make_customer()
    for amount in ("0.10", "0.20", "0.30"):
        Opportunity.create(workspace=workspace, customer=customer, name="tea", stage="new", amount=Decimal(amount))
    total_fen = Opportunity.select(pw.fn.SUM(Opportunity.amount)).scalar()
    assert total_fen == 60  # integers: no 0.6000000000000001


# --- two processes opening one new SQLite file ----------------------------------------------------------


def open_new_databases(urls, barrier, results):
    """Child process: open each URL with ``kehu.connect`` at the same moment as the other child.

    A failure is reported, not raised, so both children stay in step on the barrier for the next URL.
    """
    errors = []
    for url in urls:
        barrier.wait(timeout=120)
        try:
            kehu.connect(url).close()
        except Exception as exc:
            errors.append(f"{Path(url).name}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    results.put(errors)


def race_to_open(urls):
    """Two spawned processes ``kehu.connect`` each URL at the same moment; returns their errors."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    children = [context.Process(target=open_new_databases, args=(urls, barrier, results)) for _ in range(2)]
    for child in children:
        child.start()
    try:
        errors = [error for _ in children for error in results.get(timeout=300)]
    finally:
        for child in children:
            child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0]
    return errors


def assert_created_once(url):
    """The database at ``url`` is fully migrated, each plugin's scripts recorded exactly once.

    (A second baseline would also have hit the history table's unique name and failed its process.)
    """
    app = kehu.connect(url, upgrade=False)
    try:
        assert not schema.needs_upgrade(app.registry)
        assert {plugin: [name for name, _ in rows] for plugin, rows in history(app).items()} == {
            plugin: migration_names(spec) for plugin, spec in app.registry.schemas.items()
        }
        assert not any(diff_models(app.db, spec.models) for spec in app.registry.schemas.values())
    finally:
        app.close()


def test_two_processes_opening_a_new_sqlite_file_at_once_both_succeed(tmp_path):
    # Several files: each one is a fresh race between the two processes.
    urls = [f"sqlite:///{tmp_path / f'new-{n}.db'}" for n in range(10)]
    errors = race_to_open(urls)
    assert not errors, "\n".join(errors)
    for url in urls:
        assert_created_once(url)


@pytest.fixture
def empty_postgres_urls(postgres_server):
    """URLs of three new, empty PostgreSQL databases (no template: nothing migrated yet)."""
    names = [f"kehu_empty_{n}" for n in range(3)]
    admin = postgres_server.connect()
    try:
        with admin.cursor() as cursor:
            for name in names:
                cursor.execute(f"CREATE DATABASE {name}")
        yield [postgres_server.url(name) for name in names]
        with admin.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        admin.close()


def test_two_processes_opening_a_new_postgres_database_at_once_both_succeed(empty_postgres_urls):
    errors = race_to_open(empty_postgres_urls)
    assert not errors, "\n".join(errors)
    for url in empty_postgres_urls:
        assert_created_once(url)
