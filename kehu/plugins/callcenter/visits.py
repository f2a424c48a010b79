"""Field visits (出访记录, DOMAIN.md §1.7, §4.3): a core activity (kind ``visit``, written through core's activity
service, DESIGN decision 14) with the call center's details in :class:`~kehu.plugins.callcenter.models.VisitLog`,
linked to the calls that led to it.

Decisions: the result values are :data:`VISIT_RESULTS` (the documents leave them OPEN; a constant until the
settings document carries them). A visit's ``calls`` are this rep's calls to the customer after this rep's
previous visit to it, up to the visit's time. ``--disposition`` is one of the call dispositions (so ``deal`` means
the same on calls and visits for conversion figures); a visit runs no next action. ``--at`` says when the visit
happened (default now, never in the future): the activity is marked done then.
"""

from marshmallow import fields, validate
from peewee import JOIN

from kehu.core import access
from kehu.core.context import service
from kehu.core.db import to_utc
from kehu.core.models import Customer, User
from kehu.core.schemas import StrictSchema, Text, listing_bounds, load
from kehu.core.services import activities
from kehu.core.services.lookup import customer_by_id, parse_id, user_by_login
from kehu.core.timeutil import parse_instant
from kehu.errors import Invalid
from kehu.plugins.callcenter import settings as cc_settings
from kehu.plugins.callcenter.models import CallLog, VisitLog

VISIT_RESULTS = ("met", "not_met", "deal", "follow_up")


class VisitInput(StrictSchema):
    result = fields.String(required=True, validate=validate.OneOf(VISIT_RESULTS))
    purpose = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    contact = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    disposition = Text(load_default=None, allow_none=True)
    next_step = Text(load_default=None, allow_none=True, validate=validate.Length(max=300))
    notes = Text(load_default=None, allow_none=True)
    at = fields.Raw(load_default=None, allow_none=True)


def _validate(context, raw):
    data = load(VisitInput(), raw)
    if data["disposition"] is not None:
        known = cc_settings.settings_for(context)["dispositions"]
        key = data["disposition"].lower().replace(" ", "_").replace("-", "_")
        if key not in known:
            raise Invalid(f"disposition must be one of {', '.join(known)}, not {data['disposition']!r}")
        data["disposition"] = key
    data["at"] = parse_instant(data["at"], context.tz, "at") if data["at"] is not None else context.now
    if data["at"] > context.now:
        raise Invalid("a visit is logged once it happened: --at is in the future")
    return data


def calls_before(context, customer_id, rep_id, at):
    """Ids of ``rep_id``'s calls to the customer after their previous visit to it and up to ``at``."""
    previous = (VisitLog.select(VisitLog.at).where(
        VisitLog.workspace == context.workspace, VisitLog.customer == customer_id, VisitLog.rep == rep_id,
        VisitLog.at <= at).order_by(VisitLog.at.desc()).limit(1).scalar())
    query = CallLog.select(CallLog.id).where(
        CallLog.workspace == context.workspace, CallLog.customer == customer_id, CallLog.rep == rep_id,
        CallLog.at <= at)
    if previous is not None:
        query = query.where(CallLog.at > previous)
    return [call_id for (call_id,) in query.order_by(CallLog.at, CallLog.id).tuples()]


@service
def log_visit(context, customer, result, purpose=None, contact=None, disposition=None, next_step=None,
              notes=None, at=None):
    """Record a field visit to ``customer``: the core visit activity (the acting user must see the customer)
    and its details, linked to the rep's calls since their previous visit. Returns the visit as a dict."""
    data = _validate(context, {"result": result, "purpose": purpose, "contact": contact,
                               "disposition": disposition, "next_step": next_step, "notes": notes, "at": at})
    target = customer_by_id(context, customer)
    activity = activities.log_activities(context, [{
        "kind": "visit", "subject": f"visit {target.name}: {data['result']}"[:300], "notes": data["notes"],
        "customer": target.id, "done": data["at"]}])[0]
    rep_id = getattr(context.user, "id", None)
    linked = calls_before(context, target.id, rep_id, data["at"]) if rep_id is not None else []
    visit = VisitLog.create(workspace=context.workspace, activity=activity["id"], customer=target.id,
                            rep=rep_id, at=data["at"], result=data["result"], purpose=data["purpose"],
                            contact=data["contact"], disposition=data["disposition"],
                            next_step=data["next_step"], calls=linked)
    view = visit_view(visit, context.actor_label if rep_id else None, target.name)
    context.audit("visit.logged", "visit", visit.id, after=view)
    return view


def visit_view(visit, rep_login, customer_name=None):
    return {"visit": visit.id, "activity": visit.activity_id, "customer": visit.customer_id,
            "customer_name": customer_name, "rep": rep_login, "at": to_utc(visit.at).isoformat(),
            "result": visit.result,
            "purpose": visit.purpose, "contact": visit.contact, "disposition": visit.disposition,
            "next_step": visit.next_step, "calls": list(visit.calls or [])}


def list_visits(context, customer=None, rep=None, limit=100, offset=0):
    """Visits the acting user sees (on customers in their scope, or by users in their scope), newest first,
    filtered by ``customer`` (id) and ``rep`` (login)."""
    limit, offset = listing_bounds(limit, offset)
    owner = User.alias()
    query = (VisitLog.select(VisitLog, Customer.name.alias("customer_name"), owner.login.alias("rep_login"))
             .join(Customer, on=(VisitLog.customer == Customer.id))
             .join_from(VisitLog, owner, JOIN.LEFT_OUTER, on=(VisitLog.rep == owner.id))
             .where(VisitLog.workspace == context.workspace)
             .order_by(VisitLog.at.desc(), VisitLog.id.desc()))
    scope = access.users_in_scope(context)
    if scope is not None:
        query = query.where(VisitLog.rep.in_(scope) | Customer.owner.in_(scope))
    if customer is not None:
        query = query.where(VisitLog.customer == parse_id(customer, "customer"))
    if rep:
        query = query.where(VisitLog.rep == user_by_login(context, rep, active_only=False))
    query = query.limit(limit or None).offset(offset)
    return [visit_view(v, v.rep_login, v.customer_name) for v in query.objects()]


def visit_results(context):
    """The visit result values (a constant until the settings document carries them)."""
    return list(VISIT_RESULTS)


SERVICES = {"log": log_visit, "list": list_visits, "results": visit_results}
