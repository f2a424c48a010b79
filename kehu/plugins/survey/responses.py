"""Sending surveys and answering them (DOMAIN.md §5.1), and the low-score loop.

A *response slot* (:class:`~kehu.plugins.survey.models.SurveyResponse`) is created when a form is sent to a
customer. It carries an unguessable single-use token and a copy of the form as it was sent; answers are
validated against that copy, and the derived figures (nps, csat_points/csat_max, expectation/perception) are
stored beside them so reports aggregate in SQL.

Decisions:

* Tokens are ``secrets.token_urlsafe(24)`` (192 random bits, URL-safe), re-drawn while they begin with ``-``
  (people paste them on command lines, where ``-x…`` reads as an option).
* The sender must see the customer (its data scope); the system (jobs, hooks without a user) may send.
* The answering party is the customer, reached through an external form or an integrator: any caller holding
  the token may answer, with or without an acting user. With ``by_rep`` a rep records answers given on paper
  during a visit: that needs a user who sees the customer, and marks ``collected_by``.
* Single use is a conditional ``UPDATE … WHERE answered_at IS NULL``: of two concurrent answers one wins, the
  other gets ``conflict``.
* CSAT counts the scale questions *without* a role: the expectation and perception questions (C = b/a) measure
  something else and are stored apart.
* The low-score loop: a response is low when its NPS answer is at most ``nps`` or its CSAT percentage is below
  ``csat_pct`` (defaults :data:`LOW_SCORE`, overridable per workspace by ``Workspace.settings
  ["survey_low_score"]``, e.g. ``{"nps": 5}``). It runs in the answering transaction; the job
  ``survey.low_scores`` (every tick) catches any answered low response not followed up yet (e.g. after the
  threshold was raised). Each response is followed up once (``followed_up_at``): a task for the customer's owner
  due in :data:`FOLLOW_UP_DAYS` days, and a notice to the owner's nearest managers (see :func:`managers_of`).
"""

import datetime as dt
import re
import secrets

import attrs

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import is_postgres, to_utc
from kehu.core.models import Activity, Customer, OrgUnit, Role, User
from kehu.core.services import activities
from kehu.core.services.lookup import customer_by_id
from kehu.errors import Conflict, Invalid, NotFound, PermissionDenied
from kehu.plugins.survey import forms
from kehu.plugins.survey.models import Complaint, SurveyResponse

LOW_SCORE = {"nps": 6, "csat_pct": 60}
FOLLOW_UP_DAYS = 2
DEFAULT_FORM = "nps"  # what a hook asks for without naming a form
_AFTER = re.compile(r"^(activity|complaint):(\d+)$")


# --- tokens and slots -------------------------------------------------------------------------------------


def new_token():
    """A URL-safe, unguessable token that never begins with ``-``."""
    token = secrets.token_urlsafe(24)
    while token.startswith("-"):
        token = secrets.token_urlsafe(24)
    return token


def _parse_after(context, after):
    """``activity:ID`` or ``complaint:ID`` of this workspace, or ``None``."""
    if after is None or str(after).strip() == "":
        return None
    match = _AFTER.match(str(after).strip())
    if not match:
        raise Invalid(f"--after is activity:ID or complaint:ID, not {after!r}")
    kind, number = match.group(1), int(match.group(2))
    model = Activity if kind == "activity" else Complaint
    if not model.select().where(model.workspace == context.workspace, model.id == number).exists():
        raise NotFound(f"no {kind} {number}")
    return f"{kind}:{number}"


def _login(user_id):
    if user_id is None:
        return None
    return User.select(User.login).where(User.id == user_id).scalar()


def slot_view(row):
    """A response slot as services return it."""
    return {"response": row.id, "token": row.token, "form": row.form_key, "customer": row.customer_id,
            "after": row.after, "sent_by": _login(row.sent_by_id), "sent_at": to_utc(row.sent_at).isoformat(),
            "answered_at": to_utc(row.answered_at).isoformat() if row.answered_at else None,
            "collected_by": _login(row.collected_by_id)}


