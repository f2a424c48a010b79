"""``kehu calls log | history | categories | stages | script | classify | settings`` and ``kehu visits log | list``.

Option values (the intent, a month, a time, a disposition) are validated by the services: a bad value is
``invalid`` (exit 1), never a click type's exit 2.
"""


import click

from kehu.core.console import emit, list_options, pass_context, read_json_file
from kehu.plugins.callcenter import calls, visits

HISTORY_COLUMNS = ["call", "at", "rep", "move", "disposition", "need_category", "awareness_category",
                   "callback_at"]
VISIT_COLUMNS = ["visit", "at", "customer", "customer_name", "rep", "result", "purpose", "contact", "disposition",
                 "next_step", "calls"]


def _next_line(step):
    if step is None:
        return "next: nothing scheduled"
    if step.get("skipped"):
        return f"next: {step['action']} skipped ({step['skipped']})"
    if step.get("task"):
        return f"next: {step['action']} for {step.get('assignee')} due {step['due']} (task {step['task']})"
    return f"next: {step['action']} " + ", ".join(f"{k} {v}" for k, v in step.items() if k != "action")


def _call_text(result):
    moved = "new" if result["intent_before"] is None else result["intent_before"]
    lines = [f"call {result['call']} on {result['target']}: stage {moved} → {result['intent']} ({result['stage']})"]
    lines += [f"  - {point}" for point in result["talk_track"]] or ["  (no talk-track points)"]
    lines.append(_next_line(result["next"]))
    return "\n".join(lines)


def _script_text(result):
    assumed = " (assumed: no call yet)" if result["assumed"] else ""
    lines = [f"{result['target']} {result['name']}: stage {result['intent']} {result['stage']}{assumed}"]
    lines += [f"  - {point}" for point in result["talk_track"]]
    for kind in ("need", "awareness"):
        if result[f"{kind}_category"]:
            lines.append(f"{kind}: {result[f'{kind}_category']} — {result[f'{kind}_script'] or '(no script)'}")
    lines += [f"Q: {o['question']}\n   A: {o['answer']}" for o in result["objections"]]
    return "\n".join(lines)


@click.command("log")
@click.argument("target")
@click.option("--intent", required=True, help="The intent stage the call leaves the customer in (-1 … 4).")
@click.option("--annotation", "annotations", multiple=True,
              help="KEY=TEXT, KEY one of outlook, targets, competition, awareness (repeatable).")
@click.option("--need-category", help="Promotion-need category (see `kehu calls categories`).")
@click.option("--awareness-category", help="Network-awareness category.")
@click.option("--disposition", help="How the call ended: connected, no_answer, busy, refused, deal, ...")
@click.option("--callback", help="When to call back (or visit, for visit_booked): ISO time, local by default.")
@click.option("--notes", help="What was said.")
@pass_context
def calls_log(context, target, intent, annotations, need_category, awareness_category, disposition, callback,
              notes):
    """Record a call on TARGET (a customer id or lead:ID) and show the talk track of the stage it leaves."""
    emit(calls.log_call(context, target, intent, annotations=list(annotations), need_category=need_category,
                        awareness_category=awareness_category, disposition=disposition, callback=callback,
                        notes=notes), human=_call_text)


@click.command("history")
@click.argument("target")
@pass_context
def calls_history(context, target):
    """The calls on TARGET (customer id or lead:ID), newest first, with stage moves."""
    emit(calls.call_history(context, target), columns=HISTORY_COLUMNS)


@click.command("categories")
@pass_context
def calls_categories(context):
    """The need and awareness category values."""
    emit(calls.list_categories(context),
         human=lambda r: "\n".join(f"{k}: " + "; ".join(v) for k, v in r.items()))


@click.command("stages")
@pass_context
def calls_stages(context):
    """The intent stages, their meanings and talk-track points."""
    emit(calls.list_stages(context), human=lambda rows: "\n".join(
        f"{s['stage']:>2}  {s['name']}" + "".join(f"\n      - {p}" for p in s["talk_track"]) for s in rows))


@click.command("script")
@click.argument("target")
@pass_context
def calls_script(context, target):
    """The talk track for TARGET's current stage, scripts for its categories, objections with answers."""
    emit(calls.call_script(context, target), human=_script_text)


@click.command("classify")
@click.argument("customer")
@click.option("--rep", required=True, help="The rep's login.")
@click.option("--month", required=True, help="YYYY-MM (a calendar month in the workspace timezone).")
@pass_context
def calls_classify(context, customer, rep, month):
    """Whether CUSTOMER is new, old or none for REP in MONTH (derived from calls and visits)."""
    emit(calls.classify(context, customer, rep, month),
         human=lambda r: f"{r['classification']}: {r['reason']}")


@click.group("settings")
def calls_settings():
    """The workspace's call-center settings (stages, rules, categories, dispositions, sources, scripts)."""


@calls_settings.command("show")
@pass_context
def calls_settings_show(context):
    """Print the settings in force (JSON)."""
    emit(calls.show_settings(context))


@calls_settings.command("set")
@click.argument("file")
@pass_context
def calls_settings_set(context, file):
    """Override the settings with FILE.json (objects merge key by key; gm and admin)."""
    emit(calls.set_settings(context, read_json_file(file, "settings")))


@click.command("log")
@click.argument("customer")
@click.option("--result", required=True, help=f"One of {', '.join(visits.VISIT_RESULTS)}.")
@click.option("--purpose", help="Why the visit.")
@click.option("--contact", help="Whom the rep met.")
@click.option("--disposition", help="A call disposition (deal counts for conversion).")
@click.option("--next-step", help="What was promised next.")
@click.option("--notes", help="Free notes.")
@click.option("--at", help="When it happened (ISO, local by default; default now).")
@pass_context
def visits_log(context, customer, result, purpose, contact, disposition, next_step, notes, at):
    """Record a field visit to CUSTOMER, linked to the calls before it."""
    emit(visits.log_visit(context, customer, result, purpose=purpose, contact=contact, disposition=disposition,
                          next_step=next_step, notes=notes, at=at),
         human=lambda v: f"visit {v['visit']} to customer {v['customer']} ({v['result']}), after calls "
                         f"{', '.join(map(str, v['calls'])) or '(none)'}")


@click.command("list")
@click.option("--customer", help="Only this customer's visits.")
@click.option("--rep", help="Only this rep's visits (login).")
@list_options
@pass_context
def visits_list(context, customer, rep, limit, offset, csv_output):
    """Visits you may see, newest first."""
    emit(visits.list_visits(context, customer=customer, rep=rep, limit=limit, offset=offset),
         columns=VISIT_COLUMNS, csv_output=csv_output)


CALLS_COMMANDS = [calls_log, calls_history, calls_categories, calls_stages, calls_script, calls_classify,
                  calls_settings]
VISITS_COMMANDS = [visits_log, visits_list]
