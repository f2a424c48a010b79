"""Complaints and inquiries (投诉/咨询, DOMAIN.md §5.2–5.3): open → dispatch (派工) → resolve →
return visit (回访) → satisfaction confirmed, every step recorded with who and when (:class:`ComplaintStep`).

Decisions (where the issue leaves room):

* **Who is told.** Opening tells the customer's owner's supervisors at once (§5.3 "a supervisor sees them at
  once"): the active users of rank manager or above (not admin) in the nearest org unit, walking up from the
  owner's unit (li → m1; zhao, whose unit has no manager → d1). A customer without an owner: the opener's
  supervisors. Nobody is told about their own action.
* **Timetable.** A complaint is due :data:`DEFAULT_DUE_DAYS` days (exact instants, DESIGN decision 7) after it
  is opened unless ``--due`` says otherwise (§5.3 step 5: a solution with a timetable).
* **Routing.** A ``product_quality`` complaint is dispatched only to an active user of role ``quality``
  (§5.2: product-quality issues go to quality management); a ``service`` complaint to any active user in the
  dispatcher's data scope. A manager or above who sees the complaint dispatches; quality may dispatch
  product-quality complaints among themselves. Dispatching again (open or dispatched) reassigns.
* **The handling opinion goes back to the customer** (§5.2): resolving stores ``opinion`` (required for
  product_quality), writes a core ``note`` activity on the customer with the opinion (or the resolution) as
  the reply, and tells the owner to reply. The assignee may not see the customer (a quality user sees all; a
  rep dispatched on a colleague's customer does not): then the note is written by the system, naming them.
* **Return visit.** A core activity of kind ``visit`` (done, at ``--done``, default now) written through core's
  activity service by the owner or a manager or above. The job ``survey.complaint_surveys`` (``kehu tick``)
  then sends the ``satisfaction`` survey to the customer, ``after=complaint:ID``, and links it — also when
  the complaint was confirmed before the tick ran; each complaint in its own savepoint, so one failure (an
  unknown form, a deleted customer) is reported under ``failed`` and retried next tick, never losing the rest.
* **Not satisfied** (§5.3 step 6 fails): the complaint goes back to ``dispatched`` with its assignee (a step
  ``reopened``, the assignee told); its survey link is cleared so the next return visit surveys again (the old
  response keeps its ``after``). Satisfied: status ``confirmed``, closed.
* **Visibility.** A complaint is seen by whoever sees its customer (core's data scope), its assignee and its
  opener; the ``quality`` role (scope all) sees product-quality complaints (and those assigned to it) only.
* Steps in the wrong order are ``conflict`` naming the current status.
"""

import datetime as dt

import attrs
from peewee import JOIN

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import database, is_postgres, lock_rows
from kehu.core.models import Customer, OrgUnit, Role, User
from kehu.core.services import activities
from kehu.core.services.lookup import customer_by_id, parse_id, user_by_login
from kehu.core.timeutil import parse_instant
from kehu.errors import Conflict, Invalid, KehuError, NotFound, PermissionDenied
from kehu.plugins.survey.models import Complaint, ComplaintStep

DEFAULT_DUE_DAYS = 3  # §5.3 step 5: the timetable a complaint is promised by default, from when it is opened
KINDS = ("complaint", "inquiry")
CATEGORIES = ("service", "product_quality")
PRODUCT_QUALITY = "product_quality"
QUALITY_ROLE = "quality"
SURVEY_FORM = "satisfaction"
OPEN, DISPATCHED, RESOLVED, REVISITED, CONFIRMED = "open", "dispatched", "resolved", "revisited", "confirmed"
OPEN_STATUSES = (OPEN, DISPATCHED, RESOLVED, REVISITED)
# What each step needs the complaint to be in, and what the step before it is called (for the conflict).
NEEDS = {"dispatch": ((OPEN, DISPATCHED), "open"), "resolve": ((DISPATCHED,), "dispatched"),
         "revisit": ((RESOLVED,), "resolved"), "confirm": ((REVISITED,), "revisited")}


# --- views ---------------------------------------------------------------------------------------------------


def _iso(value):
    return None if value is None else value.astimezone(dt.timezone.utc).isoformat()


def _login(user_id):
    if user_id is None:
        return None
    return User.select(User.login).where(User.id == user_id).scalar()


