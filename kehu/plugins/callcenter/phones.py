"""Numbers to call: invalid numbers (无效电话), the rep's dialing list, the phone claim mechanism (电话申领).

DOMAIN.md §4.3 leaves both rules OPEN; kehu reads them as follows (each decision is repeated where the code
makes it):

* **Invalid numbers.** A number is marked invalid by its digits (:func:`kehu.core.normalize.phone_key`), so every
  customer sharing it leaves dialing lists and claims until the mark is corrected. One open mark per number:
  marking it again is a ``conflict``. Correcting a customer's number goes through core's customer update service
  (its permission rules, its audit row, its hooks) and closes the mark with who corrected it, when, and to what.
* **Dialing list.** The acting user's customers plus their open claims, without invalid numbers, least recently
  called first (the customer's last ``call`` activity by anyone; never called comes first).
* **Claims.** The public pool of numbers is the customers without an owner. A claim is a right to call a
  number, *not* ownership: the customer's owner never changes. A rep claims up to ``claim.daily`` numbers a
  local calendar day (0 = no cap, as in the leads plugin); a number is claimed by one rep at a time. A claim
  not called by its ``due_at`` (``claimed_at`` + ``claim.return_after_days`` days, an exact duration) is
  returned by the ``callcenter.return_claims`` job. A claim that was called stays with the rep (the follow-up
  calls that close deals go to the same person, §4.2) and does not return.
* **Concurrency** (DESIGN rule 10). On SQLite a service transaction holds the single write lock from BEGIN
  (IMMEDIATE), so claims are serial. On PostgreSQL the claimer locks its own user row (one rep's processes
  queue, so the daily cap holds), takes candidate customers ``FOR UPDATE SKIP LOCKED`` (two claimers never
  wait on or take the same rows), and re-reads the open claims of the rows it locked in a new statement (a
  claim committed between the candidate query's snapshot and the lock is seen there and dropped).
"""

import collections
import datetime as dt

from marshmallow import fields, validate
from peewee import JOIN, Ordering, fn

from kehu.core import access
from kehu.core.context import Notice, service
from kehu.core.db import bulk_insert, in_ids, is_postgres, lock_rows, to_utc
from kehu.core.models import Activity, Customer, Event, User
from kehu.core.normalize import phone_key
from kehu.core.schemas import StrictSchema, Text, listing_bounds, load
from kehu.core.services.lookup import customer_by_id, parse_id
from kehu.errors import Conflict, Invalid, NotFound, PermissionDenied
from kehu.plugins.callcenter.models import InvalidPhone, PhoneClaim
from kehu.plugins.callcenter.settings import settings_for

RETURN_BATCH = 1000  # claims returned per transaction by the return job (DESIGN decision 3)
MAX_CLAIM_REQUEST = 10000
# A bare number of at most this many digits is a customer id; longer ones are phone numbers (the shortest
# number a call center dials is a 7-digit local line). ``customer:ID`` / ``phone:NUMBER`` force either.
CUSTOMER_ID_DIGITS = 6


# --- shared pieces ----------------------------------------------------------------------------------------------


def _iso(value):
    return None if value is None else to_utc(value).isoformat()


def _require_user(context, doing):
    if context.user is None:
        raise Invalid(f"{doing} is done by a user: pass --as LOGIN")
    return context.user


def _key(phone, what="phone"):
    try:
        key = phone_key(phone)
    except ValueError as exc:
        raise Invalid(f"{what}: {exc}") from None
    if key is None:
        raise Invalid(f"{what}: a phone number is required")
    return key


def _local_day(context):
    """The UTC bounds ``[start, end)`` of the local calendar day (workspace timezone) ``context.now`` falls in."""
    day = context.now.astimezone(context.tz).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=context.tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=context.tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def _open_invalid(context, key_column):
    """SQL: an open (uncorrected) invalid mark exists for the number in ``key_column``."""
    return fn.EXISTS(InvalidPhone.select(InvalidPhone.id).where(
        InvalidPhone.workspace == context.workspace, InvalidPhone.phone_key == key_column,
        InvalidPhone.corrected_at.is_null()))


def _open_claim(context, customer_column, rep=None):
    """SQL: an open (not returned) claim exists on the customer in ``customer_column`` (by ``rep`` if given)."""
    query = PhoneClaim.select(PhoneClaim.id).where(
        PhoneClaim.workspace == context.workspace, PhoneClaim.customer == customer_column,
        PhoneClaim.returned_at.is_null())
    if rep is not None:
        query = query.where(PhoneClaim.rep == rep)
    return fn.EXISTS(query)