def send_in_transaction(context, form, customer_id, after=None):
    """Create a response slot for ``customer_id`` with form ``form`` (default ``nps``) inside the caller's
    transaction (the ``kehu_request_survey`` hook); returns the slot with its token. See :func:`send`."""
    template = forms.form_for(context, form or DEFAULT_FORM)
    customer = customer_by_id(context, customer_id)
    if context.user is not None:
        access.require_customer(context, "view", customer)
    prompted_by = _parse_after(context, after)
    sent = {"key": template["key"], "title": template["title"], "questions": template["questions"]}
    row = SurveyResponse.create(workspace=context.workspace, form_key=template["key"], form=sent,
                                customer=customer.id, token=new_token(), after=prompted_by, sent_by=context.user,
                                sent_at=context.now)
    view = slot_view(row)
    context.audit("survey.sent", "survey_response", row.id, after={k: v for k, v in view.items() if k != "token"})
    return view


@service
def send(context, form, customer, after=None):
    """Send survey ``form`` to ``customer`` (an id): a response slot with a single-use token.

    ``after`` names what prompted it (``activity:ID`` or ``complaint:ID``). The sender must see the customer.
    Returns ``{"response", "token", "form", "customer", "after", "sent_by", "sent_at", ...}``.
    """
    return send_in_transaction(context, form, customer, after=after)


