"""pytest fixtures for kehu and its plugins: a fresh, migrated database for every test, on SQLite and PostgreSQL.

Enable them from a ``conftest.py`` (kehu's own tests do the same)::

    pytest_plugins = ["kehu.testing"]

Fixtures:

``kehu_app``
    ``kehu.connect(kehu_db_url)``: an open :class:`kehu.core.app.App`, closed after the test.
``kehu_db_url``
    The URL of a fresh, migrated database for this one test, once per backend named in ``KEHU_TEST_BACKENDS``
    (comma list, default ``sqlite,postgresql``); test ids end in ``[sqlite]`` / ``[postgresql]``.
``kehu_backend``
    ``"sqlite"`` or ``"postgresql"``: the backend of this test's ``kehu_db_url``. A test may narrow it with
    ``@pytest.mark.parametrize("kehu_backend", ["postgresql"], indirect=True)``.
``kehu_sqlite_url`` / ``kehu_postgres_url``
    The same on one backend only (e.g. a SQLite file for a subprocess test).
``postgres_server``
    The session's throwaway PostgreSQL cluster (:class:`PostgresServer`).

Every test that reaches PostgreSQL is marked ``postgres``, so ``-m "not postgres"`` leaves them out.

Speed: the schema is migrated once per session into a template, and every test gets a copy of it: a file copy
on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL.

PostgreSQL: the session starts its own cluster from the installed server binaries (``pg_config --bindir`` or
Debian's ``/usr/lib/postgresql/<major>/bin``, which is not on ``PATH``) in a private temporary directory,
listening only on a unix socket there, and removes it at the end; the package's default cluster is never
touched. As root (CI), the cluster runs as the ``postgres`` user, since ``initdb`` and ``postgres`` refuse to
run as root. Tests marked ``postgres`` are skipped when PostgreSQL or psycopg2 is missing, except under
``CI=true``, where that fails them.
"""

import contextlib
import glob
import importlib.util
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

import kehu

BACKENDS = ("sqlite", "postgresql")
BACKEND_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite"}
BACKENDS_ENV = "KEHU_TEST_BACKENDS"
SUPERUSER = "postgres"
TEMPLATE_DB = "kehu_template"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")

# Numbers the per-test databases of this session (kehu_test_1, kehu_test_2, ...).
_serial = itertools.count(1)


# --- configuration -----------------------------------------------------------------------------------


def selected_backends():
    """The backends named in ``KEHU_TEST_BACKENDS`` (default: all), in the order given."""
    raw = os.environ.get(BACKENDS_ENV, ",".join(BACKENDS))
    names = [BACKEND_ALIASES.get(n.strip().lower(), n.strip().lower()) for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise pytest.UsageError(f"{BACKENDS_ENV}={raw!r}: use a comma list of {', '.join(BACKENDS)}")
    return list(dict.fromkeys(names))


def in_ci():
    """True under ``CI=true`` (or ``CI=1``): a missing PostgreSQL is then a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _unavailable(reason):
    """Skip the test for a missing prerequisite; in CI, fail it (CI must run every backend)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run in CI)", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config):
    # Registered here, not only in kehu's setup.cfg, so plugin authors' --strict-markers runs accept it.
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (started by the test session)")
    selected_backends()  # a misspelled KEHU_TEST_BACKENDS stops the run at start, not per test


def _explicitly_parametrized(metafunc, name):
    """Whether the test parametrizes ``name`` itself (``@pytest.mark.parametrize("kehu_backend", ...)``)."""
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc):
    # Every test reaching kehu_backend (through kehu_db_url or kehu_app) runs once per selected backend.
    if "kehu_backend" not in metafunc.fixturenames or _explicitly_parametrized(metafunc, "kehu_backend"):
        return
    backends = selected_backends()
    metafunc.parametrize("kehu_backend", backends, ids=backends, indirect=True)


