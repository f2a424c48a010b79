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



@leads_group.command("assign")
@click.argument("ids", nargs=-1)
@click.option("--pool", help="Every in-pool lead of this pool (default: public); with IDS, only those in it.")
@click.option("--strategy", help="round_robin, region, load_balance, designated, special or a plugin's; "
                                 "without it, each lead by its pool's rules.")
@click.option("--to", "to_logins", help="LOGIN,...: the list (designated, special) or the only candidates.")
@click.option("--team", help="Org unit whose reps are the candidates (default: the pool's team, else everyone).")
@click.option("--dry-run", is_flag=True, help="Say who would get what; write nothing.")
@click.option("--explain", is_flag=True, help="Say which rule, route and turn placed each lead.")
@pass_context
def leads_assign(context, ids, pool, strategy, to_logins, team, dry_run, explain):
    """Give in-pool leads (IDS, or all of --pool) to reps, by a strategy or the pool's rules (manager or above)."""
    from kehu.plugins.leads.assignment import assign_leads

    emit(assign_leads(context, ids=list(ids), pool=pool, strategy=strategy, to=to_logins, team=team,
                      dry_run=dry_run, explain=explain), columns=["lead", "holder", "why"])


@leads_group.group("rules")
def rules_group():
    """Each pool's ordered assignment rules: condition (source/region/industry) → strategy, team, list."""


@rules_group.command("add")
@click.option("--pool", help="Pool name (default: public).")
@click.option("--source", help="Only leads from this source.")
@click.option("--region", help="Only leads of this region.")
@click.option("--industry", help="Only leads of this industry.")
@click.option("--strategy", required=True, help="The strategy for the leads it matches.")
@click.option("--team", help="Org unit whose reps receive them.")
@click.option("--to", "to_logins", help="LOGIN,...: the list (designated, special) or the only candidates.")
@click.option("--position", help="Insert at this place (1 = first; default: last).")
@pass_context
def rules_add(context, pool, source, region, industry, strategy, team, to_logins, position):
    """Add an assignment rule to a pool (manager or above)."""
    from kehu.plugins.leads.rules import add_rule

    emit(add_rule(context, strategy, pool=pool, source=source, region=region, industry=industry, team=team,
                  to=to_logins, position=position))


@rules_group.command("list")
@click.option("--pool", help="Only this pool's rules.")
@pass_context
def rules_list(context, pool):
    """The assignment rules, in the order they are tried."""
    from kehu.plugins.leads.rules import list_rules

    emit(list_rules(context, pool=pool), columns=["id", "pool", "position", "when", "strategy", "team", "to"])


@rules_group.command("remove")
@click.argument("rule_id")
@pass_context
def rules_remove(context, rule_id):
    """Remove assignment rule RULE_ID (manager or above)."""
    from kehu.plugins.leads.rules import remove_rule

    emit(remove_rule(context, rule_id))

@leads_group.command("import")
@click.argument("file")
@click.option("--pool", help="Pool the leads go to (default: public).")
@click.option("--dry-run", is_flag=True, help="Check every row and count; write nothing.")
@click.option("--errors", "errors_path", help="Write rejected rows here (default: FILE.errors.csv when any).")
@click.option("--on-duplicate", default="skip", show_default=True,
              help="skip, update or error: what to do with a row matching an existing lead.")
@click.option("--map", "mapping", multiple=True,
              help="'Header=field,...' and/or a preset: odoo, salesforce (repeatable).")
@pass_context
def leads_import(context, file, pool, dry_run, errors_path, on_duplicate, mapping):
    """Import leads from a CSV file (UTF-8, UTF-8 with BOM or GBK; English or Chinese headers)."""
    from kehu.core.console import State
    from kehu.plugins.leads.importer import import_leads, progress_display

    state = click.get_current_context().find_object(State)
    with progress_display(enabled=not (state is not None and state.json)) as progress:
        result = import_leads(context, file, pool=pool, dry_run=dry_run, errors=errors_path,
                              on_duplicate=on_duplicate, mapping=list(mapping), progress=progress)

    def human(r):
        text = (f"{'dry run, nothing written: ' if dry_run else ''}inserted {r['inserted']}, "
                f"updated {r['updated']}, skipped {r['skipped']}, rejected {r['rejected']}")
        if r["errors_file"] and r["rejected"]:
            text += f" (rows and reasons in {r['errors_file']})"
        if r["unmapped"]:
            text += "\nignored columns: " + ", ".join(r["unmapped"])
        return text

    emit(result, human=human)


@leads_group.command("dupes")
@list_options
@pass_context
def leads_dupes(context, limit, offset, csv_output):
    """Possible duplicates: leads and customers sharing a mobile, e-mail, fixed line or company name."""
    from kehu.plugins.leads.dupes import possible_duplicates

    emit(possible_duplicates(context, limit=limit, offset=offset), columns=["kind", "key", "leads", "customers"],
         csv_output=csv_output)


@leads_group.command("return-customer")
@click.argument("customer_id")
@click.option("--reason", required=True, help="Loss reason: 主动放弃, 主动离开 or 被挖走 (workspace picklist).")
@click.option("--pool", help="Pool name (default: public).")
@pass_context
def leads_return_customer(context, customer_id, reason, pool):
    """Put a lost or neglected customer back into a pool; whoever takes its lead owns it again."""
    emit(services.return_customer_to_pool(context, customer_id, reason, pool))


COMMANDS = [leads_group]