# --- validating answers -----------------------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _answer_problem(question, value):
    """What is wrong with ``value`` as the answer to ``question`` (text), or ``None``; ``value`` is given."""
    kind = question["type"]
    if kind in ("scale", "nps"):
        low, high = (1, question["max"]) if kind == "scale" else (0, 10)
        if not _is_int(value) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}, not {value!r}"
    elif kind == "choice":
        choices = question["choices"]
        if question.get("multiple"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return "must be a list of choices"
            unknown = [v for v in value if v not in choices]
            if unknown:
                return f"{', '.join(map(repr, unknown))} not among the choices ({'; '.join(choices)})"
            if len(set(value)) != len(value):
                return "names a choice twice"
        elif not isinstance(value, str) or value not in choices:
            return f"must be one of: {'; '.join(choices)} — not {value!r}"
    elif not isinstance(value, str):
        return "must be text"
    elif len(value) > question.get("max_length", forms.TEXT_MAX_LENGTH):
        return f"is {len(value)} characters, at most {question['max_length']}"
    return None


def _given(value):
    """Absent, ``null``, blank text and an empty list all mean "not answered"."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, list):
        return len(value) > 0
    return True


def validate_answers(form, answers):
    """``answers`` (``{question_key: value}``) checked against ``form``; returns the clean answers (text
    stripped, unanswered left out) or raises ``invalid`` naming every problem."""
    if not isinstance(answers, dict):
        raise Invalid("answers are a JSON object keyed by question key, e.g. {\"score\": 9}")
    questions = {q["key"]: q for q in form["questions"]}
    problems = [f"{key}: unknown question (form {form['key']} asks {', '.join(questions)})"
                for key in answers if key not in questions]
    clean = {}
    for key, question in questions.items():
        value = answers.get(key)
        if not _given(value):
            if question["required"]:
                problems.append(f"{key}: required")
            continue
        value = value.strip() if isinstance(value, str) else value
        problem = _answer_problem(question, value)
        if problem:
            problems.append(f"{key}: {problem}")
        else:
            clean[key] = value
    if problems:
        raise Invalid("answers not accepted: " + "; ".join(problems), details={"problems": problems})
    return clean


def figures(form, answers):
    """The derived figures of clean ``answers``: ``nps``, ``csat_points``, ``csat_max``, ``expectation``,
    ``perception`` (each ``None`` when the form does not ask it or it was not answered)."""
    out = {"nps": None, "csat_points": None, "csat_max": None, "expectation": None, "perception": None}
    for question in form["questions"]:
        value = answers.get(question["key"])
        if value is None:
            continue
        if question["type"] == "nps":
            out["nps"] = value
        elif question["type"] == "scale" and question.get("role"):
            out[question["role"]] = value
        elif question["type"] == "scale":
            out["csat_points"] = (out["csat_points"] or 0) + value
            out["csat_max"] = (out["csat_max"] or 0) + question["max"]
    return out


# --- answering --------------------------------------------------------------------------------------------


def slot_by_token(context, token):
    token = str(token or "").strip()
    row = SurveyResponse.get_or_none(SurveyResponse.workspace == context.workspace, SurveyResponse.token == token)
    if row is None:
        raise NotFound("no survey response with that token")
    return row


def _collector(context, row, by_rep):
    """The rep recording paper answers (must see the customer), or ``None`` when the customer answers."""
    if not by_rep:
        return None
    if context.user is None:
        raise PermissionDenied("answers recorded by a rep need the rep (--as LOGIN)")
    access.require_customer(context, "view", Customer.get_by_id(row.customer_id))
    return context.user


@service
def answer(context, token, answers, by_rep=False):
    """Answer the survey behind ``token`` once, with ``answers`` (``{question_key: value}``).

    Every answer is validated against the form as it was sent (``invalid`` names each problem; nothing is
    stored). A token answers once (``conflict`` after); an unknown token is ``not_found``. ``by_rep``: the acting
    user records answers the customer gave on paper (``collected_by``). A low score starts the follow-up loop
    in the same transaction. Returns the slot with ``answers``, the figures and ``follow_up``.
    """
    row = slot_by_token(context, token)
    if row.answered_at is not None:
        raise Conflict(f"survey response {row.id} was already answered")
    collector = _collector(context, row, by_rep)
    clean = validate_answers(row.form, answers)
    derived = figures(row.form, clean)
    won = (SurveyResponse.update(answered_at=context.now, answers=clean, collected_by=collector, **derived)
           .where(SurveyResponse.id == row.id, SurveyResponse.answered_at.is_null()).execute())
    if won != 1:  # a concurrent answer got there first
        raise Conflict(f"survey response {row.id} was already answered")
    row = SurveyResponse.get_by_id(row.id)
    context.audit("survey.answered", "survey_response", row.id,
                  after={"answers": clean, "collected_by": _login(row.collected_by_id), **derived})
    follow_ups = follow_up(context, [row]) if is_low(context, row) else []
    result = {**slot_view(row), "answers": clean, **derived, "follow_up": follow_ups[0] if follow_ups else None}
    context.after_commit(lambda: context.hooks.kehu_survey_answered(context=context, responses=[result]))
    return result


# --- the low-score loop -----------------------------------------------------------------------------------


def low_score(context):
    """The workspace's thresholds: :data:`LOW_SCORE` updated by ``settings["survey_low_score"]``."""
    limits = dict(LOW_SCORE)
    override = (context.workspace.settings or {}).get("survey_low_score") or {}
    for key in LOW_SCORE:
        value = override.get(key)
        if _is_int(value):
            limits[key] = value
    return limits


def is_low(context, row):
    """Whether an answered response is low: NPS ≤ the threshold, or CSAT% below it (integer arithmetic)."""
    limits = low_score(context)
    if row.nps is not None and row.nps <= limits["nps"]:
        return True
    return bool(row.csat_max) and row.csat_points * 100 < limits["csat_pct"] * row.csat_max


def low_condition(context):
    """:func:`is_low` as a SQL condition."""
    limits = low_score(context)
    return ((SurveyResponse.nps <= limits["nps"])
            | ((SurveyResponse.csat_max > 0)
               & (SurveyResponse.csat_points * 100 < limits["csat_pct"] * SurveyResponse.csat_max)))


def _manager_roles(context):
    return {role.key: role.rank for role in Role.select().where(
        Role.workspace == context.workspace, Role.rank >= access.MANAGER_RANK, Role.key != "admin")}


def managers_of(context, owner):
    """Who hears of a low score: the lowest-ranked managers (rank ≥ manager, admin aside) of the nearest unit
    at or above the owner's unit that has any (m1 for 销售一部's reps; d1 for a department without a manager);
    with none up the tree, the lowest-ranked workspace-wide ones (scope ``all``: the VP)."""
    roles = _manager_roles(context)
    active = User.select().where(User.workspace == context.workspace, User.active == True,  # noqa: E712
                                 User.role.in_(list(roles)))
    path = None
    if owner is not None and owner.unit_id is not None:
        path = OrgUnit.get_by_id(owner.unit_id).path
    while path:
        found = list(active.join(OrgUnit).where(OrgUnit.path == path))
        found = [u for u in found if owner is None or u.id != owner.id]
        if found:
            return _lowest(found, roles)
        path = path.rpartition("/")[0]
    scoped_all = {r.key for r in Role.select().where(Role.workspace == context.workspace, Role.scope == "all")}
    return _lowest([u for u in active if u.role in scoped_all], roles)


def _lowest(users, roles):
    if not users:
        return []
    rank = min(roles[u.role] for u in users)
    return sorted((u for u in users if roles[u.role] == rank), key=lambda u: u.id)


def _describe(row):
    parts = []
    if row.nps is not None:
        parts.append(f"NPS answer {row.nps}")
    if row.csat_max:
        parts.append(f"CSAT {row.csat_points}/{row.csat_max}")
    return ", ".join(parts)


def _follow_up_one(context, row):
    customer = Customer.get_by_id(row.customer_id)
    owner = User.get_by_id(customer.owner_id) if customer.owner_id is not None else None
    what = f"low survey score from {customer.name} ({row.form_key}: {_describe(row)})"
    task = None
    if owner is not None and owner.active:
        acting = attrs.evolve(context, user=owner, cache={})  # the task is the owner's, same transaction
        task = activities.log_activity(acting, "task", f"follow up {what}"[:300], customer=customer.id,
                                       due=context.now + dt.timedelta(days=FOLLOW_UP_DAYS),
                                       entity=f"survey_response:{row.id}")["id"]
    managers = managers_of(context, owner)
    context.notify([Notice(m.id, "survey_low_score", f"{what}; owner {owner.login if owner else 'none'}",
                           f"survey_response:{row.id}") for m in managers])
    result = {"response": row.id, "task": task, "owner": owner.login if owner else None,
              "notified": [m.login for m in managers]}
    context.audit("survey.followed_up", "survey_response", row.id, after=result)
    return result


def follow_up(context, rows):
    """Follow up low responses once each: claim each (conditional UPDATE of ``followed_up_at``, so two runs
    never both win), then a task for the owner and a notice to their managers. Returns what was done."""
    done = []
    for row in rows:
        claimed = (SurveyResponse.update(followed_up_at=context.now)
                   .where(SurveyResponse.id == row.id, SurveyResponse.followed_up_at.is_null()).execute())
        if claimed:
            done.append(_follow_up_one(context, row))
    return done


@service
def follow_up_low_scores(context):
    """Job (every tick): follow up the answered low responses not followed up yet. Idempotent."""
    query = SurveyResponse.select().where(
        SurveyResponse.workspace == context.workspace, SurveyResponse.answered_at.is_null(False),
        SurveyResponse.followed_up_at.is_null(), low_condition(context)).order_by(SurveyResponse.id)
    if is_postgres():
        query = query.for_update(skip_locked=True)
    done = follow_up(context, list(query))
    return {"followed_up": len(done)}


SERVICES = {"send": send, "answer": answer}
JOBS = [("survey.low_scores", follow_up_low_scores, "tick")]
