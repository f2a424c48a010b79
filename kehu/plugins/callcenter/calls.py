"""Call annotation (DOMAIN.md §4.1–4.3, §2.5, §2.6): log a call, its talk track, dispositions and next actions,
the script panel, the settings services, the source picklist, and the new/old classification.

A call is a core activity (kind ``call``) written through core's activity service, plus a
:class:`~kehu.plugins.callcenter.models.CallLog` row with what the call center needs. Everything that is policy
(stages, annotation rules, categories, dispositions, sources, the new/old gap) is read from the workspace's
settings document (:func:`kehu.plugins.callcenter.settings.settings_for`).

Decisions (where the issue leaves room):

* A call goes to ``CUSTOMER`` (an id) or ``lead:ID``. A rep may call their own customers (core's activity service
  checks the data scope) and the leads they hold; a manager or above any lead the leads plugin shows them. With
  the leads plugin disabled a ``lead:ID`` is ``invalid``: nobody could tell who may see it.
* The next action comes from the disposition. With no disposition, or one without a next action
  (``connected``), the call schedules a callback for the caller at ``--callback`` or, failing that, after the
  stage's ``callback_days`` (READING of §4.2: stage −1 "call back periodically"; a stage whose
  ``callback_days`` is empty or 0 schedules nothing). A ``callback`` action is due at ``--callback``, else
  ``after_hours`` from now, else the stage's ``callback_days``. ``--callback`` given with an action that takes
  no time (``send_survey``, ``mark_invalid``, ``return_to_pool``) also schedules a callback for the caller.
* ``for: team`` callbacks go to the customer's owner (the lead's holder), who hands them on in the team; the
  task is written through core's service acting as that user, so the reminder reaches them. No owner: the
  caller.
* ``kehu calls script`` on a customer never called assumes stage 0 (does not refuse / does not understand):
  that is where a first call starts; the result says ``"assumed": true``.
* A category may be named by its full value or by its Chinese or English half (``获客引流``, ``lead generation``);
  the full value is stored.
* New vs old counts the gap in local calendar days (DESIGN decision 7: the new/old rule uses local calendar
  dates): a follow-up on 03-03 after one on 02-01 is 30 days, whatever the hours. So exactly 30 days is new,
  00:00 on 02-02 → 23:59 on 03-03 (29 days 23:59) is old.
* Sources: filling in the default for imports and the system is always on; a mandatory choice on manual entry and
  the picklist check are switches (see :func:`check_sources`).
"""

import copy
import datetime as dt
import re

import attrs
from marshmallow import fields
from peewee import JOIN, Case, Select, fn

from kehu.core import access
from kehu.core.context import service
from kehu.core.documents import parse_document, store_override
from kehu.core.db import to_utc
from kehu.core.models import User
from kehu.core.schemas import StrictSchema, Text, load
from kehu.core.services import activities
from kehu.core.services.lookup import customer_by_id, parse_id, user_by_login
from kehu.core.timeutil import parse_instant
from kehu.errors import Invalid, PermissionDenied, Veto
from kehu.plugins.callcenter import settings as cc_settings
from kehu.plugins.callcenter.models import CallcenterSettings, CallLog, VisitLog

JOBS = []  # callbacks are core tasks: core's reminder job already notifies them when due

