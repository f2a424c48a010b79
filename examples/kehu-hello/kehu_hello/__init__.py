"""Greets every new customer: an example kehu plugin to copy."""

from pathlib import Path

from kehu import hookimpl
from kehu_hello import commands, services
from kehu_hello.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")


@hookimpl
def kehu_register_commands(cli):
    cli.add_command(commands.hello)


@hookimpl
def kehu_register_services(register):
    register("hello", {"greetings": services.list_greetings})


@hookimpl
def kehu_records_created(context, entity, records):
    # Fires after the customers are committed, and only in workspaces that enabled hello.
    if entity == "customer":
        services.greet(context, records)
