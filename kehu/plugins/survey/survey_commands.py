"""``kehu survey forms | form show | form add | send | answer | report``.

Option values (``--by``, dates, the answers file) are validated by the services: a bad value is ``invalid``
(exit 1), never a click type's exit 2. Figures (NPS, CSAT, C = b/a) are exact ``Decimal`` values in the
services; JSON prints them as numbers (``30.0``, ``0.75``), the issue's "NPS as a number".
"""

from decimal import Decimal

import click

from kehu.core.console import emit, pass_context, read_json_file
from kehu.plugins.survey import forms, responses, scores

FIGURES = ("responses", "nps", "promoters", "passives", "detractors", "csat", "c_ratio")


def as_numbers(data):
    """``data`` with every Decimal as a JSON number (a float prints the short decimal it came from)."""
    if isinstance(data, Decimal):
        return float(data) if data.as_tuple().exponent < 0 else int(data)  # Decimal('30.0') → 30.0
    if isinstance(data, dict):
        return {key: as_numbers(value) for key, value in data.items()}
    if isinstance(data, list):
        return [as_numbers(value) for value in data]
    return data


def _figures_line(row):
    return " ".join(f"{key} {'-' if row.get(key) is None else row[key]}" for key in FIGURES)


def _report_text(result):
    lines = [f"survey report {result['from']} … {result['to']}" + (f" form {result['form']}" if result['form']
                                                                    else ""),
             _figures_line(result)]
    lines += [f"  {row['group'] or '(none)'}: {_figures_line(row)}" for row in result["groups"]]
    return "\n".join(lines)


def _form_text(form):
    lines = [f"{form['key']}: {form['title']} ({form['source']})"]
    for question in form["questions"]:
        extra = {"scale": lambda q: f"1–{q['max']}", "nps": lambda q: "0–10",
                 "choice": lambda q: ("any of: " if q.get("multiple") else "one of: ") + "; ".join(q["choices"]),
                 "text": lambda q: f"up to {q['max_length']} characters"}[question["type"]](question)
        flags = ("required" if question["required"] else "optional") + (f", {question['role']}"
                                                                          if question.get("role") else "")
        lines.append(f"  {question['key']} [{question['type']} {extra}; {flags}] {question['text']}")
    return "\n".join(lines)


@click.command("forms")
@pass_context
def survey_forms(context):
    """The survey forms of this workspace (defaults and the workspace's own)."""
    emit(forms.list_forms(context), columns=["key", "title", "questions", "source"])


@click.group("form")
def survey_form():
    """Show or add a survey form."""


@survey_form.command("show")
@click.argument("key")
@pass_context
def survey_form_show(context, key):
    """Show form KEY with its questions."""
    emit(forms.show_form(context, key), human=_form_text)


@survey_form.command("add")
@click.argument("file")
@pass_context
def survey_form_add(context, file):
    """Add a form from FILE.json (a default's key overrides it here; manager or above)."""
    emit(forms.add_form(context, read_json_file(file, "form")), human=_form_text)


@click.command("send")
@click.argument("form")
@click.option("--customer", required=True, help="The customer's id.")
@click.option("--after", help="What prompted it: activity:ID or complaint:ID.")
@pass_context
def survey_send(context, form, customer, after):
    """Send survey FORM to a customer: prints the single-use token."""
    emit(responses.send(context, form, customer, after=after),
         human=lambda r: f"survey {r['form']} for customer {r['customer']}: token {r['token']}")


@click.command("answer")
@click.argument("token")
@click.option("--answers", "answers_file", required=True, help="FILE.json: {question_key: value, ...}.")
@click.option("--by-rep", is_flag=True, help="Answers the customer gave on paper, recorded by you (--as).")
@pass_context
def survey_answer(context, token, answers_file, by_rep):
    """Answer the survey behind TOKEN (once)."""
    result = responses.answer(context, token, read_json_file(answers_file, "answers"), by_rep=by_rep)
    emit(as_numbers(result), human=lambda r: f"survey response {r['response']} answered"
         + (f"; low score followed up (task {r['follow_up']['task']})" if r["follow_up"] else ""))


@click.command("report")
@click.option("--form", help="Only this form.")
@click.option("--from", "start", help="First day (YYYY-MM-DD, workspace time); default 30 days ago.")
@click.option("--to", "end", help="Last day, inclusive; default today.")
@click.option("--by", help="Group by rep (the customer's owner), unit or industry.")
@pass_context
def survey_report(context, form, start, end, by):
    """NPS, CSAT and C = b/a of answered surveys in your scope."""
    emit(as_numbers(scores.report(context, form=form, start=start, end=end, by=by)), human=_report_text)


SURVEY_COMMANDS = [survey_forms, survey_form, survey_send, survey_answer, survey_report]
