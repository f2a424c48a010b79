"""Shared set-up for benchmarks: a fresh database per run, timing, and the report line."""

import argparse
import os
import tempfile
import time

import kehu


def arguments(description, rows=2000):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=rows, help="rows to work on (default %(default)s)")
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temp directory)")
    return parser.parse_args()


def fresh_app(url=None):
    if url is None:
        url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="kehu-bench-"), "bench.db")
    return kehu.connect(url)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def report(name, rows, baseline_seconds, kehu_seconds):
    ratio = kehu_seconds / baseline_seconds if baseline_seconds else float("inf")
    print(f"{name}: {rows} rows | raw SQL {baseline_seconds * 1000:.1f} ms | kehu {kehu_seconds * 1000:.1f} ms"
          f" | ratio {ratio:.2f}x")
    return ratio
