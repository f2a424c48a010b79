"""The ``kehu`` command: global options, error reporting, core commands and plugin commands.

Plugins add commands through ``kehu_register_commands``; core wraps each one so it answers
``plugin_disabled`` in a workspace where its plugin is off. A plugin that fails to import is listed by
``kehu plugins list`` with its error instead of breaking the CLI.
"""

import datetime
import logging
import sys
import traceback

import click
import peewee

from kehu import __version__
from kehu.core import console
from kehu.core.plugins import call_each, make_plugin_manager
from kehu.core.timeutil import parse_instant
from kehu.errors import KehuError

log = logging.getLogger(__name__)


def _owned_by(plugin, command):
    """Wrap ``command`` (and its subcommands) so it first checks that ``plugin`` is enabled here."""
    # Mounted again by every make_cli(): wrap the plugin's own callback, never an earlier wrapper.
    original = getattr(command, "kehu_original_callback", command.callback)
    command.kehu_original_callback = original

    def check_then_run(*args, **kwargs):
        state = click.get_current_context().find_object(console.State)
        state.context.require_plugin(plugin)
        if original is not None:
            return original(*args, **kwargs)
        return None

    command.callback = check_then_run
    command.kehu_plugin = plugin
    for sub in getattr(command, "commands", {}).values():
        _owned_by(plugin, sub)


class KehuGroup(click.Group):
    """The root group: mounts plugin commands on first use and reports every error in one line."""

    def __init__(self, *args, plugin_manager=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._pm = plugin_manager
        self._mounted = False

    @property
    def pm(self):
        if self._pm is None:
            self._pm = make_plugin_manager()
        return self._pm

    def mount_plugins(self):
        if self._mounted:
            return
        self._mounted = True

        def arguments_for(plugin):
            class Recorder:
                """The ``cli`` a plugin receives: add_command records which plugin owns the command."""

                def add_command(inner, command, name=None):
                    taken = name or command.name
                    if taken in self.commands:
                        log.warning("plugin %s tried to add command %r, which exists; ignored", plugin, taken)
                        return
                    self.add_command(command, name)
                    if plugin != "core":
                        _owned_by(plugin, command)

                def command(inner, *args, **kwargs):
                    def decorate(function):
                        cmd = click.command(*args, **kwargs)(function)
                        inner.add_command(cmd)
                        return cmd
                    return decorate

                def group(inner, *args, **kwargs):
                    def decorate(function):
                        grp = click.group(*args, **kwargs)(function)
                        inner.add_command(grp)
                        return grp
                    return decorate

            return {"cli": Recorder()}

        call_each(self.pm, "kehu_register_commands", arguments_for)

    def list_commands(self, ctx):
        self.mount_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self.mount_plugins()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit as exc:  # click's non-standalone main() would drop this exit code
            sys.exit(exc.exit_code)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        json_mode = "--json" in args
        try:
            try:
                super().main(args, prog_name or "kehu", complete_var, standalone_mode=False, **extra)
            finally:
                state = getattr(self, "_last_state", None)
                if state is not None:
                    state.close()
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.UsageError as exc:
            if json_mode:
                console.report_error(True, exc.format_message(), "usage", exit_code=2)
            exc.show()
            sys.exit(2)
        except click.exceptions.Abort:
            console.report_error(json_mode, "aborted", "aborted")
        except KehuError as exc:
            console.report_error(json_mode, exc.message, exc.code)
        except peewee.IntegrityError as exc:
            console.report_error(json_mode, f"conflicts with stored data ({exc})", "conflict")
        except peewee.DatabaseError as exc:
            console.report_error(json_mode, f"database error: {exc}", "database")
        except (KeyboardInterrupt, BrokenPipeError):
            sys.exit(130)
        except Exception as exc:  # never a traceback unless asked for
            if console.debug_tracebacks():
                traceback.print_exc()
            console.report_error(json_mode, f"internal error: {type(exc).__name__}: {exc} "
                                            "(set KEHU_DEBUG=1 for the traceback)", "internal")
        sys.exit(0)


def make_cli(plugin_manager=None):
    """Build the root ``kehu`` group (a fresh one per call, so tests never share plugin state)."""

    @click.group(cls=KehuGroup, plugin_manager=plugin_manager,
                 context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
    @click.version_option(__version__, prog_name="kehu")
    @click.option("--db", envvar="KEHU_DB", help="Database URL (default sqlite:///kehu.db; env KEHU_DB).")
    @click.option("-w", "--workspace", envvar="KEHU_WORKSPACE", help="Workspace name (env KEHU_WORKSPACE).")
    @click.option("--as", "acting_user", envvar="KEHU_USER", help="Act as this user (env KEHU_USER).")
    @click.option("--json", "json_output", is_flag=True, help="Print one JSON document on stdout.")
    @click.option("--now", help="The clock for time-dependent operations (ISO-8601; zoneless = workspace time).")
    @click.pass_context
    def cli(ctx, db, workspace, acting_user, json_output, now):
        """kehu (客户): a headless CRM framework — lead pools, credit, call center, surveys, industry packs."""
        if now is not None:  # a clock that cannot be read is bad input on every command
            parse_instant(now, datetime.timezone.utc, "--now")
        state = console.State(db, workspace, acting_user, json_output, now, pm=ctx.command.pm)
        ctx.command._last_state = state
        ctx.obj = state

    from kehu.core.commands import register_core_commands

    register_core_commands(cli)
    return cli


cli = make_cli()


def main():
    cli.main()