def _reaches_postgres(item):
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("kehu_backend") == "postgresql":
        return True
    return bool({"kehu_postgres_url", "postgres_server"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection, which reads the marks
def pytest_collection_modifyitems(items):
    for item in items:
        if _reaches_postgres(item):
            item.add_marker(pytest.mark.postgres)


# --- a throwaway PostgreSQL cluster ------------------------------------------------------------------


def _version_key(bindir):
    """``/usr/lib/postgresql/15/bin`` -> ``(15,)``, so the newest installed major comes first."""
    return tuple(int(part) for part in re.findall(r"\d+", Path(bindir).parent.name))


def find_postgres_bindir():
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None when PostgreSQL is not installed."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
        except OSError:
            done = None
        if done is not None and done.returncode == 0:
            candidates.append(done.stdout.strip())
    # Debian's layout; pg_config may come from libpq-dev alone and name a bindir without the server.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(os.path.dirname(os.path.realpath(pg_ctl)))
    for bindir in candidates:
        if all(os.access(os.path.join(bindir, tool), os.X_OK) for tool in SERVER_TOOLS):
            return bindir
    return None


def _free_port():
    # The server listens on no TCP port; the number only names its socket file (.s.PGSQL.<port>).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cluster_owner():
    """``subprocess`` keyword arguments that run the server tools as ``postgres`` when we are root.

    ``initdb`` and ``postgres`` refuse to run as root. ``subprocess``'s ``user``/``group`` do what
    ``su postgres -c ...`` would, without a shell to quote for and without depending on su/runuser.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return {}
    import pwd

    try:
        owner = pwd.getpwnam(SUPERUSER)
    except KeyError:
        _unavailable(f"running as root, but there is no {SUPERUSER!r} user to run PostgreSQL as")
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _server_settings(socket_dir, port):
    quoted = socket_dir.replace("'", "''")
    return (
        "\n# kehu.testing: reachable only through its own socket directory\n"
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{quoted}'\n"
        f"port = {port}\n"
        "# a throwaway cluster needs no durability, and CREATE DATABASE is much faster without it\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
    )


class PostgresServer:
    """A running throwaway PostgreSQL cluster; superuser ``postgres`` connects through a unix socket, no password.

    Everything lives in :attr:`directory` (a ``mkdtemp`` directory, owned by ``postgres`` when we are root;
    pytest's own temp dirs are mode 0700 under root's, out of that user's reach): the data directory ``data``,
    the socket and ``server.log``.
    """

    def __init__(self, bindir, directory, port, owner):
        self.bindir = bindir
        self.directory = directory
        self.port = port
        self.user = SUPERUSER
        self._owner = owner

    @property
    def data_directory(self):
        return os.path.join(self.directory, "data")

    @property
    def log_file(self):
        return os.path.join(self.directory, "server.log")

    @classmethod
    def start(cls, bindir):
        """initdb a new cluster in a new temporary directory and start it; remove it all again on failure."""
        owner = _cluster_owner()
        directory = tempfile.mkdtemp(prefix="kehu-pg-")
        server = cls(bindir, directory, _free_port(), owner)
        try:
            if owner:
                os.chown(directory, owner["user"], owner["group"])
            server._run("initdb", "-D", server.data_directory, "-A", "trust", "-U", SUPERUSER,
                        "-E", "UTF8", "--no-locale", "--no-sync")
            with open(os.path.join(server.data_directory, "postgresql.conf"), "a", encoding="utf-8") as conf:
                conf.write(_server_settings(directory, server.port))
            server._run("pg_ctl", "-D", server.data_directory, "-l", server.log_file, "-w", "-t", "60", "start")
        except BaseException:
            with contextlib.suppress(Exception):  # keep the original error, not a failed cleanup's
                server.stop()
            raise
        return server

    def stop(self):
        """Stop the server (if it runs) and delete the cluster directory."""
        try:
            if os.path.exists(os.path.join(self.data_directory, "postmaster.pid")):
                self._run("pg_ctl", "-D", self.data_directory, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, tool, *args):
        command = [os.path.join(self.bindir, tool), *args]
        # cwd: the tools must be able to enter it as the postgres user (root's cwd may be /root, mode 0700).
        done = subprocess.run(command, cwd=self.directory, capture_output=True, text=True, timeout=120,
                              **self._owner)
        if done.returncode != 0:
            log = ""
            if os.path.exists(self.log_file):
                log = "\nserver.log:\n" + Path(self.log_file).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}")

    def url(self, dbname):
        """A kehu/peewee URL for ``dbname``: ``postgresql://postgres@/DB?host=SOCKET_DIR&port=PORT``.

        ``playhouse.db_url`` passes query parameters to psycopg2 as connect arguments, and libpq reads a
        ``host`` starting with ``/`` as a socket directory (a path in the netloc would be lower-cased).
        """
        query = urlencode({"host": self.directory, "port": self.port}, safe="/")
        return f"postgresql://{self.user}@/{dbname}?{query}"

    def connect(self, dbname="postgres"):
        """A psycopg2 connection in autocommit mode (CREATE and DROP DATABASE refuse to run in a transaction)."""
        import psycopg2

        connection = psycopg2.connect(dbname=dbname, user=self.user, host=self.directory, port=self.port)
        connection.autocommit = True
        return connection


@pytest.fixture(scope="session")
def postgres_server():
    """The session's throwaway PostgreSQL cluster (:class:`PostgresServer`), stopped and removed at the end.

    Skips when ``KEHU_TEST_BACKENDS`` leaves PostgreSQL out, and when PostgreSQL or psycopg2 is missing
    (under ``CI=true`` a missing one fails instead).
    """
    if "postgresql" not in selected_backends():
        pytest.skip(f"postgresql is not in {BACKENDS_ENV}")
    bindir = find_postgres_bindir()
    if bindir is None:
        _unavailable("PostgreSQL is not installed: no initdb/pg_ctl/postgres from pg_config --bindir, "
                     "/usr/lib/postgresql/*/bin or PATH (Debian: apt-get install postgresql)")
    # Only looked for here (and imported where used), so kehu.testing works without psycopg2.
    if importlib.util.find_spec("psycopg2") is None:
        _unavailable("psycopg2 is not installed (pip install 'kehu[test]')")
    server = PostgresServer.start(bindir)
    try:
        yield server
    finally:
        server.stop()


# --- migrated templates, cloned per test -------------------------------------------------------------


def sqlite_url(path):
    return f"sqlite:///{Path(path).resolve()}"


class SqliteTemplate:
    """A SQLite file migrated once per session; each test gets a copy of the file."""

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def create(cls, directory):
        path = Path(directory) / "template.db"
        app = kehu.connect(sqlite_url(path))  # migrates on first use
        try:
            # Fold the WAL into the main file, so copying that one file copies the whole database.
            app.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            app.close()
        return cls(path)

    def clone(self, target):
        shutil.copyfile(self.path, target)
        return sqlite_url(target)


class PostgresTemplate:
    """A database ``kehu_template`` migrated once per session; each test gets ``CREATE DATABASE ... TEMPLATE`` of it."""

    def __init__(self, server):
        self.server = server
        self.admin = server.connect()  # one autocommit session on "postgres" for every CREATE/DROP

    @classmethod
    def create(cls, server):
        template = cls(server)
        template._execute(f"CREATE DATABASE {TEMPLATE_DB}")
        kehu.connect(server.url(TEMPLATE_DB)).close()  # migrates on first use
        # Cloning fails while anyone is connected to the template: close the door, then clear the room.
        template._execute(f"ALTER DATABASE {TEMPLATE_DB} WITH ALLOW_CONNECTIONS false")
        template._disconnect(TEMPLATE_DB)
        return template

    def clone(self, name):
        # PostgreSQL 15 copies through the WAL by default, page by page; for a small template copying the
        # files was never slower here, and up to four times faster (30 against 120 ms on an idle machine).
        # Before 15, file copy was the only way.
        strategy = " STRATEGY FILE_COPY" if self.admin.server_version >= 150000 else ""
        self._execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}{strategy}")
        return self.server.url(name)

    def drop(self, name):
        self._disconnect(name)  # a test may leave a connection open; DROP DATABASE would refuse
        self._execute(f"DROP DATABASE IF EXISTS {name}")

    def close(self):
        self.admin.close()

    def _disconnect(self, name):
        self._execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))

    def _execute(self, statement, params=None):
        # Names here are this module's own (kehu_template, kehu_test_<n>), never user input.
        with self.admin.cursor() as cursor:
            cursor.execute(statement, params)


@pytest.fixture(scope="session")
def kehu_sqlite_template(tmp_path_factory):
    """The session's migrated SQLite template (:class:`SqliteTemplate`)."""
    return SqliteTemplate.create(tmp_path_factory.mktemp("kehu-template"))


@pytest.fixture(scope="session")
def kehu_postgres_template(postgres_server):
    """The session's migrated PostgreSQL template database (:class:`PostgresTemplate`)."""
    template = PostgresTemplate.create(postgres_server)
    try:
        yield template
    finally:
        template.close()


def _fresh_database(request, backend):
    """Yield the URL of a new copy of the session's template on ``backend``, and drop the copy afterwards."""
    if backend not in selected_backends():
        pytest.skip(f"{backend} is not in {BACKENDS_ENV}")
    name = f"kehu_test_{next(_serial)}"
    if backend == "sqlite":
        template = request.getfixturevalue("kehu_sqlite_template")
        yield template.clone(request.getfixturevalue("tmp_path") / f"{name}.db")  # pytest cleans tmp_path
        return
    # Looked up lazily, so a run without PostgreSQL tests never starts a server.
    template = request.getfixturevalue("kehu_postgres_template")
    url = template.clone(name)
    try:
        yield url
    finally:
        template.drop(name)


# --- the fixtures tests use --------------------------------------------------------------------------


@pytest.fixture
def kehu_backend(request):
    """``"sqlite"`` or ``"postgresql"``: the backend of this test's database (one run per ``KEHU_TEST_BACKENDS``)."""
    return request.param


@pytest.fixture
def kehu_db_url(request, kehu_backend):
    """The URL of a fresh, migrated database for this one test; the test runs once per selected backend."""
    yield from _fresh_database(request, kehu_backend)


@pytest.fixture
def kehu_sqlite_url(request):
    """The URL of a fresh, migrated SQLite file (``sqlite:////abs/path.db``) for this test."""
    yield from _fresh_database(request, "sqlite")


@pytest.fixture
def kehu_postgres_url(request):
    """The URL of a fresh, migrated PostgreSQL database for this test (see :meth:`PostgresServer.url`)."""
    yield from _fresh_database(request, "postgresql")


@pytest.fixture
def kehu_app(kehu_db_url):
    """``kehu.connect(kehu_db_url)``: an open App on a fresh database, closed after the test."""
    app = kehu.connect(kehu_db_url)
    yield app
    app.close()


@pytest.fixture
def kehu_connect_with(kehu_app):
    """``kehu_connect_with(plugins=[(name, obj)])``: another ``kehu.connect`` on the test's database.

    Use it to try a plugin object without installing a package. kehu's models bind to one database proxy,
    so at teardown every extra app is closed and the proxy is handed back to ``kehu_app``.
    """
    from kehu.core.db import database

    opened = []

    def open_app(plugins=()):
        app = kehu.connect(kehu_app.url, plugins=plugins)
        opened.append(app)
        return app

    yield open_app
    for app in opened:
        app.close()
    database.initialize(kehu_app.db)


class KehuCli:
    """Runs ``kehu --db URL [-w WS] [--as USER] [--now T] [--json] ARGS`` in-process, as a user would.

    ``workspace``, ``user`` and ``now`` are defaults every call may override (``as_=``, ``w=``, ``now=``).
    Each call builds a fresh root group and hands kehu's database proxy back to ``app`` afterwards (the
    command opened its own App on the same database).
    """

    def __init__(self, app, workspace=None, user=None, now=None):
        self.app = app
        self.workspace, self.user, self.now = workspace, user, now

    def run(self, *args, as_=..., w=..., now=..., json_mode=False):
        from click.testing import CliRunner

        from kehu.cli import make_cli
        from kehu.core.db import database

        as_ = self.user if as_ is ... else as_
        w = self.workspace if w is ... else w
        now = self.now if now is ... else now
        argv = ["--db", self.app.url]
        for option, value in (("-w", w), ("--as", as_), ("--now", now)):
            if value:
                argv += [option, value]
        if json_mode:
            argv.append("--json")
        try:
            return CliRunner().invoke(make_cli(), argv + [str(a) for a in args], catch_exceptions=False)
        finally:
            database.initialize(self.app.db)

    def ok(self, *args, **options):
        """Exit 0 with exactly one JSON document on stdout and nothing on stderr; returns the document."""
        result = self.run(*args, json_mode=True, **options)
        assert result.exit_code == 0, (args, result.output)
        assert result.stderr == "", result.stderr
        return json.loads(result.stdout)

    def text(self, *args, **options):
        """Exit 0 without ``--json``; returns stdout."""
        result = self.run(*args, **options)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output
        return result.stdout

    def fails(self, *args, code="invalid", **options):
        """Error ``code``: exit 1 with one JSON object ``{"error", "code"}``, and one ``Error: ...`` line without
        ``--json``; no traceback either way. Returns the message."""
        result = self.run(*args, json_mode=True, **options)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        payload = json.loads(result.stdout)
        assert set(payload) == {"error", "code"} and payload["code"] == code, (args, payload)
        assert payload["error"].strip() and "\n" not in payload["error"]
        result = self.run(*args, **options)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == "" and "Traceback" not in result.output
        assert result.stderr.splitlines() == [f"Error: {payload['error']}"], result.stderr
        return payload["error"]

    def usage(self, *args, **options):
        """A usage error: exit 2, and ``{"code": "usage"}`` with ``--json``."""
        result = self.run(*args, json_mode=True, **options)
        assert result.exit_code == 2, (args, result.output)
        assert json.loads(result.stdout)["code"] == "usage"


# --- plugin rules that get in the way of unrelated tests ------------------------------------------------------


def without_source_rule(handle):
    """Switch off the call center's rule that a rep entering a customer or lead by hand must choose a source
    (``source_required_for_roles``) in ``handle``'s workspace — for tests of other rules, whose reps type bare
    records. ``handle`` acts as a gm or admin; a workspace without the callcenter plugin is left as it is."""
    if handle.context.plugin_enabled("callcenter"):
        handle.calls.settings_set({"source_required_for_roles": []})