NEW, OLD, NONE = "new", "old", "none"
_LEAD = re.compile(r"^\s*lead:(.*)$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --- who is called -------------------------------------------------------------------------------------------


@attrs.frozen
class Target:
    """The customer or lead a call is about."""

    kind: str  # "customer" | "lead"
    id: int
    name: str
    owner_id: int | None  # the customer's owner or the lead's holder
    phone: str | None

    @property
    def label(self):
        return f"customer {self.id}" if self.kind == "customer" else f"lead:{self.id}"

    @property
    def entity(self):
        return None if self.kind == "customer" else f"lead:{self.id}"

    @property
    def customer_id(self):
        return self.id if self.kind == "customer" else None

    @property
    def lead_id(self):
        return self.id if self.kind == "lead" else None


def _lead_target(context, raw):
    """A lead the acting user may call: one they hold, or (manager or above) one the leads plugin shows them."""
    if not context.plugin_enabled("leads"):
        raise Invalid(f"leads plugin not enabled in workspace {context.workspace.name}: cannot use lead:{raw}")
    lead_id = parse_id(raw, "lead")
    lead = context.services.leads.show(lead_id)  # not_found / permission_denied outside the data scope
    user = context.user
    if user is not None and not access.is_manager_or_above(context) and lead["holder"] != user.login:
        raise PermissionDenied(f"lead {lead_id} is not held by {user.login}")
    holder = User.get_or_none(User.workspace == context.workspace, User.login == lead["holder"]) \
        if lead["holder"] else None
    return Target("lead", lead_id, lead["company"] or lead["name"], holder.id if holder else None, lead["phone"])


def resolve_target(context, target):
    """``CUSTOMER`` (an id) or ``lead:ID`` as a :class:`Target` the acting user may see, or an error."""
    match = _LEAD.match(str(target))
    if match:
        return _lead_target(context, match.group(1).strip())
    customer = customer_by_id(context, target)
    access.require_customer(context, "view", customer)
    return Target("customer", customer.id, customer.name, customer.owner_id, customer.phone)


def _calls_of(context, target):
    query = CallLog.select().where(CallLog.workspace == context.workspace)
    if target.kind == "customer":
        return query.where(CallLog.customer == target.id)
    return query.where(CallLog.lead_id == target.id)


def latest_call(context, target):
    """The target's latest call (by time, then id), or ``None``."""
    return _calls_of(context, target).order_by(CallLog.at.desc(), CallLog.id.desc()).first()


# --- validating a call ---------------------------------------------------------------------------------------


class CallInput(StrictSchema):
    intent = fields.Integer(required=True)  # a string from the CLI is parsed: "abc" is invalid
    annotations = fields.Raw(load_default=None, allow_none=True)
    need_category = Text(load_default=None, allow_none=True)
    awareness_category = Text(load_default=None, allow_none=True)
    disposition = Text(load_default=None, allow_none=True)
    callback = fields.Raw(load_default=None, allow_none=True)
    notes = Text(load_default=None, allow_none=True)


def parse_annotations(settings, raw):
    """``{"key": text}`` or ``["key=text", ...]`` as a dict of the filled annotations; unknown keys, ``nokey``
    or a key given twice are ``invalid``. Empty text counts as not filled."""
    if raw is None:
        return {}
    known = list(settings["annotations"])
    pairs = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, (list, tuple)):
        for item in raw:
            key, sep, text = str(item).partition("=")
            if not sep:
                raise Invalid(f"an annotation is KEY=TEXT (KEY one of {', '.join(known)}), not {item!r}")
            pairs.append((key, text))
    else:
        raise Invalid("annotations are KEY=TEXT items")
    result = {}
    for key, text in pairs:
        key = str(key).strip().lower()
        if key not in settings["annotations"]:
            raise Invalid(f"unknown annotation {key!r}: use one of {', '.join(known)}")
        if key in result:
            raise Invalid(f"annotation {key} is given twice")
        text = " ".join(str(text or "").split())
        if text:
            result[key] = text
    return result


def choose(value, allowed, what):
    """``value`` as one of ``allowed``: exact, or the one whose Chinese or English half it names
    (``品牌曝光`` or ``brand exposure`` for ``品牌曝光 brand exposure``, any case)."""
    if value is None or value in allowed:
        return value
    wanted = value.casefold()
    found = [a for a in allowed if wanted in (a.casefold(), a.split(" ", 1)[0].casefold(),
                                               a.split(" ", 1)[-1].casefold())]
    if len(found) == 1:
        return found[0]
    raise Invalid(f"{what} must be one of: {'; '.join(allowed) or '(none defined)'} — not {value!r}")


def annotation_problems(settings, annotations, categories):
    """DOMAIN.md §4.1 as the settings' ``annotation_rules`` state it, both ways: when every annotation of a
    rule is filled its category is required, and a category requires every annotation of its rule; some but
    not all annotations without the category is allowed. Returns the missing items (texts)."""
    missing = []
    for rule in settings["annotation_rules"]:
        keys, category = rule["annotations"], rule["category"]
        unfilled = [k for k in keys if k not in annotations]
        names = ", ".join(keys)
        if categories.get(category) is None and not unfilled:
            missing.append(f"{category} category (required once {'all of ' if len(keys) > 1 else ''}"
                           f"{names} {'are' if len(keys) > 1 else 'is'} filled)")
        elif categories.get(category) is not None and unfilled:
            missing.append(f"annotation{'s' if len(unfilled) > 1 else ''} {', '.join(unfilled)} "
                           f"(the {category} category requires {names})")
    return missing


