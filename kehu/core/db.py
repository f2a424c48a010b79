"""The database: a peewee Database from a URL, the base model, and portable column types.

All kehu tables bind to one :data:`database` proxy, initialised by :func:`open_database`. Times are stored
as naive UTC and handed out timezone-aware; money is stored as integer fen and handed out as ``Decimal``.
"""

import datetime as dt
import json
import os
from decimal import Decimal, ROUND_HALF_UP
from urllib.parse import urlparse

import peewee
from playhouse import db_url

from kehu.errors import Invalid

DEFAULT_URL = "sqlite:///kehu.db"

database = peewee.DatabaseProxy()

# busy_timeout makes a second writer wait instead of failing. WAL (readers beside the one writer) is a
# property of the file, set once by :func:`enable_wal`: switching it on every connection races with other
# processes opening the same new file ("database is locked" comes back at once, whatever busy_timeout says).
SQLITE_PRAGMAS = (
    ("foreign_keys", 1),
    ("busy_timeout", 30000),
    ("synchronous", "normal"),
)


def resolve_url(url=None):
    """The database URL to use: the argument, else ``KEHU_DB``, else ``sqlite:///kehu.db``."""
    return url or os.environ.get("KEHU_DB") or DEFAULT_URL


def make_database(url):
    """A peewee Database for ``url`` (``sqlite:///path`` or ``postgresql://...``), not yet connected."""
    scheme = urlparse(url).scheme
    try:
        if scheme == "sqlite":
            # IMMEDIATE: a write transaction takes the write lock at BEGIN, so two writers queue on
            # busy_timeout instead of deadlocking when both try to upgrade a read lock.
            return db_url.connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
        if scheme in ("postgres", "postgresql", "psycopg3", "postgresext"):
            return db_url.connect(url)
        return db_url.connect(url)
    except (RuntimeError, ValueError) as exc:
        raise Invalid(f"unusable database URL {url!r}: {exc}") from None


def enable_wal(db, seconds=30.0):
    """Put an SQLite file in WAL mode (once per file; it persists), retrying while another process holds it."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            if db.execute_sql("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute_sql("PRAGMA journal_mode=wal")
            return
        except peewee.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def is_sqlite(db=None):
    db = db or database.obj
    return isinstance(db, peewee.SqliteDatabase)


def is_postgres(db=None):
    db = db or database.obj
    return isinstance(db, peewee.PostgresqlDatabase)


def utcnow():
    return dt.datetime.now(dt.timezone.utc)


def to_utc(value):
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


class UTCDateTimeField(peewee.DateTimeField):
    """A timestamp stored as naive UTC, read back timezone-aware (UTC)."""

    def db_value(self, value):
        if isinstance(value, dt.datetime):
            value = to_utc(value).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        if isinstance(value, str):
            # SQLite hands back text; fromisoformat (C) is far faster than peewee's strptime loop.
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                value = super().python_value(value)
        if isinstance(value, dt.datetime):
            return to_utc(value)
        return value


FEN = Decimal("0.01")


def money(value):
    """A ``Decimal`` rounded half-up (四舍五入) to the fen."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


class MoneyField(peewee.BigIntegerField):
    """Money as ``Decimal`` yuan in Python, integer fen in storage, so sums in SQL stay exact."""

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, int):
            return value * 100
        return int(money(value) * 100)

    def python_value(self, value):
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(FEN)


class JSONField(peewee.TextField):
    """A JSON document in a text column, portable across SQLite and PostgreSQL."""

    def db_value(self, value):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    def python_value(self, value):
        if value is None or value == "":
            return None
        return json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


def lock_rows(query):
    """Lock the selected rows for this transaction, skipping rows another worker holds (PostgreSQL).

    On SQLite the write transaction already holds the database's single write lock (BEGIN IMMEDIATE).
    """
    if is_postgres():
        return query.for_update("FOR UPDATE SKIP LOCKED")
    return query


# SQLite's default build allows 32,766 bound parameters per statement; stay well under it on every backend.
MAX_PARAMETERS = 30000


