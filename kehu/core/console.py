"""What CLI commands share: the invocation state, the workspace context, output and error reporting.

Plugin commands use :func:`pass_context` and :func:`emit` exactly like core's own commands.
"""

import csv
import functools
import io
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import click

from kehu.core.timeutil import parse_instant, zone
from kehu.errors import Invalid, KehuError


class State:
    """Global options of one invocation, and the app and context opened lazily from them."""

    def __init__(self, db=None, workspace=None, user=None, json_output=False, now=None, pm=None):
        self.db = db
        self.workspace_name = workspace
        self.user_login = user
        self.json = json_output
        self.now_text = now
        self.pm = pm
        self.auto_upgrade = True  # commands migrate a new database on first use; `kehu db` commands don't
        self._app = None
        self._context = None

    @property
    def app(self):
        if self._app is None:
            from kehu.core.app import App

            self._app = App.open(self.db, plugin_manager=self.pm, upgrade=self.auto_upgrade)
        return self._app

    def now_in(self, timezone):
        """``--now`` as aware UTC, reading a zoneless value in ``timezone``; ``None`` for the real clock."""
        if self.now_text is None:
            return None
        return parse_instant(self.now_text, zone(timezone), "--now")

    @property
    def context(self):
        """The workspace context: ``-w`` (or ``KEHU_WORKSPACE``) acting as ``--as`` (or ``KEHU_USER``)."""
        if self._context is None:
            if not self.workspace_name:
                raise Invalid("no workspace: pass -w NAME or set KEHU_WORKSPACE")
            handle = self.app.workspace(self.workspace_name, user=self.user_login)
            handle.context.clock = self.now_in(handle.context.workspace.timezone)
            self._context = handle.context
        return self._context

    def close(self):
        if self._app is not None:
            self._app.close()


def pass_context(function):
    """Call the command with the workspace :class:`~kehu.core.context.Context` as its first argument."""

    @click.pass_obj
    @functools.wraps(function)
    def run(state, /, *args, **kwargs):  # positional-only: a command may have an option named "state"
        return function(state.context, *args, **kwargs)

    return run


def pass_state(function):
    return click.pass_obj(function)


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):  # datetimes, dates and times: ISO-8601, as the views give them
        return value.isoformat()
    return str(value)


def to_json(data):
    return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)


def render_table(rows, columns):
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_plain(row.get(c)) for c in columns))
    buffer = io.StringIO()
    Console(file=buffer, width=max(100, min(240, 30 * len(columns))), color_system=None).print(table)
    return buffer.getvalue().rstrip("\n")


def emit(data, columns=None, human=None, csv_output=False):
    """Print a result: one JSON document with ``--json``, CSV with ``--csv``, else a table or lines.

    ``columns`` picks and orders table columns for lists; ``human(data)`` returns custom text.
    """
    state = click.get_current_context().find_object(State)
    if state is not None and state.json:
        click.echo(to_json(data))
        return
    if csv_output and isinstance(data, list):
        click.echo(to_csv(data, columns), nl=False)
        return
    if human is not None:
        click.echo(human(data))
        return
    if isinstance(data, list):
        if not data:
            click.echo("(none)")
            return
        columns = columns or [k for k, v in data[0].items() if not isinstance(v, (dict, list))]
        click.echo(render_table(data, columns))
        return
    if isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            click.echo(f"{key.ljust(width)}  {_plain(value)}")
        return
    click.echo(_plain(data))


def to_csv(rows, columns=None):
    columns = columns or (list(rows[0].keys()) if rows else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_plain(row.get(c)) for c in columns])
    return buffer.getvalue()


def list_options(function):
    """``--limit N`` (default 100, 0 = all), ``--offset N`` and ``--csv`` for a list command."""
    function = click.option("--csv", "csv_output", is_flag=True, help="Print CSV (for export).")(function)
    function = click.option("--offset", default="0", help="Skip this many rows.")(function)
    function = click.option("--limit", default="100", help="At most this many rows (0 = no limit).")(function)
    return function


def page(rows, limit, offset):
    """Apply ``--limit``/``--offset`` to a list a service returned whole (small catalogues only)."""
    from kehu.core.schemas import listing_bounds

    limit, offset = listing_bounds(limit, offset)
    return rows[offset:offset + limit] if limit else rows[offset:]


def error_payload(message, code):
    return {"error": message, "code": code}


def report_error(json_mode, message, code, exit_code=1):
    """Print one error (a JSON object on stdout with ``--json``, else ``Error: ...`` on stderr) and exit."""
    message = " ".join(str(message).split())  # always one line
    if json_mode:
        click.echo(to_json(error_payload(message, code)))
    else:
        click.echo(f"Error: {message}", err=True)
    sys.exit(exit_code)


def debug_tracebacks():
    return os.environ.get("KEHU_DEBUG", "") not in ("", "0")


def kehu_error_exit(json_mode, exc: KehuError):
    report_error(json_mode, exc.message, exc.code)


def read_json_file(file, what):
    """The JSON document in ``file`` (UTF-8, a BOM allowed) for a command option, or ``invalid`` saying what is
    wrong with it — never a traceback for a missing, binary or malformed file."""
    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise Invalid(f"cannot read {what} file {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise Invalid(f"the {what} file {file} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"the {what} file is not JSON: {file} is not valid JSON ({exc.msg}, line {exc.lineno})") \
            from None