def complaint_view(complaint, now=None):
    """The output shape of a complaint (times ISO UTC, users by login)."""
    customer = Customer.get_by_id(complaint.customer_id)
    return {
        "id": complaint.id, "customer": complaint.customer_id, "customer_name": customer.name,
        "kind": complaint.kind, "category": complaint.category, "subject": complaint.subject,
        "details": complaint.details, "status": complaint.status, "assignee": _login(complaint.assignee_id),
        "opened_by": _login(complaint.opened_by_id), "opened_at": _iso(complaint.opened_at),
        "due_at": _iso(complaint.due_at),
        "overdue": bool(now and complaint.due_at and complaint.status in (OPEN, DISPATCHED)
                        and now >= complaint.due_at),
        "dispatched_at": _iso(complaint.dispatched_at), "resolved_at": _iso(complaint.resolved_at),
        "resolution": complaint.resolution, "opinion": complaint.opinion,
        "revisited_at": _iso(complaint.revisited_at), "revisit_activity": complaint.revisit_activity,
        "survey_response": complaint.survey_response_id, "confirmed_at": _iso(complaint.confirmed_at),
        "satisfied": complaint.satisfied,
    }


def _steps(context, complaint_id):
    alias = User.alias()
    query = (ComplaintStep.select(ComplaintStep, alias.login.alias("actor_login"))
             .join(alias, JOIN.LEFT_OUTER, on=(ComplaintStep.actor == alias.id))
             .where(ComplaintStep.workspace == context.workspace, ComplaintStep.complaint == complaint_id)
             .order_by(ComplaintStep.at, ComplaintStep.id).objects())
    return [{"step": s.step, "by": s.actor_login or "system", "at": _iso(s.at), "notes": s.notes} for s in query]


# --- who sees what -------------------------------------------------------------------------------------------


def _is_quality(context):
    return context.user is not None and context.user.role == QUALITY_ROLE


def visible_condition(context):
    """A peewee expression for the complaints the acting user sees (``None`` = all): see the module notes."""
    if context.user is None:
        return None
    mine = (Complaint.assignee == context.user.id) | (Complaint.opened_by == context.user.id)
    if _is_quality(context):
        return (Complaint.category == PRODUCT_QUALITY) | mine
    if not access.has_permission(context, "view"):
        return mine
    owners = access.owner_condition(context, Customer.owner)
    if owners is None:
        return None
    seen = Customer.select(Customer.id).where(Customer.workspace == context.workspace, owners)
    return Complaint.customer.in_(seen) | mine


def _load(context, complaint_id, for_update=False):
    """The complaint the acting user sees, or ``not_found`` / ``permission_denied``."""
    complaint_id = parse_id(complaint_id, "complaint")
    query = Complaint.select().where(Complaint.workspace == context.workspace, Complaint.id == complaint_id)
    if for_update and is_postgres():
        query = query.for_update()  # two handlers racing on one complaint: the second waits, then sees the step
    complaint = query.first()
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}")
    condition = visible_condition(context)
    if condition is not None and not Complaint.select().where(Complaint.id == complaint.id, condition).exists():
        raise PermissionDenied(f"complaint {complaint.id} is outside the data scope of {context.user.login}")
    return complaint


def _require_order(complaint, action):
    allowed, previous = NEEDS[action]
    if complaint.status not in allowed:
        raise Conflict(f"complaint {complaint.id} is {complaint.status}: it must be {previous} to {action} it")


def _require(context, allowed, doing):
    if context.user is not None and not allowed:
        raise PermissionDenied(f"{context.user.login} ({context.user.role}) may not {doing}")


def _is_owner(context, complaint):
    owner_id = Customer.select(Customer.owner).where(Customer.id == complaint.customer_id).scalar()
    return context.user is not None and owner_id == context.user.id


# --- helpers -------------------------------------------------------------------------------------------------


def _record(context, complaint, step, notes=None):
    ComplaintStep.create(workspace=context.workspace, complaint=complaint, step=step, actor=context.user,
                         at=context.now, notes=notes)


def _save(context, complaint, action, before):
    complaint.save()
    after = complaint_view(complaint, context.now)
    context.audit(f"complaint.{action}", "complaint", complaint.id, before=before, after=after)
    return after


def _tell(context, user_ids, kind, message, complaint):
    """Notify ``user_ids`` (never the acting user) about ``complaint``; returns the logins told."""
    acting = getattr(context.user, "id", None)
    targets = [u for u in dict.fromkeys(user_ids) if u is not None and u != acting]
    context.notify([Notice(u, kind, message, f"complaint:{complaint.id}") for u in targets])
    return [_login(u) for u in targets]


