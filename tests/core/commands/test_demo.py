"""``kehu demo`` run as a real subprocess of the installed console script, on a fresh directory."""

import json
import shutil
import sqlite3
import subprocess

import pytest

KEHU = shutil.which("kehu")
pytestmark = pytest.mark.skipif(KEHU is None, reason="the kehu console script is not installed (pip install -e .)")


def run(directory, *args, env=None):
    return subprocess.run([KEHU, *args], cwd=directory, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("KEHU_DB", "KEHU_WORKSPACE", "KEHU_USER"):
        monkeypatch.delenv(name, raising=False)


def test_demo_builds_a_new_database_and_prints_a_tour(tmp_path, clean_env):
    done = run(tmp_path, "demo")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "kehu.db").exists()
    out = done.stdout
    assert "kehu demo: built workspace 'demo'" in out
    assert "rep li sees 3 of 6 customers" in out
    assert "refused (permission_denied" in out
    assert "leads: added 5 leads to the public pool 'public'" in out
    assert "Try next:" in out
    # The tour's promises hold in the database it made.
    listed = run(tmp_path, "--json", "-w", "demo", "--as", "li", "customer", "list")
    assert listed.returncode == 0, listed.stderr
    assert {c["owner"] for c in json.loads(listed.stdout)} == {"li"}
    inbox = json.loads(run(tmp_path, "--json", "-w", "demo", "--as", "li", "inbox").stdout)
    # The task reminder, and what the credit plugin's part of the tour told li (approval, over limit, overdue).
    assert sorted(n["kind"] for n in inbox) == ["credit_approval", "credit_over_limit", "credit_overdue",
                                               "task_due"]
    assert "credit: customer" in out and "late fees so far: 3200.00 yuan" in out
    assert "callcenter: li logged call 1" in out and "linked to calls [1]" in out
    assert "survey: customer" in out and "a follow-up task for its owner" in out


def test_demo_never_touches_an_existing_database_without_force(tmp_path, clean_env):
    existing = tmp_path / "kehu.db"
    existing.write_bytes(b"not a database of ours")
    done = run(tmp_path, "demo")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert existing.read_bytes() == b"not a database of ours"

    forced = run(tmp_path, "demo", "--force")
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(existing) as db:
        assert db.execute("SELECT name FROM workspace").fetchall() == [("demo",)]


def test_demo_json_is_one_document(tmp_path, clean_env):
    done = run(tmp_path, "--json", "--db", f"sqlite:///{tmp_path / 'other.db'}", "demo")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["workspace"] == "demo"
    assert len(result["tour"]) >= 8
    assert not (tmp_path / "kehu.db").exists()


def test_demo_on_postgresql_refuses_a_second_demo_workspace(kehu_postgres_url, tmp_path, clean_env):
    # A server database cannot be "a new file": the demo workspace itself is what it never overwrites.
    first = run(tmp_path, "--db", kehu_postgres_url, "demo")
    assert first.returncode == 0, first.stderr
    again = run(tmp_path, "--json", "--db", kehu_postgres_url, "demo")
    assert again.returncode == 1
    assert json.loads(again.stdout)["code"] == "conflict"
