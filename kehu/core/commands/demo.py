"""``kehu demo``: build a demo database and print a short tour."""

import os
from urllib.parse import urlparse

import click

from kehu.core.console import emit, pass_state
from kehu.core.db import resolve_url
from kehu.core.demo import DEMO_WORKSPACE, build_demo
from kehu.core.models import Workspace
from kehu.errors import Conflict


def _sqlite_path(url):
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        return None
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parsed.path
    return None if path in ("", ":memory:") else path


@click.command("demo")
@click.option("--force", is_flag=True, help="Replace an existing demo database (or demo workspace).")
@pass_state
def demo(state, force):
    """Create a demo database (default ./kehu.db) with sample data across the enabled plugins, and tour it."""
    url = resolve_url(state.db)
    path = _sqlite_path(url)
    if path and os.path.exists(path):
        if not force:
            raise Conflict(f"{path} already exists; kehu demo never touches an existing database "
                           "(pass --force to replace it, or --db sqlite:///other.db)")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    state.db = url
    app = state.app
    existing = Workspace.get_or_none(Workspace.name == DEMO_WORKSPACE)
    if existing is not None:
        if not force:
            raise Conflict(f"this database already has a '{DEMO_WORKSPACE}' workspace (pass --force to rebuild it)")
        existing.delete_instance()
    tour = build_demo(app, state.now_in("Asia/Shanghai"))
    result = {"database": url, "workspace": DEMO_WORKSPACE, "tour": tour}

    def human(data):
        lines = [f"kehu demo: built workspace '{DEMO_WORKSPACE}' in {data['database']}", ""]
        lines += [f"  {n}. {line}" for n, line in enumerate(data["tour"], 1)]
        db_option = "" if url == resolve_url(None) else f" --db {url}"
        lines += ["", "Try next:",
                  f"  kehu{db_option} -w demo --as li customer list        # what rep li sees",
                  f"  kehu{db_option} -w demo --as zhang customer list     # what the GM sees",
                  f"  kehu{db_option} -w demo --as li inbox                # li's reminders",
                  f"  kehu{db_option} -w demo --as admin events --limit 10 # the audit trail",
                  f"  kehu{db_option} -w demo --as admin plugins list      # plugins enabled here"]
        return "\n".join(lines)

    emit(result, human=human)


COMMANDS = [demo]