def disposition_problems(disposition, name, notes, callback):
    """What the disposition requires (``notes``, ``callback``) and is missing."""
    missing = []
    if disposition is None:
        return missing
    if "notes" in disposition["requires"] and not notes:
        missing.append(f"notes (--notes; disposition {name} requires them)")
    if "callback" in disposition["requires"] and callback is None:
        missing.append(f"a callback time (--callback; disposition {name} requires it)")
    return missing


def _validate_call(context, settings, raw):
    data = load(CallInput(), raw)
    cc_settings.stage(settings, data["intent"])  # invalid unless one of the stages
    data["annotations"] = parse_annotations(settings, data["annotations"])
    categories = settings["categories"]
    data["need_category"] = choose(data["need_category"], categories.get("need", []), "need category")
    data["awareness_category"] = choose(data["awareness_category"], categories.get("awareness", []),
                                        "awareness category")
    disposition = None
    if data["disposition"] is not None:
        key = data["disposition"].strip().lower().replace(" ", "_").replace("-", "_")
        if key not in settings["dispositions"]:
            raise Invalid(f"disposition must be one of {', '.join(settings['dispositions'])}, "
                          f"not {data['disposition']!r}")
        data["disposition"], disposition = key, settings["dispositions"][key]
    if data["callback"] is not None:
        data["callback"] = parse_instant(data["callback"], context.tz, "callback")
        if data["callback"] <= context.now:
            raise Invalid(f"the callback time {data['callback'].astimezone(context.tz).isoformat()} "
                          "is not after the call")
    missing = annotation_problems(settings, data["annotations"], {
        "need": data["need_category"], "awareness": data["awareness_category"]})
    missing += disposition_problems(disposition, data["disposition"], data["notes"], data["callback"])
    if missing:
        raise Invalid("cannot submit the call, missing: " + "; ".join(missing))
    return data, disposition


# --- next actions -------------------------------------------------------------------------------------------


def _as_user(context, user_id):
    """The context acting as ``user_id`` inside the same transaction (after-commit queue shared)."""
    if user_id is None or (context.user is not None and context.user.id == user_id):
        return context
    return attrs.evolve(context, user=User.get_by_id(user_id), cache={})


def schedule_task(context, target, subject, due, assignee_id=None, notes=None):
    """A core task on the target, due at ``due``, for ``assignee_id`` (default: the acting user)."""
    acting = _as_user(context, assignee_id)
    task = activities.log_activities(acting, [{
        "kind": "task", "subject": subject[:300], "notes": notes, "customer": target.customer_id,
        "entity": target.entity, "due": due}], origin="system")[0]
    return {"task": task["id"], "due": task["due_at"], "assignee": task["user"]}


def _stage_due(context, settings, intent):
    days = cc_settings.stage(settings, intent).get("callback_days")
    return context.now + dt.timedelta(days=days) if days else None


def _callback(context, settings, target, data, step, reason):
    """A callback task: for the caller, or (``for: team``) for the owner, whom the team may hand it to."""
    due = data["callback"]
    if due is None and step.get("after_hours"):
        due = context.now + dt.timedelta(hours=step["after_hours"])
    if due is None:
        due = _stage_due(context, settings, data["intent"])
    if due is None:
        raise Invalid(f"disposition {data['disposition']} schedules a callback: give --callback")
    team = step.get("for") == "team"
    assignee = target.owner_id if team and target.owner_id is not None else getattr(context.user, "id", None)
    result = {"action": "callback", "for": "team" if team else "caller",
              **schedule_task(context, target, f"call back {target.name} ({reason})", due, assignee)}
    if team:
        result["note"] = ("assigned to the owner; anyone in the team may take it" if target.owner_id is not None
                          else "no owner: assigned to the caller")
    return result


def _book_visit(context, target, data):
    return {"action": "book_visit", **schedule_task(context, target, f"visit {target.name}", data["callback"],
                                                    notes=data["notes"])}


def _send_survey(context, target, step, activity_id):
    if target.kind != "customer":
        return {"action": "send_survey", "skipped": "not_a_customer"}
    answers = context.hooks.kehu_request_survey(context=context, customer_id=target.id, form=step.get("form"),
                                                after=f"activity:{activity_id}")
    if not answers:
        return {"action": "send_survey", "form": step.get("form"), "skipped": "plugin_disabled"}
    return {"action": "send_survey", "form": step.get("form"), "survey": answers[0]}