def _last_call(context, customer_column):
    """SQL: when the customer was last called (its latest ``call`` activity, by anyone), or NULL."""
    return (Activity.select(fn.MAX(Activity.created_at))
            .where(Activity.workspace == context.workspace, Activity.customer == customer_column,
                   Activity.kind == "call"))


def _instant(value):
    """A timestamp read from a subquery (text on SQLite) as aware UTC."""
    return None if value is None else Activity.created_at.python_value(value)


def holds_claim(context, customer_id):
    """Whether the acting user holds an open claim on ``customer_id``'s number (a right to call it)."""
    if context.user is None:
        return False
    return PhoneClaim.select().where(
        PhoneClaim.workspace == context.workspace, PhoneClaim.customer == customer_id,
        PhoneClaim.rep == context.user.id, PhoneClaim.returned_at.is_null()).exists()


def _may_call(context, customer):
    """Whether the acting user may work on ``customer``'s number: in their data scope, or claimed by them."""
    return access.owner_in_scope(context, customer.owner_id) or holds_claim(context, customer.id)


# --- invalid numbers --------------------------------------------------------------------------------------------


def _invalid_view(row):
    customer = row.customer_id
    return {
        "id": row.id, "phone": row.phone, "phone_key": row.phone_key, "customer": customer,
        "customer_name": row.__dict__.get("customer_name"), "lead_id": row.lead_id, "reason": row.reason,
        "marked_by": row.__dict__.get("marked_login"), "marked_at": _iso(row.marked_at),
        "status": "open" if row.corrected_at is None else "corrected", "corrected_to": row.corrected_to,
        "corrected_by": row.__dict__.get("corrected_login"), "corrected_at": _iso(row.corrected_at),
    }


def _invalid_query(context):
    """Invalid marks with the customer's name and the logins of who marked and corrected them, one query."""
    marker, corrector = User.alias(), User.alias()
    return (InvalidPhone.select(InvalidPhone, Customer.name.alias("customer_name"),
                                marker.login.alias("marked_login"), corrector.login.alias("corrected_login"))
            .join_from(InvalidPhone, Customer, JOIN.LEFT_OUTER, on=(InvalidPhone.customer == Customer.id))
            .join_from(InvalidPhone, marker, JOIN.LEFT_OUTER, on=(InvalidPhone.marked_by == marker.id))
            .join_from(InvalidPhone, corrector, JOIN.LEFT_OUTER, on=(InvalidPhone.corrected_by == corrector.id))
            .where(InvalidPhone.workspace == context.workspace))


def _invalid_row(context, mark_id):
    row = _invalid_query(context).where(InvalidPhone.id == mark_id).objects().first()
    if row is None:
        raise NotFound(f"no invalid-number mark {mark_id}")
    return row


def mark_invalid(context, phone, customer_id=None, lead_id=None, reason=None, reuse=False):
    """Mark ``phone`` invalid in the caller's transaction; returns the mark as a dict.

    For other services (the calls plugin's ``invalid_number`` disposition): the caller has checked that the
    acting user may call this customer or lead. ``phone`` may be ``None`` when ``customer_id`` is given (the
    customer's number). A number already marked and not corrected is a ``conflict`` — or, with ``reuse``,
    that open mark is returned unchanged.
    """
    customer = customer_by_id(context, customer_id) if customer_id is not None else None
    if phone is None and customer is not None:
        if customer.phone is None:
            raise Invalid(f"customer {customer.id} has no phone number to mark")
        phone = customer.phone
    key = _key(phone)
    existing = InvalidPhone.get_or_none(InvalidPhone.workspace == context.workspace, InvalidPhone.phone_key == key,
                                        InvalidPhone.corrected_at.is_null())
    if existing is not None:
        if reuse:
            return _invalid_view(_invalid_row(context, existing.id))
        raise Conflict(f"{phone} is already marked invalid (mark {existing.id}, "
                       f"{existing.marked_at.astimezone(context.tz):%Y-%m-%d %H:%M})")
    row = InvalidPhone.create(workspace=context.workspace, phone_key=key, phone=str(phone).strip(),
                              customer=customer.id if customer is not None else None, lead_id=lead_id,
                              reason=reason, marked_by=context.user, marked_at=context.now)
    result = _invalid_view(_invalid_row(context, row.id))
    context.audit("phone.invalid_marked", "invalid_phone", row.id, after=result)
    return result


