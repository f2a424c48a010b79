"""Record commands: customer, contact, opportunity, activity, events, inbox, tick, reports."""

import click

from kehu.core.console import emit, list_options, pass_context, pass_state, render_table
from kehu.core.services import activities, contacts, customers, opportunities, records, reports
from kehu.errors import Invalid

CUSTOMER_COLUMNS = ["id", "name", "phone", "region", "industry", "source", "owner", "parent"]


def parse_fields(pairs):
    """``--field key=value`` options as a dict; ``key=`` clears the field on update."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise Invalid(f"--field takes key=value, not {pair!r}")
        out[key.strip()] = value
    return out


def customer_options(function):
    for name, text in reversed([("--phone", "Phone number."), ("--email", "E-mail address."),
                                ("--region", "Region (地区)."), ("--industry", "Industry (行业)."),
                                ("--source", "Source (资料来源)."), ("--owner", "Owner's login."),
                                ("--parent", "Parent customer id (a tree of at most 4 levels).")]):
        function = click.option(name, help=text)(function)
    return click.option("--field", "field_pairs", multiple=True, metavar="KEY=VALUE",
                        help="A custom field value (repeatable).")(function)


@click.group("customer")
def customer_group():
    """Customers: add, list, show, update, transfer, delete."""


@customer_group.command("add")
@click.option("--name", required=True, help="Customer name (客户名称).")
@customer_options
@pass_context
def customer_add(context, name, field_pairs, **fields):
    """Add a customer (owned by you unless --owner)."""
    emit(customers.create_customer(context, name=name, custom=parse_fields(field_pairs), **fields))


@customer_group.command("list")
@click.option("--owner")
@click.option("--region")
@click.option("--industry")
@click.option("--source")
@click.option("--parent")
@click.option("--search", help="Match name, phone or e-mail.")
@list_options
@pass_context
def customer_list(context, limit, offset, csv_output, **filters):
    """Customers you may see."""
    emit(customers.list_customers(context, limit=limit, offset=offset, **filters), columns=CUSTOMER_COLUMNS,
         csv_output=csv_output)


@customer_group.command("show")
@click.argument("customer_id")
@pass_context
def customer_show(context, customer_id):
    """One customer with its contacts and tree."""
    emit(customers.show_customer(context, customer_id))


@customer_group.command("update")
@click.argument("customer_id")
@click.option("--name")
@customer_options
@pass_context
def customer_update(context, customer_id, name, field_pairs, **fields):
    """Change a customer's fields (--parent 0 detaches it from its parent)."""
    patch = {k: v for k, v in fields.items() if v is not None}
    if name is not None:
        patch["name"] = name
    if field_pairs:
        patch["custom"] = parse_fields(field_pairs)
    emit(customers.update_customer(context, customer_id, **patch))


@customer_group.command("transfer")
@click.argument("customer_ids", nargs=-1, required=True)
@click.option("--to", "to_login", required=True, help="The new owner's login.")
@click.option("--reason", default="transfer", show_default=True)
@pass_context
def customer_transfer(context, customer_ids, to_login, reason):
    """Give customers to another user (manager or above)."""
    emit(customers.transfer_customers(context, list(customer_ids), to_login, reason))


@customer_group.command("delete")
@click.argument("customer_id")
@pass_context
def customer_delete(context, customer_id):
    """Delete a customer (not allowed to reps)."""
    emit(customers.delete_customer(context, customer_id), human=lambda r: f"deleted customer {r['id']}")


@click.group("contact")
def contact_group():
    """Contacts of customers."""


@contact_group.command("add")
@click.option("--customer", "customer_id", required=True)
@click.option("--name", required=True)
@click.option("--title")
@click.option("--role", help="handler, coach, executive, supporter, influencer ...")
@click.option("--phone")
@click.option("--email")
@pass_context
def contact_add(context, customer_id, name, title, role, phone, email):
    """Add a contact to a customer."""
    emit(contacts.add_contact(context, customer_id, name, title, role, phone, email))


@contact_group.command("list")
@click.option("--customer", "customer_id", required=True)
@list_options
@pass_context
def contact_list(context, customer_id, limit, offset, csv_output):
    """A customer's contacts."""
    emit(contacts.list_contacts(context, customer_id, limit, offset),
         columns=["id", "name", "title", "role", "phone", "email"], csv_output=csv_output)


@click.group("opportunity")
def opportunity_group():
    """Opportunities (商机)."""


@opportunity_group.command("add")
@click.option("--customer", "customer_id", required=True)
@click.option("--name", required=True)
@click.option("--stage", required=True)
@click.option("--amount", default="0")
@click.option("--owner")
@click.option("--expected-close", help="YYYY-MM-DD")
@pass_context
def opportunity_add(context, customer_id, name, stage, amount, owner, expected_close):
    """Open an opportunity."""
    emit(opportunities.create_opportunity(context, customer_id, name, stage, amount, owner, expected_close))