def _return_to_pool(context, target, disposition_name):
    if target.kind != "lead":
        return {"action": "return_to_pool", "skipped": "not_a_lead"}
    answers = context.hooks.kehu_return_lead_to_pool(context=context, lead_id=target.id,
                                                     reason=f"call disposition {disposition_name}")
    if not answers:
        return {"action": "return_to_pool", "skipped": "plugin_disabled"}
    return {"action": "return_to_pool", **answers[0]}


def _mark_invalid(context, target, data):
    """The number leaves dialing lists through the phones service; one already marked keeps its open mark."""
    from kehu.plugins.callcenter import phones

    if not target.phone:
        return {"action": "mark_invalid", "skipped": "no_number"}
    mark = phones.mark_invalid(context, target.phone, customer_id=target.customer_id, lead_id=target.lead_id,
                               reason=data["notes"], reuse=True)
    return {"action": "mark_invalid", **mark}


def next_action(context, settings, target, data, disposition, activity_id):
    """Run the disposition's next action (DESIGN decision 4 for the cross-plugin ones); returns what happened."""
    step = (disposition or {}).get("next")
    action = step["action"] if step else None
    reason = f"disposition {data['disposition']}" if data["disposition"] else f"stage {data['intent']}"
    if action == "callback":
        return _callback(context, settings, target, data, step, reason)
    if action == "book_visit":
        return _book_visit(context, target, data)
    if action is None:
        due = data["callback"] or _stage_due(context, settings, data["intent"])
        if due is None:
            return None
        return {"action": "callback", "for": "caller", **schedule_task(
            context, target, f"call back {target.name} ({reason})", due)}
    if action == "send_survey":
        result = _send_survey(context, target, step, activity_id)
    elif action == "return_to_pool":
        result = _return_to_pool(context, target, data["disposition"])
    else:
        result = _mark_invalid(context, target, data)
    if data["callback"] is not None:  # the caller asked for a reminder as well
        result["callback"] = schedule_task(context, target, f"call back {target.name} ({reason})",
                                           data["callback"])
    return result


# --- logging a call -----------------------------------------------------------------------------------------


def _stage_view(settings, intent):
    item = cc_settings.stage(settings, intent)
    return {"stage": item["stage"], "name": item["name"], "talk_track": list(item["talk_track"])}


@service
def log_call(context, target, intent, annotations=None, need_category=None, awareness_category=None,
             disposition=None, callback=None, notes=None):
    """Record a call on ``CUSTOMER`` or ``lead:ID`` (one transaction): validate it against the workspace's
    rules (stage, annotation rules both ways, category values, the disposition's required notes and callback
    time), write the core call activity and the call-center details, run the disposition's next action, and
    return the talk track of the stage the call leaves the customer in (the annotation page's prompt).

    Returns ``{"call", "activity", "target", "intent", "intent_before", "stage", "talk_track", "next"}``;
    ``next`` says what happened (a task, a pool return, or ``skipped`` with why), ``None`` when nothing."""
    access.require(context, "view", "log calls")
    settings = cc_settings.settings_for(context)
    who = resolve_target(context, target)
    data, rule = _validate_call(context, settings, {
        "intent": intent, "annotations": annotations, "need_category": need_category,
        "awareness_category": awareness_category, "disposition": disposition, "callback": callback,
        "notes": notes})
    previous = latest_call(context, who)
    stage = _stage_view(settings, data["intent"])
    activity = activities.log_activities(context, [{
        "kind": "call", "subject": f"call {who.name}: stage {stage['stage']}"[:300], "notes": data["notes"],
        "customer": who.customer_id, "entity": who.entity}])[0]
    call = CallLog.create(
        workspace=context.workspace, activity=activity["id"], customer=who.customer_id, lead_id=who.lead_id,
        rep=context.user, at=context.now, intent=data["intent"],
        intent_before=previous.intent if previous else None, annotations=data["annotations"],
        need_category=data["need_category"], awareness_category=data["awareness_category"],
        disposition=data["disposition"], callback_at=data["callback"], phone=who.phone)
    if who.kind == "customer" and context.user is not None:
        from kehu.plugins.callcenter import phones

        phones.mark_called(context, who.id, context.user.id)
    done = next_action(context, settings, who, data, rule, activity["id"])
    result = {"call": call.id, "activity": activity["id"], "target": who.label, "intent": call.intent,
              "intent_before": call.intent_before, "stage": stage["name"], "talk_track": stage["talk_track"],
              "next": done}
    context.audit("call.logged", "call", call.id, after={**call_view(call), "next": done})
    return result


