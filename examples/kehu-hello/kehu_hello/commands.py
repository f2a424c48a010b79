"""``kehu hello ...``: kehu wraps these so they answer plugin_disabled where hello is off."""

import click

from kehu.core.console import emit, list_options, pass_context
from kehu_hello import services


@click.group()
def hello():
    """Greetings for new customers (example plugin)."""


@hello.command("greetings")
@list_options
@pass_context
def greetings(context, limit, offset, csv_output):
    """List this workspace's greetings, newest first."""
    emit(services.list_greetings(context, limit, offset), columns=["id", "customer", "message", "created_at"],
         csv_output=csv_output)