class MarkInput(StrictSchema):
    target = Text(required=True, validate=validate.Length(max=60))
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


def _parse_target(text):
    """``(customer_id, None)`` or ``(None, phone)`` from ``PHONE|CUSTOMER`` (see :data:`CUSTOMER_ID_DIGITS`)."""
    kind, _, rest = text.partition(":")
    if rest and kind.strip().lower() == "customer":
        return parse_id(rest, "customer"), None
    if rest and kind.strip().lower() == "phone":
        return None, rest.strip()
    if text.isdigit() and len(text) <= CUSTOMER_ID_DIGITS:
        return parse_id(text, "customer"), None
    return None, text


def _customer_for_number(context, key):
    """The customer a bare number belongs to, for the mark's link and scope: the first (by id) the acting user
    may call; ``None`` when no customer has it; ``permission_denied`` when only other people's do."""
    found = list(Customer.select().where(Customer.workspace == context.workspace, Customer.phone_key == key,
                                         Customer.deleted_at.is_null()).order_by(Customer.id).limit(50))
    for customer in found:
        if _may_call(context, customer):
            return customer
    if found:
        raise PermissionDenied(f"the number belongs to customer {found[0].id}, outside your data scope")
    return None


@service
def invalid_mark(context, target, reason=None):
    """Mark a number invalid (无效电话): ``target`` is a phone number, or a customer id (its number).

    The number then leaves every dialing list and claim until it is corrected, and shows in the invalid-number
    report. The acting user must see the customer (or hold a claim on it); a number no customer has (a
    lead's, say) may be marked by anyone who logs calls. Marking an open number again is a ``conflict``.
    """
    access.require(context, "view", "mark numbers invalid")
    data = load(MarkInput(), {"target": target, "reason": reason})
    customer_id, phone = _parse_target(data["target"])
    if customer_id is not None:
        customer = customer_by_id(context, customer_id)
        if not _may_call(context, customer):
            raise PermissionDenied(f"customer {customer.id} is outside the data scope of {context.actor_label}")
    else:
        customer = _customer_for_number(context, _key(phone))
    return mark_invalid(context, phone, customer_id=customer.id if customer else None, reason=data["reason"])


def _may_see_marks(context, query):
    """Reps see the marks of customers in their data scope and the marks they made themselves."""
    condition = access.owner_condition(context, Customer.owner)
    if condition is None:
        return query
    return query.where(condition | (InvalidPhone.marked_by == context.user.id))


def invalid_list(context, include_corrected=False, limit=100, offset=0):
    """The invalid-number report (无效电话处理): open marks (``include_corrected``: all), newest first, with who
    marked each, when and why, and for corrected ones the new number, who corrected it and when."""
    limit, offset = listing_bounds(limit, offset)
    query = _may_see_marks(context, _invalid_query(context))
    if not include_corrected:
        query = query.where(InvalidPhone.corrected_at.is_null())
    query = query.order_by(InvalidPhone.marked_at.desc(), InvalidPhone.id.desc()).limit(limit or None)
    return [_invalid_view(row) for row in query.offset(offset).objects()]


class CorrectInput(StrictSchema):
    mark = fields.Raw(required=True)
    phone = Text(required=True, validate=validate.Length(max=50))