def call_view(call, login=None):
    """A call as JSON: who, when, the stage move, annotations, categories, disposition."""
    return {"call": call.id, "activity": call.activity_id, "customer": call.customer_id, "lead": call.lead_id,
            "rep": login, "at": to_utc(call.at).isoformat(), "intent_before": call.intent_before, "intent": call.intent,
            "move": f"{'new' if call.intent_before is None else call.intent_before} → {call.intent}",
            "annotations": dict(call.annotations or {}), "need_category": call.need_category,
            "awareness_category": call.awareness_category, "disposition": call.disposition,
            "callback_at": to_utc(call.callback_at).isoformat() if call.callback_at else None, "phone": call.phone}


def call_history(context, target):
    """The calls on ``CUSTOMER`` or ``lead:ID``, newest first, each with its stage move (``0 → 2``)."""
    who = resolve_target(context, target)
    rep = User.alias()
    query = (_calls_of(context, who).select_extend(rep.login.alias("rep_login"))
             .join_from(CallLog, rep, JOIN.LEFT_OUTER, on=(CallLog.rep == rep.id))
             .order_by(CallLog.at.desc(), CallLog.id.desc()).objects())
    return [call_view(call, call.rep_login) for call in query]


# --- the annotation page's panels ----------------------------------------------------------------------------


def list_categories(context):
    """The need and awareness category values of the workspace (``{"need": [...], "awareness": [...]}``)."""
    categories = cc_settings.settings_for(context)["categories"]
    return {"need": list(categories.get("need", [])), "awareness": list(categories.get("awareness", []))}


def list_stages(context):
    """The intent stages with their meanings, default callback interval and talk-track points (§4.2)."""
    return [{"stage": s["stage"], "name": s["name"], "callback_days": s["callback_days"],
             "talk_track": list(s["talk_track"])} for s in cc_settings.settings_for(context)["intent_stages"]]


def _latest_category(context, target, column):
    row = (_calls_of(context, target).where(column.is_null(False))
           .order_by(CallLog.at.desc(), CallLog.id.desc()).first())
    return getattr(row, column.name) if row else None


def call_script(context, target):
    """The right panel for ``CUSTOMER`` (or ``lead:ID``): the talk track of its current intent stage (its
    latest call's; stage 0 assumed before the first call), the scripts for its latest need and awareness
    categories, and the common objections with answers."""
    settings = cc_settings.settings_for(context)
    who = resolve_target(context, target)
    last = latest_call(context, who)
    stage = _stage_view(settings, last.intent if last else 0)
    need = _latest_category(context, who, CallLog.need_category)
    awareness = _latest_category(context, who, CallLog.awareness_category)
    scripts = settings["scripts"]
    return {"target": who.label, "name": who.name, "intent": stage["stage"], "assumed": last is None,
            "stage": stage["name"], "talk_track": stage["talk_track"],
            "need_category": need, "need_script": scripts.get("need", {}).get(need) if need else None,
            "awareness_category": awareness,
            "awareness_script": scripts.get("awareness", {}).get(awareness) if awareness else None,
            "objections": [dict(o) for o in settings["objections"]]}


# --- settings -------------------------------------------------------------------------------------------------


def show_settings(context):
    """The call-center settings in force (the default document with the workspace's override laid over it)."""
    return copy.deepcopy(cc_settings.settings_for(context))  # never hand out the shared default


@service
def set_settings(context, document):
    """Replace the workspace's override with ``document`` (a dict or JSON text; parts left out keep the
    defaults). gm and admin only (the ``admin`` permission); the merged document is validated whole and
    nothing is stored when it is invalid. Audited with the override before and after."""
    access.require(context, "admin", "change the call-center settings")
    document = parse_document(document, "settings")
    merged = cc_settings.load_settings(cc_settings.merge(cc_settings.DEFAULT_SETTINGS, document))
    store_override(context, CallcenterSettings, document, "callcenter.settings_set")
    return merged


