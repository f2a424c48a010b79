"""``kehu complaints open | dispatch | resolve | revisit | confirm | list | show``.

Option values (kind, category, times, yes/no) are validated by the services: a bad value is ``invalid``
(exit 1), never a click type's exit 2.
"""

import click

from kehu.core.console import emit, list_options, pass_context
from kehu.plugins.survey import complaints

LIST_COLUMNS = ["id", "status", "kind", "category", "customer", "customer_name", "subject", "assignee",
                "opened_at", "due_at", "overdue"]


def _line(result):
    who = f", assignee {result['assignee']}" if result["assignee"] else ""
    told = f"; notified {', '.join(result['notified'])}" if result.get("notified") else ""
    return (f"complaint {result['id']} ({result['category']} {result['kind']}) on customer {result['customer']}: "
            f"{result['status']}{who}{told}")


def _show_text(result):
    lines = [_line(result), f"subject: {result['subject']}", f"due: {result['due_at']}"]
    for key in ("resolution", "opinion", "satisfied"):
        if result[key] is not None:
            lines.append(f"{key}: {result[key]}")
    lines += [f"  {s['at']}  {s['step']:<10} {s['by']}" + (f"  {s['notes']}" if s["notes"] else "")
              for s in result["steps"]]
    return "\n".join(lines)


@click.command("open")
@click.argument("customer")
@click.option("--subject", required=True, help="What the customer complains about or asks.")
@click.option("--kind", default="complaint", help="complaint (投诉) or inquiry (咨询).")
@click.option("--category", default="service", help="service or product_quality (routed to quality management).")
@click.option("--details", help="What the customer said.")
@click.option("--due", help=f"When it must be handled (ISO, local by default; default "
                            f"{complaints.DEFAULT_DUE_DAYS} days from now).")
@pass_context
def complaints_open(context, customer, subject, kind, category, details, due):
    """Open a complaint or inquiry on CUSTOMER; the owner's supervisors are told at once."""
    emit(complaints.open_complaint(context, customer, subject, kind=kind, category=category, details=details,
                                   due=due), human=_line)


@click.command("dispatch")
@click.argument("complaint_id", metavar="ID")
@click.option("--to", "to", required=True, help="The login of the person who handles it (派工).")
@pass_context
def complaints_dispatch(context, complaint_id, to):
    """Dispatch complaint ID to a handler (product-quality complaints: a user of role quality)."""
    emit(complaints.dispatch_complaint(context, complaint_id, to), human=_line)


@click.command("resolve")
@click.argument("complaint_id", metavar="ID")
@click.option("--resolution", required=True, help="How it was handled.")
@click.option("--opinion", help="The handling opinion for the customer (required for product_quality).")
@pass_context
def complaints_resolve(context, complaint_id, resolution, opinion):
    """Record the resolution of complaint ID; the opinion goes back to the customer."""
    emit(complaints.resolve_complaint(context, complaint_id, resolution, opinion=opinion), human=_line)


@click.command("revisit")
@click.argument("complaint_id", metavar="ID")
@click.option("--notes", help="What the customer said on the return visit.")
@click.option("--done", help="When the return visit happened (ISO, local by default; default now).")
@pass_context
def complaints_revisit(context, complaint_id, notes, done):
    """Log the return visit (回访) of complaint ID; `kehu tick` then sends the satisfaction survey."""
    emit(complaints.revisit_complaint(context, complaint_id, notes=notes, done=done), human=_line)


@click.command("confirm")
@click.argument("complaint_id", metavar="ID")
@click.option("--satisfied", required=True, help="yes (closes it) or no (back to its handler).")
@click.option("--notes", help="What the customer said.")
@pass_context
def complaints_confirm(context, complaint_id, satisfied, notes):
    """Confirm whether the customer of complaint ID is satisfied."""
    emit(complaints.confirm_complaint(context, complaint_id, satisfied, notes=notes), human=_line)


@click.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only complaints not yet confirmed.")
@click.option("--mine", is_flag=True, help="Only those assigned to or opened by you.")
@click.option("--customer", help="Only this customer's complaints.")
@list_options
@pass_context
def complaints_list(context, open_only, mine, customer, limit, offset, csv_output):
    """Complaints you may see, newest first."""
    emit(complaints.list_complaints(context, open_only=open_only, mine=mine, customer=customer, limit=limit,
                                    offset=offset), columns=LIST_COLUMNS, csv_output=csv_output)


@click.command("show")
@click.argument("complaint_id", metavar="ID")
@pass_context
def complaints_show(context, complaint_id):
    """Complaint ID with its steps (who and when)."""
    emit(complaints.show_complaint(context, complaint_id), human=_show_text)


COMPLAINTS_COMMANDS = [complaints_open, complaints_dispatch, complaints_resolve, complaints_revisit,
                       complaints_confirm, complaints_list, complaints_show]
