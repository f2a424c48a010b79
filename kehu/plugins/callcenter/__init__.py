"""Call center (电话销售): call annotation, intent stages and talk tracks, dispositions, callbacks, visits,
invalid numbers, phone claims, reports and target cascades (DOMAIN.md §4, §2.5, §2.6).

The settings document (:mod:`.settings`) holds every rule as data. Calls and visits are core activities
written through core's activity service, with details in this plugin's tables (:mod:`.calls`,
:mod:`.visits`); numbers and claims in :mod:`.phones`; targets in :mod:`.targets`; reports in :mod:`.reports`.
A disposition that returns a lead to its pool or sends a survey asks the plugin that owns that through an
action hook (``kehu_return_lead_to_pool``, ``kehu_request_survey``), never around it.
"""

import datetime as dt
from pathlib import Path

from kehu import hookimpl
from kehu.plugins.callcenter.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")


@hookimpl
def kehu_register_policies(register):
    from kehu.plugins.callcenter import settings

    register("callcenter", settings.DEFAULT_SETTINGS, validate=settings.load_settings)


@hookimpl
def kehu_register_services(register):
    from kehu.plugins.callcenter import calls, phones, targets, visits

    register("calls", {**calls.SERVICES, **phones.SERVICES})
    register("visits", visits.SERVICES)
    register("targets", targets.SERVICES)


@hookimpl
def kehu_register_commands(cli):
    from kehu.plugins.callcenter import commands

    for group in commands.GROUPS:
        cli.add_command(group)


@hookimpl
def kehu_register_jobs(register):
    from kehu.plugins.callcenter import calls, phones

    for name, function, every in [*calls.JOBS, *phones.JOBS]:
        register(name, function, every=every)


@hookimpl
def kehu_register_reports(register):
    from kehu.plugins.callcenter import reports

    for name, function, description in reports.REPORTS:
        register(name, function, description)


@hookimpl
def kehu_before_create(context, entity, records, origin):
    """Sources are a picklist: a person entering a customer or lead must choose one; imports and the system
    get the default (系统客户)."""
    from kehu.plugins.callcenter import calls

    return calls.check_sources(context, entity, records, origin)


@hookimpl
def kehu_access_granted(context, entity, record_id):
    """A rep who claimed a customer's number may see it and log calls and visits on it while the claim is
    open (a claim is a right to call, not ownership)."""
    if entity != "customer":
        return None
    from kehu.plugins.callcenter import phones

    return phones.holds_claim(context, record_id) or None


@hookimpl
def kehu_populate_demo(context, customers, say):
    """Demo: rep li calls a customer (annotations, a need category, a callback) and visits it."""
    li = context.app.workspace(context.workspace.name, user="li", now=context.clock)
    tea = customers["tea"]
    call = li.calls.log(tea, 2, annotations={"outlook": "计划扩大线上销售", "targets": "江浙沪茶叶批发商",
                                             "competition": "同城三家竞争, 自有茶园是优势"},
                        need_category="获客引流", disposition="visit_booked", notes="约下周上门演示",
                        callback=(context.now + dt.timedelta(days=7)).isoformat())
    visit = li.visits.log(tea, result="met", purpose="演示推广方案", contact="王总")
    say(f"callcenter: li logged call {call['call']} on customer {tea} (stage {call['intent']}: {call['stage']}; "
        f"talk track: {call['talk_track'][-1]}), booked a visit and logged it (visit {visit['visit']}, linked "
        f"to calls {visit['calls']}).")