# --- sources (§2.5) ---------------------------------------------------------------------------------------------

def check_sources(context, entity, records, origin):
    """``kehu_before_create`` for customers and leads: sources are the workspace's picklist (DOMAIN.md §2.5).

    Created by an import or by the system without a source: filled in with the default source (系统客户; hooks
    may fill a missing value, never replace one). Entered by hand by a user whose role is in
    ``source_required_for_roles`` (reps, by default): vetoed without a source ("choose a source: ...") or with
    one outside the picklist. Returns ``None`` or a list aligned with ``records``.
    """
    if entity not in ("customer", "lead"):
        return None
    settings = cc_settings.settings_for(context)
    sources = settings["sources"]
    bound = (origin == "manual" and context.user is not None
             and context.user.role in settings["source_required_for_roles"])
    answers = []
    for record in records:
        source = record.get("source")
        if source is None and not bound and origin != "manual":
            record["source"] = settings["default_source"]
            answers.append(None)
        elif bound and source is None:
            answers.append(Veto(f"choose a source: {', '.join(sources)}", code="invalid"))
        elif bound and source not in sources:
            answers.append(Veto(f"source {source!r} is not in the picklist: {', '.join(sources)}", code="invalid"))
        else:
            answers.append(None)
    return answers


# --- new vs old (§2.6) ----------------------------------------------------------------------------------------