@service
def invalid_correct(context, mark_id, phone):
    """Correct an invalid number: the customer's phone becomes ``phone`` and the mark closes.

    The customer is changed through core's customer update service, so its rules apply (``edit`` on the
    customer), and it is audited and announced as any other customer change. A mark with no customer (a
    lead's number) is closed by its marker or a manager with the number recorded. The new number must be
    a phone number and not itself marked invalid.
    """
    data = load(CorrectInput(), {"mark": mark_id, "phone": phone})
    mark_id = parse_id(data["mark"], "invalid-number mark")
    row = InvalidPhone.get_or_none(InvalidPhone.workspace == context.workspace, InvalidPhone.id == mark_id)
    if row is None:
        raise NotFound(f"no invalid-number mark {mark_id}")
    if row.corrected_at is not None:
        raise Conflict(f"invalid-number mark {mark_id} was already corrected to {row.corrected_to}")
    new_key = _key(data["phone"], "--phone")
    if new_key == row.phone_key:
        raise Invalid(f"{data['phone']} is the number marked invalid; give the correct one")
    clash = InvalidPhone.get_or_none(InvalidPhone.workspace == context.workspace,
                                     InvalidPhone.phone_key == new_key, InvalidPhone.corrected_at.is_null())
    if clash is not None:
        raise Conflict(f"{data['phone']} is marked invalid too (mark {clash.id})")
    before = _invalid_view(_invalid_row(context, row.id))
    corrected_to = data["phone"]
    if row.customer_id is not None:
        corrected_to = context.services.customers.update(row.customer_id, phone=data["phone"])["phone"]
    elif context.user is not None and row.marked_by_id != context.user.id:
        access.require_manager(context, "correct a number someone else marked")
    InvalidPhone.update(corrected_to=corrected_to, corrected_by=context.user, corrected_at=context.now).where(
        InvalidPhone.id == row.id).execute()
    after = _invalid_view(_invalid_row(context, row.id))
    context.audit("phone.invalid_corrected", "invalid_phone", row.id, before=before, after=after)
    return after


# --- the dialing list -------------------------------------------------------------------------------------------


def dialing_list(context, limit=100, offset=0):
    """The acting user's numbers to call now: the customers they own and the numbers they claimed (open
    claims), without invalid numbers, least recently called first (never called first, then by id)."""
    user = _require_user(context, "a dialing list")
    limit, offset = listing_bounds(limit, offset)
    last = _last_call(context, Customer.id)
    query = (Customer.select(Customer.id, Customer.name, Customer.phone, Customer.owner, PhoneClaim.id,
                             PhoneClaim.due_at, last.alias("last_called_at"))
             .join(PhoneClaim, JOIN.LEFT_OUTER, on=(
                 (PhoneClaim.customer == Customer.id) & (PhoneClaim.rep == user.id)
                 & PhoneClaim.returned_at.is_null()))
             .where(Customer.workspace == context.workspace, Customer.deleted_at.is_null(),
                    Customer.phone_key.is_null(False),
                    (Customer.owner == user.id) | PhoneClaim.id.is_null(False),
                    ~_open_invalid(context, Customer.phone_key))
             .order_by(Ordering(last, "ASC", nulls="first"), Customer.id)
             .limit(limit or None).offset(offset))
    rows = []
    for customer_id, name, number, owner, claim_id, due_at, last_called in query.tuples():
        rows.append({"customer": customer_id, "name": name, "phone": number,
                     "why": "owner" if owner == user.id else "claim", "claim": claim_id,
                     "due_at": _iso(PhoneClaim.due_at.python_value(due_at)) if due_at else None,
                     "last_called_at": _iso(_instant(last_called))})
    return rows


# --- claims -----------------------------------------------------------------------------------------------------


class ClaimInput(StrictSchema):
    count = fields.Integer(required=True, strict=False, validate=validate.Range(1, MAX_CLAIM_REQUEST))


def _lock_rep(context):
    """Serialise one rep's claims across processes on PostgreSQL (SQLite's write lock already does)."""
    if is_postgres():
        User.select(User.id).where(User.id == context.user.id).for_update().execute()


def _claimed_today(context):
    start, end = _local_day(context)
    return PhoneClaim.select(fn.COUNT(PhoneClaim.id)).where(
        PhoneClaim.workspace == context.workspace, PhoneClaim.rep == context.user.id,
        PhoneClaim.claimed_at >= start, PhoneClaim.claimed_at < end).scalar()


def _candidates(context, limit, skip):
    """Up to ``limit`` claimable customers, locked for this transaction: no owner, a number that is not
    invalid, no open claim; least recently called first."""
    query = (Customer.select(Customer.id, Customer.phone)
             .where(Customer.workspace == context.workspace, Customer.owner.is_null(),
                    Customer.deleted_at.is_null(), Customer.phone_key.is_null(False),
                    ~_open_claim(context, Customer.id), ~_open_invalid(context, Customer.phone_key))
             .order_by(Ordering(_last_call(context, Customer.id), "ASC", nulls="first"), Customer.id).limit(limit))
    if skip:
        query = query.where(~in_ids(Customer.id, skip))
    return list(lock_rows(query).tuples())