@opportunity_group.command("update")
@click.argument("opportunity_id")
@click.option("--name")
@click.option("--stage")
@click.option("--amount")
@click.option("--status", help="open, won or lost")
@click.option("--expected-close", help="YYYY-MM-DD")
@pass_context
def opportunity_update(context, opportunity_id, **patch):
    """Change an opportunity's stage, status, amount ..."""
    emit(opportunities.update_opportunity(context, opportunity_id, **patch))


@opportunity_group.command("list")
@click.option("--customer")
@click.option("--stage")
@click.option("--status")
@click.option("--owner")
@list_options
@pass_context
def opportunity_list(context, limit, offset, csv_output, **filters):
    """Opportunities you may see."""
    emit(opportunities.list_opportunities(context, limit=limit, offset=offset, **filters),
         columns=["id", "customer", "name", "amount", "stage", "status", "owner", "expected_close"],
         csv_output=csv_output)


@click.group("activity")
def activity_group():
    """Calls, visits, notes and tasks."""


@activity_group.command("log")
@click.option("--customer", "customer_id")
@click.option("--entity", help="Link to another record, e.g. lead:12.")
@click.option("--kind", required=True, help="call, visit, note or task.")
@click.option("--subject", required=True)
@click.option("--notes")
@click.option("--due", help="Due time (ISO-8601; zoneless = workspace time).")
@click.option("--done", help="When it was done (ISO-8601).")
@pass_context
def activity_log(context, customer_id, entity, kind, subject, notes, due, done):
    """Log an activity against a customer."""
    emit(activities.log_activity(context, kind, subject, customer_id, notes, due, done, entity))


@activity_group.command("list")
@click.option("--customer")
@click.option("--kind")
@click.option("--entity")
@click.option("--open", "open_only", is_flag=True, help="Only activities not done.")
@click.option("--mine", is_flag=True, help="Only yours.")
@list_options
@pass_context
def activity_list(context, limit, offset, csv_output, **filters):
    """Activities you may see."""
    emit(activities.list_activities(context, limit=limit, offset=offset, **filters),
         columns=["id", "kind", "subject", "customer", "entity", "user", "due_at", "done_at"],
         csv_output=csv_output)


@activity_group.command("done")
@click.argument("activity_id")
@pass_context
def activity_done(context, activity_id):
    """Mark an activity (a task) done."""
    emit(activities.complete_activity(context, activity_id))


@click.command("events")
@click.option("--entity", help="kind:id, e.g. customer:12")
@click.option("--action", help="e.g. customer.updated")
@click.option("--actor", help="A user's login.")
@list_options
@pass_context
def events(context, entity, action, actor, limit, offset, csv_output):
    """The audit trail, newest first."""
    emit(records.list_events(context, entity, action, actor, limit, offset),
         columns=["id", "at", "actor", "action", "entity"], csv_output=csv_output)


@click.command("inbox")
@click.option("--unread", is_flag=True, help="Only unread notifications.")
@click.option("--mark-read", is_flag=True, help="Mark the listed notifications read.")
@list_options
@pass_context
def inbox(context, unread, mark_read, limit, offset, csv_output):
    """Your notifications (reminders, assignments, approvals ...)."""
    emit(records.inbox(context, unread, mark_read, limit, offset), columns=["id", "at", "kind", "message", "read"],
         csv_output=csv_output)


@click.command("tick")
@pass_state
def tick(state):
    """Run every enabled plugin's due jobs (in -w's workspace, or all); safe to run again."""
    workspace = state.workspace_name
    now = None
    if state.now_text is not None:
        now = state.now_text
    results = state.app.tick(now=now, workspace=workspace)

    def human(data):
        lines = []
        for entry in data:
            for job in entry["jobs"]:
                outcome = job.get("error") or (job.get("result") if job["ran"] else "not due")
                lines.append(f"{entry['workspace']}: {job['job']}: {outcome}")
        return "\n".join(lines) or "no workspaces"

    emit(results, human=human)


@click.command("reports")
@click.argument("name", required=False)
@click.option("--from", "start", help="First day (YYYY-MM-DD).")
@click.option("--to", "end", help="Last day (YYYY-MM-DD).")
@click.option("--unit", help="Only this org unit's subtree.")
@click.option("--rep", help="Only this user.")
@click.option("--csv", "csv_output", is_flag=True)
@pass_context
def reports_command(context, name, start, end, unit, rep, csv_output):
    """List the reports, or run report NAME."""
    if not name:
        emit(reports.available_reports(context), columns=["name", "plugin", "description"])
        return
    result = reports.run_report(context, name, start, end, unit, rep)
    rows = [dict(zip(result["columns"], row)) for row in result["rows"]]
    if csv_output:
        emit(rows, columns=result["columns"], csv_output=True)
        return
    emit(result, human=lambda r: f"{name}  {r['from']} .. {r['to']}\n"
         + (render_table(rows, r["columns"]) if rows else "(no rows)"))


COMMANDS = [customer_group, contact_group, opportunity_group, activity_group, events, inbox, tick,
            reports_command]