def month_bounds(month, tz):
    """``YYYY-MM`` as ``(first local day, UTC start, UTC end)`` of that calendar month in ``tz``."""
    match = _MONTH.match(str(month or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise Invalid(f"month must be YYYY-MM, not {month!r}")
    year, number = int(match.group(1)), int(match.group(2))
    first = dt.date(year, number, 1)
    after = dt.date(year + number // 12, number % 12 + 1, 1)
    return first, _midnight(first, tz), _midnight(after, tz)


def _midnight(day, tz):
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.timezone.utc)


def _followups(context, before):
    """Follow-ups (calls and visits on customers, by a rep) before ``before``: ``rep_id, customer_id, at``."""
    at = CallLog.at.to_value(before)
    calls = CallLog.select(CallLog.rep.alias("rep_id"), CallLog.customer.alias("customer_id"),
                           CallLog.at.alias("at")).where(
        CallLog.workspace == context.workspace, CallLog.rep.is_null(False), CallLog.customer.is_null(False),
        CallLog.at < at)
    visits = VisitLog.select(VisitLog.rep.alias("rep_id"), VisitLog.customer.alias("customer_id"),
                             VisitLog.at.alias("at")).where(
        VisitLog.workspace == context.workspace, VisitLog.rep.is_null(False), VisitLog.at < at)
    return calls + visits  # UNION ALL


def _previous(model, context, outer, start):
    """Correlated: the latest follow-up in ``model`` by the row's rep on its customer before ``start``."""
    return model.select(fn.MAX(model.at)).where(
        model.workspace == context.workspace, model.rep == outer.c.rep_id, model.customer == outer.c.customer_id,
        model.at < model.at.to_value(start))


def classify_month_query(context, month, reps_query=None, customer_id=None):
    """The new/old classification of ``month`` (``YYYY-MM``, local calendar month) as one SQL query.

    Columns: ``rep_id``, ``customer_id``, ``first_at`` (the rep's first follow-up of the customer that month),
    ``prev_call``/``prev_visit`` (their latest call/visit before the month, UTC; raw as the driver returns
    them), ``classification`` (``'new'`` | ``'old'``). Only pairs followed up that month appear: every other
    pair is ``none``. ``reps_query`` (a subquery or list of user ids, e.g. ``access.users_in_scope(context)``)
    and ``customer_id`` narrow it. The reports import this to count new and old per rep in SQL.

    How: follow-ups of the month grouped per (rep, customer) give ``first_at``; correlated subqueries give the
    previous call and visit. The gap counts local calendar days (DESIGN decision 7): for each day ``d`` of the
    month, the first follow-up falling on ``d`` is new when the previous one is before local midnight of
    ``d − gap_days + 1`` (inclusive rule; ``d − gap_days`` exclusive). Those thresholds are instants computed
    here with the workspace's time zone, so the SQL compares plain timestamps on SQLite and PostgreSQL alike.
    """
    rule = cc_settings.settings_for(context)["new_customer"]
    first_day, start, end = month_bounds(month, context.tz)
    follow = _followups(context, end).alias("f")
    in_month = (Select([follow], [follow.c.rep_id, follow.c.customer_id, fn.MIN(follow.c.at).alias("first_at")])
                .where(follow.c.at >= CallLog.at.to_value(start)).group_by(follow.c.rep_id, follow.c.customer_id))
    if reps_query is not None:
        in_month = in_month.where(follow.c.rep_id.in_(reps_query))
    if customer_id is not None:
        in_month = in_month.where(follow.c.customer_id == customer_id)
    month_rows = in_month.alias("m")
    shift = rule["gap_days"] - (1 if rule["inclusive"] else 0)
    branches, day = [], first_day
    while _midnight(day, context.tz) < end:
        following = day + dt.timedelta(days=1)
        branches.append((month_rows.c.first_at < CallLog.at.to_value(_midnight(following, context.tz)),
                         CallLog.at.to_value(_midnight(day - dt.timedelta(days=shift), context.tz))))
        day = following
    paired = Select([month_rows], [
        month_rows.c.rep_id, month_rows.c.customer_id, month_rows.c.first_at,
        _previous(CallLog, context, month_rows, start).alias("prev_call"),
        _previous(VisitLog, context, month_rows, start).alias("prev_visit"),
        Case(None, branches).alias("threshold")]).alias("p")
    is_new = (((paired.c.prev_call.is_null()) | (paired.c.prev_call < paired.c.threshold))
              & ((paired.c.prev_visit.is_null()) | (paired.c.prev_visit < paired.c.threshold)))
    return Select([paired], [paired.c.rep_id, paired.c.customer_id, paired.c.first_at, paired.c.prev_call,
                             paired.c.prev_visit, Case(None, [(is_new, NEW)], OLD).alias("classification")]) \
        .bind(CallLog._meta.database)


def classify_month(context, month, reps_query=None, customer_id=None):
    """``[(rep_id, customer_id, "new" | "old"), ...]`` for ``month`` (``YYYY-MM``), computed in SQL by
    :func:`classify_month_query` (same arguments); pairs not followed up that month (``none``) are absent."""
    query = classify_month_query(context, month, reps_query, customer_id)
    return [(rep_id, customer_id, kind) for rep_id, customer_id, _, _, _, kind in query.tuples()]


def _local_day(value, tz):
    return CallLog.at.python_value(value).astimezone(tz).date() if value is not None else None


def classify(context, customer, rep, month):
    """Whether ``customer`` is ``new``, ``old`` or ``none`` for ``rep`` (a login) in ``month`` (DOMAIN.md §2.6),
    with the dates behind it. Derived from the call and visit log, never stored. The acting user sees the rep
    (themselves, or a rep in their scope)."""
    customer = customer_by_id(context, customer)
    user = user_by_login(context, rep, active_only=False)
    if context.user is not None and user.id != context.user.id and not access.owner_in_scope(context, user.id):
        raise PermissionDenied(f"{user.login} is outside the data scope of {context.user.login}")
    rule = cc_settings.settings_for(context)["new_customer"]
    label = month_bounds(month, context.tz)[0].strftime("%Y-%m")
    row = classify_month_query(context, label, [user.id], customer.id).tuples().first()
    result = {"customer": customer.id, "rep": user.login, "month": label}
    if row is None:
        return {**result, "classification": NONE,
                "reason": f"no call or visit by {user.login} on customer {customer.id} in {label}"}
    first = _local_day(row[2], context.tz)
    previous = max((d for d in (_local_day(row[3], context.tz), _local_day(row[4], context.tz)) if d),
                   default=None)
    if previous is None:
        reason = f"first follow-up by {user.login} in {label} on {first}; none before"
    else:
        sign = ("≥" if rule["inclusive"] else ">") if row[5] == NEW else ("<" if rule["inclusive"] else "≤")
        reason = (f"first follow-up by {user.login} in {label} on {first}, {(first - previous).days} days after "
                  f"the previous one on {previous} ({sign} {rule['gap_days']})")
    return {**result, "classification": row[5], "first": first.isoformat(),
            "previous": previous.isoformat() if previous else None, "reason": reason}


SERVICES = {"log": log_call, "history": call_history, "categories": list_categories, "stages": list_stages,
            "script": call_script, "settings": show_settings, "settings_set": set_settings, "classify": classify}