def _still_free(context, ids):
    """Of the locked ``ids``, those with no open claim now (a new statement sees claims committed meanwhile)."""
    taken = {cid for (cid,) in PhoneClaim.select(PhoneClaim.customer).where(
        PhoneClaim.workspace == context.workspace, in_ids(PhoneClaim.customer, ids),
        PhoneClaim.returned_at.is_null()).tuples()}
    return [cid for cid in ids if cid not in taken]


def _take(context, wanted):
    """Lock and return ``[(customer_id, phone)]``, at most ``wanted``, none claimed by anyone else."""
    taken, skip = [], []
    for _ in range(5):  # each round either takes rows or skips ones now claimed; a few rounds suffice
        found = _candidates(context, wanted - len(taken), skip)
        if not found:
            break
        phones = dict(found)
        free = _still_free(context, list(phones)) if is_postgres() else list(phones)
        taken += [(cid, phones[cid]) for cid in free]
        skip += list(phones)
        if len(taken) >= wanted:
            break
    return taken


def _claim_view(row):
    return {"id": row.id, "rep": row.__dict__.get("rep_login"), "customer": row.customer_id,
            "name": row.__dict__.get("customer_name"), "phone": row.phone, "claimed_at": _iso(row.claimed_at),
            "due_at": _iso(row.due_at), "called_at": _iso(row.called_at), "returned_at": _iso(row.returned_at)}


@service
def claim(context, count):
    """Claim ``count`` numbers to call from the public pool (电话申领): customers with no owner whose number is
    not invalid and not claimed by anyone, least recently called first.

    A claim is a right to call the number, not ownership: the customer's owner does not change, and a claim
    not called by its ``due_at`` (``return_after_days`` days) returns to the pool. A rep claims at most
    ``claim.daily`` numbers a local calendar day: a request beyond what remains today gets what remains, and
    the result says so; none remaining is a ``conflict`` with code ``claim_limit_daily``.
    """
    _require_user(context, "claiming numbers")
    access.require(context, "view", "claim numbers")
    wanted = load(ClaimInput(), {"count": count})["count"]
    rules = settings_for(context)["claim"]
    _lock_rep(context)
    today, daily = _claimed_today(context), rules["daily"]
    remaining = None if not daily else max(daily - today, 0)  # 0 = no daily cap (as the leads pools read it)
    if remaining == 0:
        raise Conflict(f"you have claimed {today} numbers today, the most a day is {daily}",
                       code="claim_limit_daily")
    allowed = wanted if remaining is None else min(wanted, remaining)
    taken = _take(context, allowed)
    due_at = context.now + dt.timedelta(days=rules["return_after_days"])
    rows = [{"workspace": context.workspace.id, "rep": context.user.id, "customer": cid, "phone": number,
             "claimed_at": context.now, "due_at": due_at} for cid, number in taken]
    ids = bulk_insert(PhoneClaim, rows)
    names = dict(Customer.select(Customer.id, Customer.name).where(in_ids(Customer.id, [c for c, _ in taken]))
                 .tuples()) if taken else {}
    claims = [{"id": claim_id, "rep": context.user.login, "customer": row["customer"],
               "name": names.get(row["customer"]), "phone": row["phone"], "claimed_at": _iso(context.now),
               "due_at": _iso(due_at), "called_at": None, "returned_at": None}
              for claim_id, row in zip(ids, rows)]
    bulk_insert(Event, [{"workspace": context.workspace.id, "actor": context.user.id, "at": context.now,
                         "action": "phone.claimed", "entity_type": "phone_claim", "entity_id": str(c["id"]),
                         "before": None, "after": c} for c in claims], returning=False)
    left = None if remaining is None else remaining - len(claims)
    return {"claimed": claims, "requested": wanted, "granted": len(claims), "daily_limit": daily or None,
            "remaining_today": left, "notice": _claim_notice(wanted, allowed, len(claims), daily)}


def _claim_notice(wanted, allowed, granted, daily):
    """What the rep is told when they got fewer numbers than asked for, or ``None``."""
    if allowed < wanted:
        return (f"asked for {wanted}, the daily allowance ({daily} a day) left {allowed}; "
                f"{granted} claimed" + ("" if granted == allowed else " (the pool has no more numbers)"))
    if granted < wanted:
        return f"asked for {wanted}, the pool had {granted} numbers to claim"
    return None


