"""Shared set-up for benchmarks: a fresh database per run, timing, and the report line."""

import argparse
import atexit
import contextlib
import os
import tempfile
import time

import kehu

DB_HELP = 'database URL, or "postgres" for a throwaway PostgreSQL cluster (default: a new SQLite file)'


def arguments(description, rows=2000):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=rows, help="rows to work on (default %(default)s)")
    parser.add_argument("--db", help=DB_HELP)
    return parser.parse_args()


def fresh_app(url=None):
    """A new database: a SQLite file in a temp directory by default; ``--db postgres`` starts a throwaway
    PostgreSQL cluster (the one the test suite uses), stopped when the benchmark exits."""
    if url is None:
        url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="kehu-bench-"), "bench.db")
    elif url == "postgres":
        url = throwaway_postgres()
    return kehu.connect(url)


def throwaway_postgres():
    from kehu.testing import PostgresServer, find_postgres_bindir

    bindir = find_postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    server = PostgresServer.start(bindir)
    atexit.register(server.stop)
    with contextlib.closing(server.connect()) as connection:
        connection.cursor().execute("CREATE DATABASE bench")
    return server.url("bench")


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def report(name, rows, baseline_seconds, kehu_seconds):
    ratio = kehu_seconds / baseline_seconds if baseline_seconds else float("inf")
    print(f"{name}: {rows} rows | raw SQL {baseline_seconds * 1000:.1f} ms | kehu {kehu_seconds * 1000:.1f} ms"
          f" | ratio {ratio:.2f}x")
    return ratio