def supervisors_of(context, user_id):
    """Active users of rank manager or above (admin aside) in the nearest unit at or above ``user_id``'s."""
    user = User.get_or_none(User.id == user_id)
    if user is None or user.unit_id is None:
        return []
    path = OrgUnit.get_by_id(user.unit_id).path
    parts = path.split("/")
    paths = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    ranks = Role.select(Role.key).where(Role.workspace == context.workspace, Role.rank >= access.MANAGER_RANK,
                                        Role.key != "admin")
    rows = (User.select(User.id, OrgUnit.path).join(OrgUnit)
            .where(User.workspace == context.workspace, User.active, User.id != user.id, User.role.in_(ranks),
                   OrgUnit.path.in_(paths)).tuples())
    found = {}
    for uid, unit_path in rows:
        found.setdefault(unit_path, []).append(uid)
    for candidate in paths:  # nearest first
        if candidate in found:
            return sorted(found[candidate])
    return []


def _as_system_unless_seen(context, customer_id):
    """The context to write an activity on the customer: the acting user if they see it, else the system
    (same transaction, shared after-commit queue)."""
    if context.user is None:
        return context
    customer = Customer.get_by_id(customer_id)
    if access.has_permission(context, "view") and access.owner_in_scope(context, customer.owner_id):
        return context
    return attrs.evolve(context, user=None, cache={})