def claims(context, mine=False, limit=100, offset=0):
    """Open claims (not returned), oldest first: the acting user's with ``mine``, else those of the users in
    their data scope (a rep's own, a manager's unit's, everyone's for the vp and above)."""
    limit, offset = listing_bounds(limit, offset)
    rep = User.alias()
    query = (PhoneClaim.select(PhoneClaim, rep.login.alias("rep_login"), Customer.name.alias("customer_name"))
             .join_from(PhoneClaim, rep, on=(PhoneClaim.rep == rep.id))
             .join_from(PhoneClaim, Customer, on=(PhoneClaim.customer == Customer.id))
             .where(PhoneClaim.workspace == context.workspace, PhoneClaim.returned_at.is_null()))
    if mine:
        query = query.where(PhoneClaim.rep == _require_user(context, "--mine").id)
    condition = access.owner_condition(context, PhoneClaim.rep)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(PhoneClaim.claimed_at, PhoneClaim.id).limit(limit or None).offset(offset)
    return [_claim_view(row) for row in query.objects()]


def mark_called(context, customer_id, rep_id):
    """Record that ``rep_id`` called ``customer_id``: their open claim on it (if any) counts as called and will
    not return. Runs in the caller's transaction (the calls plugin's log service); returns how many claims
    it marked (0 or 1)."""
    return (PhoneClaim.update(called_at=context.now)
            .where(PhoneClaim.workspace == context.workspace, PhoneClaim.customer == customer_id,
                   PhoneClaim.rep == rep_id, PhoneClaim.returned_at.is_null(), PhoneClaim.called_at.is_null())
            .execute())


@service
def _return_batch(context, scope):
    """Return up to :data:`RETURN_BATCH` overdue uncalled claims in one transaction; ``[(claim id, rep id)]``."""
    query = (PhoneClaim.select(PhoneClaim.id, PhoneClaim.rep)
             .where(PhoneClaim.workspace == context.workspace, PhoneClaim.returned_at.is_null(),
                    PhoneClaim.called_at.is_null(), PhoneClaim.due_at <= context.now)
             .order_by(PhoneClaim.id).limit(RETURN_BATCH))
    if scope is not None:
        query = query.where(scope)
    # SKIP LOCKED: a claim being marked called (or returned by another tick worker) right now is left alone;
    # the UPDATE repeats the conditions, so a claim called meanwhile is never returned.
    found = list(lock_rows(query).tuples())
    if not found:
        return []
    ids = [claim_id for claim_id, _ in found]
    PhoneClaim.update(returned_at=context.now).where(
        in_ids(PhoneClaim.id, ids), PhoneClaim.returned_at.is_null(), PhoneClaim.called_at.is_null()).execute()
    per_rep = collections.Counter(rep for _, rep in found)
    for rep, count in sorted(per_rep.items()):
        context.audit("phone.claims_returned", "user", rep, after={"count": count, "claims": sorted(
            claim_id for claim_id, owner in found if owner == rep)})
    return found


def return_unclaimed(context):
    """Return claims not called by their ``due_at`` to the pool (``returned_at`` = now), in batches of
    :data:`RETURN_BATCH` (each its own transaction, so a re-run after a crash just finishes the job), and tell
    each rep once how many of theirs went back. Idempotent. The system returns every workspace claim; a
    manager or above those of the users in their scope. Returns ``{"returned", "reps"}``."""
    if context.user is not None:
        access.require_manager(context, "return unclaimed numbers")
    scope = access.owner_condition(context, PhoneClaim.rep)
    per_rep = collections.Counter()
    while True:
        found = _return_batch(context, scope)
        per_rep.update(rep for _, rep in found)
        if len(found) < RETURN_BATCH:
            break
    days = settings_for(context)["claim"]["return_after_days"]
    context.notify(Notice(user_id=rep, kind="phone_claims_returned", entity="phone_claim",
                          message=f"{count} claimed number{'s' if count != 1 else ''} went back to the pool: "
                                  f"not called within {days} day{'s' if days != 1 else ''} of claiming")
                   for rep, count in sorted(per_rep.items()))
    return {"returned": sum(per_rep.values()), "reps": len(per_rep)}


def return_claims_job(context):
    """``kehu tick``: return overdue uncalled claims (as the system)."""
    return return_unclaimed(context)


SERVICES = {
    "invalid_mark": invalid_mark,
    "invalid_list": invalid_list,
    "invalid_correct": invalid_correct,
    "dialing_list": dialing_list,
    "claim": claim,
    "claims": claims,
    "return_unclaimed": return_unclaimed,
}
JOBS = [("callcenter.return_claims", return_claims_job, "tick")]
