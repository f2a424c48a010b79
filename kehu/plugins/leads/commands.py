"""``kehu leads ...`` commands."""

import click

from kehu.core.console import emit, list_options, pass_context
from kehu.plugins.leads import services

LEAD_COLUMNS = ["id", "name", "company", "phone", "region", "source", "pool", "state", "holder"]


@click.group("leads")
def leads_group():
    """Lead pools (公海): add, claim, release, transfer, follow up, convert, assign, sweep, import."""


@leads_group.group("pool")
def pool_group():
    """Lead pools and their rules."""


def rule_options(function):
    for option, text in reversed([
            ("--max-held", "Most leads a rep may hold at once (0 = no limit)."),
            ("--daily-claims", "Most self-claims per rep per day, workspace time (0 = no limit)."),
            ("--protect-days", "Recycle a held lead not converted within N days (0 = off)."),
            ("--followup-days", "Recycle a held lead with no follow-up for N days (0 = off)."),
            ("--warn-days", "Warn the holder N days before either deadline (0 = off)."),
            ("--cooldown-hours", "Hours before a previous holder may claim the lead again (0 = off)."),
            ("--team", "Only this org unit's reps use the pool.")]):
        function = click.option(option, help=text)(function)
    return function


@pool_group.command("create")
@click.argument("name")
@rule_options
@pass_context
def pool_create(context, name, **rules):
    """Create pool NAME (rules not given take the defaults)."""
    emit(services.create_pool(context, name, **rules))


@pool_group.command("set")
@click.argument("name")
@rule_options
@pass_context
def pool_set(context, name, **rules):
    """Change pool NAME's rules; options not given keep their values."""
    emit(services.set_pool(context, name, **rules))


@pool_group.command("list")
@pass_context
def pool_list(context):
    """The pools and their rules."""
    emit(services.list_pools(context))


@leads_group.command("add")
@click.option("--name", required=True)
@click.option("--company")
@click.option("--phone")
@click.option("--email")
@click.option("--region")
@click.option("--industry")
@click.option("--source")
@click.option("--pool", help="Pool name (default: public).")
@click.option("--owner", help="Hold it for this user from the start.")
@pass_context
def leads_add(context, **fields):
    """Add a lead to a pool (or to --owner's hands)."""
    emit(services.add_lead(context, **fields))


@leads_group.command("list")
@click.option("--pool")
@click.option("--mine", is_flag=True, help="Only leads you hold.")
@click.option("--state", help="in_pool, held or converted.")
@click.option("--holder")
@list_options
@pass_context
def leads_list(context, limit, offset, csv_output, **filters):
    """Leads you may see: your own, your scope's, and the pools you may claim from."""
    emit(services.list_leads(context, limit=limit, offset=offset, **filters), columns=LEAD_COLUMNS,
         csv_output=csv_output)


@leads_group.command("show")
@click.argument("lead_id")
@pass_context
def leads_show(context, lead_id):
    """One lead."""
    emit(services.show_lead(context, lead_id))


@leads_group.command("claim")
@click.argument("lead_id")
@pass_context
def leads_claim(context, lead_id):
    """Claim a lead from its pool."""
    emit(services.claim_lead(context, lead_id))


@leads_group.command("release")
@click.argument("lead_id")
@click.option("--reason", help="Why you give it back.")
@pass_context
def leads_release(context, lead_id, reason):
    """Give a lead back to its pool."""
    emit(services.release_lead(context, lead_id, reason))


@leads_group.command("transfer")
@click.argument("lead_id")
@click.option("--to", "to_login", required=True)
@pass_context
def leads_transfer(context, lead_id, to_login):
    """Give a lead to another user (manager or above)."""
    emit(services.transfer_lead(context, lead_id, to_login))


@leads_group.command("follow-up")
@click.argument("lead_id")
@click.option("--notes", required=True)
@click.option("--kind", default="call", show_default=True, help="call, visit or note.")
@pass_context
def leads_follow_up(context, lead_id, notes, kind):
    """Log a follow-up (restarts the follow-up clock)."""
    emit(services.follow_up_lead(context, lead_id, notes, kind))


@leads_group.command("convert")
@click.argument("lead_id")
@pass_context
def leads_convert(context, lead_id):
    """Convert a lead into a customer (links an existing one with the same mobile or e-mail)."""
    emit(services.convert_lead(context, lead_id))


@leads_group.command("history")
@click.argument("lead_id")
@pass_context
def leads_history(context, lead_id):
    """The lead's ownership timeline."""
    emit(services.lead_history(context, lead_id), columns=["at", "from", "to", "reason", "by", "note"])


@leads_group.command("sweep")
@pass_context
def leads_sweep(context):
    """Recycle leads past a deadline and send due warnings (also run by `kehu tick`)."""
    emit(services.sweep(context), human=lambda r: f"recycled {r['recycled']}, warned {r['warned']}")


COMMANDS = [leads_group]
