"""Surveys (满意度调查): satisfaction forms as data, single-use response tokens, NPS and CSAT (C = b/a),
complaints with dispatch, resolution, return visit and confirmation, and the low-score loop (DOMAIN.md §5).

Forms and answers live in :mod:`.forms` and :mod:`.responses`, figures in :mod:`.scores`, complaints in
:mod:`.complaints`. Other plugins reach it only through hooks: ``kehu_request_survey`` (the call center's
"send to survey" disposition) and ``kehu_customer_scores`` (grading that wants satisfaction figures).
"""

from pathlib import Path

from kehu import hookimpl
from kehu.plugins.survey.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")


@hookimpl
def kehu_register_roles(register):
    """Product-quality complaints are routed to quality management (DOMAIN.md §5.2)."""
    register("quality", rank=15, scope="all", permissions=("view",), label="quality management (质量管理)")


@hookimpl
def kehu_register_services(register):
    from kehu.plugins.survey import complaints, forms, responses, scores

    register("survey", {**forms.SERVICES, **responses.SERVICES, **scores.SERVICES})
    register("complaints", complaints.SERVICES)


@hookimpl
def kehu_register_commands(cli):
    from kehu.plugins.survey import commands

    for group in commands.GROUPS:
        cli.add_command(group)


@hookimpl
def kehu_register_jobs(register):
    from kehu.plugins.survey import complaints, responses

    for name, function, every in [*responses.JOBS, *complaints.JOBS]:
        register(name, function, every=every)


@hookimpl
def kehu_request_survey(context, customer_id, form, after):
    """Another plugin asks for a survey (a call's "deal" disposition): send it, in the caller's transaction."""
    from kehu.plugins.survey import responses

    return responses.send_in_transaction(context, form, customer_id, after=after)


@hookimpl
def kehu_customer_scores(context, customer_ids):
    """Satisfaction figures of ``customer_ids`` from their answered surveys."""
    from kehu.plugins.survey import scores

    return scores.customer_scores(context, customer_ids)


@hookimpl
def kehu_populate_demo(context, customers, say):
    """Demo: an NPS survey sent to a customer and answered low (the follow-up loop starts), and a complaint
    dispatched, resolved and revisited."""
    def as_(login):
        return context.app.workspace(context.workspace.name, user=login, now=context.clock)

    nj = customers["nj"]
    token = as_("chen").survey.send("nps", nj)["token"]
    answered = as_(None).survey.answer(token, {"score": 5, "reason": "送货总是延迟"})
    complaint = as_("chen").complaints.open(nj, subject="送货延迟三天")
    as_("zhou").complaints.dispatch(complaint["id"], to="chen")
    as_("chen").complaints.resolve(complaint["id"], resolution="改用本地仓发货", opinion="已调整物流, 下周起次日达")
    as_("chen").complaints.revisit(complaint["id"], notes="客户确认已改善")
    say(f"survey: customer {nj} answered an NPS survey with 5 (a detractor): "
        f"{'a follow-up task for its owner and a note to the manager' if answered['follow_up'] else 'no follow-up'}"
        f"; complaint {complaint['id']} was dispatched, resolved and revisited — the satisfaction survey goes "
        f"out on the next tick.")