def bulk_insert(model, rows, returning=True):
    """Insert ``rows`` (dicts keyed by field name) in multi-row INSERTs; return the new ids in row order.

    peewee's ``insert_many`` builds its SQL value by value (about 50 µs a row for a wide table); this builds
    the statement text once per chunk and converts values with each field's ``db_value``, which is what
    bulk paths (imports, sweeps, assignment) need. Every row must have the same keys. RETURNING gives the
    ids in VALUES order on SQLite >= 3.35 and PostgreSQL.
    """
    if not rows:
        return []
    names = list(rows[0])
    fields = [model._meta.fields[name] for name in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    placeholder = database.obj.param
    one = "(" + ", ".join([placeholder] * len(fields)) + ")"
    table = model._meta.table_name
    suffix = f' RETURNING "{model._meta.primary_key.column_name}"' if returning else ""
    chunk = max(1, MAX_PARAMETERS // len(fields))
    ids = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        params = []
        for row in part:
            params.extend(field.db_value(row[name]) for name, field in zip(names, fields))
        sql = f'INSERT INTO "{table}" ({columns}) VALUES ' + ", ".join([one] * len(part)) + suffix
        cursor = database.execute_sql(sql, params)
        if returning:
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


class Slot(peewee.Node):
    """A named parameter of a :class:`Prepared` statement, bound at each execution.

    ``field`` (optional) converts the bound value the way that column stores it (``field.db_value``).
    """

    def __init__(self, name, field=None):
        self.name = name
        self.field = field

    def bind(self, value):
        return self.field.db_value(value) if self.field is not None else value

    def __sql__(self, ctx):
        # Appended as itself, whatever converter the surrounding expression set: Prepared binds it later.
        ctx._values.append(self)
        return ctx.literal(ctx.state.param or "?")


class ListSlot(Slot):
    """``IN <list>`` with the whole list bound as one parameter: a JSON array read by ``json_each`` on SQLite,
    an array on PostgreSQL. One short statement however many values (and one cached plan), instead of one
    placeholder per value."""

    def bind(self, value):
        values = list(value)
        return values if is_postgres() else json.dumps(values, ensure_ascii=False)

    def __sql__(self, ctx):
        ctx._values.append(self)
        return ctx.literal("= ANY(%s)" if is_postgres() else "IN (SELECT value FROM json_each(?))")


class IdSlot(ListSlot):
    """A :class:`ListSlot` of integer ids."""

    def bind(self, value):
        return super().bind(int(i) for i in value)


class Bound(Slot):
    """A :class:`Slot` that carries its value (for one-off queries built with the same nodes)."""

    def __init__(self, slot, value):
        super().__init__(slot.name, slot.field)
        self.slot, self.value = slot, value

    def __sql__(self, ctx):
        start = len(ctx._values)
        self.slot.__sql__(ctx)
        ctx._values[start] = self.slot.bind(self.value)
        return ctx


def in_ids(column, ids):
    """``column IN ids`` with the id list bound as one parameter (see :class:`IdSlot`)."""
    return peewee.NodeList((column, Bound(IdSlot("ids"), ids)))


def ids_in(column, name="ids"):
    """``column IN :name`` for a :class:`Prepared` statement (the slot binds a list of ids)."""
    return peewee.NodeList((column, IdSlot(name)))


class Prepared:
    """A peewee query compiled to SQL once per database dialect, then executed with new :class:`Slot` values.

    Hot single-row paths (a lead claim) spend most of their time in peewee turning expression trees into
    SQL — several times the cost of running the statements. ``build`` is a function returning the query; it
    runs at first use (so it may depend on the dialect, e.g. add ``FOR UPDATE`` on PostgreSQL).
    """

    def __init__(self, build):
        self._build = build
        self._compiled = {}

    def _sql(self):
        dialect = type(database.obj)
        compiled = self._compiled.get(dialect)
        if compiled is None:
            # Compiled in the database's own context: a bare Select is bound to no database, and would
            # otherwise come out with SQLite's "?" placeholders on PostgreSQL too.
            context = database.obj.get_sql_context()
            compiled = self._compiled[dialect] = context.sql(self._build()).query()
        return compiled

    def execute(self, **values):
        """Run the statement with ``values`` for its slots; returns the DB-API cursor."""
        sql, params = self._sql()
        bound = [param.bind(values[param.name]) if isinstance(param, Slot) else param for param in params]
        return database.execute_sql(sql, bound)

    def rows(self, **values):
        return self.execute(**values).fetchall()

    def first(self, **values):
        return self.execute(**values).fetchone()


def json_object_sql(*pairs):
    """A JSON object built by the database from ``(key, expression)`` pairs, as text (for a JSONField column)
    in INSERT ... SELECT statements, so set-based writes need not build each document in Python."""
    arguments = []
    for key, value in pairs:
        arguments.extend((peewee.Value(key), value))
    if is_postgres():
        return peewee.Cast(peewee.fn.json_build_object(*arguments), "TEXT")
    return peewee.fn.json_object(*arguments)