def _choice(value, allowed, what):
    value = (value or "").strip().lower().replace("-", "_") or None
    if value not in allowed:
        raise Invalid(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _text(value, what, required=False, limit=None):
    value = " ".join(str(value).split()) if value is not None and str(value).strip() else None
    if value is None and required:
        raise Invalid(f"{what} must not be empty")
    if value is not None and limit and len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def _notes(value):
    return str(value).strip() or None if value is not None else None


# --- services ------------------------------------------------------------------------------------------------


@service
def open_complaint(context, customer, subject, kind="complaint", category="service", details=None, due=None):
    """Open a complaint or inquiry on ``customer`` (anyone who sees it). It is due ``due`` (ISO, local by
    default) or :data:`DEFAULT_DUE_DAYS` days from now; the owner's supervisors are told at once."""
    row = customer_by_id(context, customer)
    if context.user is not None:
        access.require_customer(context, "view", row)
    subject = _text(subject, "subject", required=True, limit=300)
    kind = _choice(kind or "complaint", KINDS, "kind")
    category = _choice(category or "service", CATEGORIES, "category")
    due_at = parse_instant(due, context.tz, "due") if due else context.now + dt.timedelta(days=DEFAULT_DUE_DAYS)
    if due_at <= context.now:
        raise Invalid(f"due {_iso(due_at)} is not after now")
    complaint = Complaint.create(workspace=context.workspace, customer=row.id, kind=kind, category=category,
                                 subject=subject, details=_notes(details), status=OPEN, opened_by=context.user,
                                 opened_at=context.now, due_at=due_at)
    _record(context, complaint, "opened", subject)
    view = complaint_view(complaint, context.now)
    context.audit("complaint.opened", "complaint", complaint.id, after=view)
    basis = row.owner_id if row.owner_id is not None else getattr(context.user, "id", None)
    told = _tell(context, supervisors_of(context, basis) if basis else [], "complaint_opened",
                 f"{kind} {complaint.id} on {row.name}: {subject}", complaint)
    return {**view, "notified": told}


def _assignee_for(context, complaint, login):
    user = user_by_login(context, login)  # not_found / invalid when inactive
    if complaint.category == PRODUCT_QUALITY:
        if user.role != QUALITY_ROLE:
            raise Invalid(f"a product_quality complaint goes to quality management: {user.login} is a "
                          f"{user.role}, not {QUALITY_ROLE}")
        return user
    if context.user is not None and not access.owner_in_scope(context, user.id):
        raise Invalid(f"{user.login} is outside the data scope of {context.user.login}")
    return user


@service
def dispatch_complaint(context, complaint_id, to):
    """派工: give the complaint to ``to`` (a login) — a manager or above who sees it, or quality for a
    product-quality complaint. Product-quality complaints go only to the ``quality`` role. The assignee is told."""
    complaint = _load(context, complaint_id, for_update=True)
    _require(context, access.is_manager_or_above(context)
             or (_is_quality(context) and complaint.category == PRODUCT_QUALITY), "dispatch complaints")
    _require_order(complaint, "dispatch")
    user = _assignee_for(context, complaint, to)
    before = complaint_view(complaint)
    complaint.assignee, complaint.status, complaint.dispatched_at = user.id, DISPATCHED, context.now
    _record(context, complaint, "dispatched", f"to {user.login}")
    after = _save(context, complaint, "dispatched", before)
    told = _tell(context, [user.id], "complaint_dispatched", f"complaint {complaint.id} is yours: "
                 f"{complaint.subject} (due {_iso(complaint.due_at)})", complaint)
    return {**after, "notified": told}


@service
def resolve_complaint(context, complaint_id, resolution, opinion=None):
    """Record how the complaint was handled (the assignee, a manager or above, or quality on product-quality
    complaints). The handling ``opinion`` (required for product_quality) goes back to the customer: a core note
    activity on the customer, and the owner is told to reply."""
    complaint = _load(context, complaint_id, for_update=True)
    user_id = getattr(context.user, "id", None)
    _require(context, complaint.assignee_id == user_id or access.is_manager_or_above(context)
             or (_is_quality(context) and complaint.category == PRODUCT_QUALITY), "resolve this complaint")
    _require_order(complaint, "resolve")
    resolution = _text(resolution, "resolution", required=True)
    opinion = _text(opinion, "opinion", required=complaint.category == PRODUCT_QUALITY)
    before = complaint_view(complaint)
    complaint.status, complaint.resolved_at = RESOLVED, context.now
    complaint.resolution, complaint.opinion = resolution, opinion
    writer = _as_system_unless_seen(context, complaint.customer_id)
    by = "" if writer is context else f" (by {context.actor_label})"
    note = activities.log_activity(writer, "note", f"reply to complaint {complaint.id}: {complaint.subject}"[:300],
                                   customer=complaint.customer_id, notes=f"{opinion or resolution}{by}",
                                   done=context.now)
    _record(context, complaint, "resolved", resolution)
    after = _save(context, complaint, "resolved", before)
    owner_id = Customer.select(Customer.owner).where(Customer.id == complaint.customer_id).scalar()
    told = _tell(context, [owner_id if owner_id is not None else complaint.opened_by_id], "complaint_resolved",
                 f"complaint {complaint.id} resolved: reply to the customer — {opinion or resolution}", complaint)
    return {**after, "reply_activity": note["id"], "notified": told}


@service
def revisit_complaint(context, complaint_id, notes=None, done=None):
    """回访: the customer's owner or a manager or above logs the return visit (a core ``visit`` activity, done at
    ``done`` or now). The ``survey.complaint_surveys`` job then sends the satisfaction survey."""
    complaint = _load(context, complaint_id, for_update=True)
    _require(context, _is_owner(context, complaint) or access.is_manager_or_above(context),
             "log a return visit on this complaint")
    _require_order(complaint, "revisit")
    done_at = parse_instant(done, context.tz, "done") if done else context.now
    if done_at > context.now:
        raise Invalid(f"the return visit at {done_at.isoformat()} is in the future")
    if done_at < complaint.resolved_at:
        raise Invalid(f"the return visit at {done_at.isoformat()} is before the resolution")
    before = complaint_view(complaint)
    visit = activities.log_activity(context, "visit", f"return visit: complaint {complaint.id}"[:300],
                                    customer=complaint.customer_id, notes=_notes(notes), done=done_at)
    complaint.status, complaint.revisited_at, complaint.revisit_activity = REVISITED, done_at, visit["id"]
    _record(context, complaint, "revisited", _notes(notes))
    return {**_save(context, complaint, "revisited", before), "visit_activity": visit["id"]}


def _yes_no(value):
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("yes", "y", "true", "1"):
        return True
    if text in ("no", "n", "false", "0"):
        return False
    raise Invalid(f"satisfied must be yes or no, not {value!r}")


@service
def confirm_complaint(context, complaint_id, satisfied, notes=None):
    """§5.3 step 6: the owner or a manager or above confirms whether the customer is satisfied. Yes closes the
    complaint (``confirmed``); no sends it back to ``dispatched`` with its assignee, who is told."""
    complaint = _load(context, complaint_id, for_update=True)
    _require(context, _is_owner(context, complaint) or access.is_manager_or_above(context),
             "confirm this complaint")
    _require_order(complaint, "confirm")
    satisfied = _yes_no(satisfied)
    before = complaint_view(complaint)
    complaint.satisfied = satisfied
    if satisfied:
        complaint.status, complaint.confirmed_at = CONFIRMED, context.now
        _record(context, complaint, "confirmed", _notes(notes))
        return {**_save(context, complaint, "confirmed", before), "notified": []}
    # Not satisfied: handling starts again with the same assignee; the next return visit is surveyed anew.
    complaint.status, complaint.survey_response = DISPATCHED, None
    _record(context, complaint, "reopened", _notes(notes) or "customer not satisfied")
    after = _save(context, complaint, "reopened", before)
    told = _tell(context, [complaint.assignee_id], "complaint_reopened",
                 f"complaint {complaint.id} reopened: the customer is not satisfied", complaint)
    return {**after, "notified": told}


def list_complaints(context, open_only=False, mine=False, customer=None, limit=100, offset=0):
    """The complaints the acting user sees, newest first; ``open_only`` (not yet confirmed), ``mine`` (assigned
    to or opened by the acting user), ``customer`` (an id)."""
    from kehu.core.schemas import listing_bounds

    limit, offset = listing_bounds(limit, offset)
    query = Complaint.select().where(Complaint.workspace == context.workspace)
    condition = visible_condition(context)
    if condition is not None:
        query = query.where(condition)
    if open_only:
        query = query.where(Complaint.status.in_(OPEN_STATUSES))
    if mine and context.user is not None:
        query = query.where((Complaint.assignee == context.user.id) | (Complaint.opened_by == context.user.id))
    if customer is not None:
        query = query.where(Complaint.customer == parse_id(customer, "customer"))
    query = query.order_by(Complaint.opened_at.desc(), Complaint.id.desc()).limit(limit or None).offset(offset)
    return [complaint_view(c, context.now) for c in query]


def show_complaint(context, complaint_id):
    """One complaint the acting user sees, with its steps (who and when)."""
    complaint = _load(context, complaint_id)
    return {**complaint_view(complaint, context.now), "steps": _steps(context, complaint.id)}


# --- the automatic satisfaction survey -----------------------------------------------------------------------


@service
def send_complaint_surveys(context):
    """Job (``kehu tick``, as the system): send the satisfaction survey after each completed return visit that
    has none yet, and link it. Candidates are selected in one query (rows locked, skipping those another
    worker holds); the link is a conditional update, so a re-run or a concurrent run sends nothing twice."""
    live = Customer.select(Customer.id).where(Customer.workspace == context.workspace,
                                              Customer.deleted_at.is_null())
    # No join: FOR UPDATE must lock the complaints only, never their customers.
    query = (Complaint.select(Complaint.id, Complaint.customer)
             .where(Complaint.workspace == context.workspace, Complaint.status.in_((REVISITED, CONFIRMED)),
                    Complaint.revisited_at.is_null(False), Complaint.survey_response.is_null(),
                    Complaint.customer.in_(live))
             .order_by(Complaint.id))
    sent, skipped, failed = [], 0, {}
    for complaint_id, customer_id in list(lock_rows(query).tuples()):
        try:
            with database.atomic():  # a savepoint: one complaint's failure never loses the others
                slot_id = _survey_one(context, complaint_id, customer_id)
        except KehuError as exc:
            failed[complaint_id] = exc.message
            continue
        if slot_id is None:
            skipped += 1
        else:
            sent.append(complaint_id)
    return {"sent": len(sent), "complaints": sent, "skipped": skipped, **({"failed": failed} if failed else {})}


def _survey_one(context, complaint_id, customer_id):
    """Send and link the satisfaction survey of one complaint; ``None`` when nothing was sent."""
    from kehu.plugins.survey import responses

    slot = responses.send_in_transaction(context, SURVEY_FORM, customer_id, after=f"complaint:{complaint_id}")
    if not slot:
        return None
    slot_id = slot.get("id", slot.get("response"))  # the contract says "id"; responses' slot view says "response"
    Complaint.update(survey_response=slot_id).where(
        Complaint.id == complaint_id, Complaint.survey_response.is_null()).execute()
    ComplaintStep.create(workspace=context.workspace, complaint=complaint_id, step="surveyed",
                         actor=context.user, at=context.now, notes=f"{SURVEY_FORM} survey {slot_id}")
    context.audit("complaint.surveyed", "complaint", complaint_id, after={"survey_response": slot_id})
    return slot_id

SERVICES = {"open": open_complaint, "dispatch": dispatch_complaint, "resolve": resolve_complaint,
            "revisit": revisit_complaint, "confirm": confirm_complaint, "list": list_complaints,
            "show": show_complaint, "send_surveys": send_complaint_surveys}
JOBS = [("survey.complaint_surveys", send_complaint_surveys, "tick")]
