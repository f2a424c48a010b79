"""Lead services: pools, adding leads, claim, release, transfer, follow-up, convert, the sweep, history, lists.

Every change of a lead's state or holder goes through :func:`kehu.plugins.leads.machine.move`.
"""

import datetime as dt

from peewee import Select, fn

from kehu.core import access, customfields, normalize
from kehu.core.context import Notice, service
from kehu.core.db import Prepared, Slot, bulk_insert, database, is_postgres, to_utc
from kehu.core.models import Customer, OrgUnit, User
from kehu.core.schemas import listing_bounds, load
from kehu.core.services import activities, customers, ownership
from kehu.core.services.lookup import customer_by_id, parse_id, unit_by_path, user_by_login
from kehu.core.views import attr, dump, iso, login, with_login
from kehu.errors import Conflict, Invalid, KehuError, NotFound, PermissionDenied
from kehu.plugins.leads import machine
from kehu.plugins.leads.models import CONVERTED, HELD, IN_POOL, STATES, Lead, LeadTransition, Pool
from kehu.plugins.leads.schemas import RULE_FIELDS, LeadInput, PoolName, PoolRules

PUBLIC_POOL = "public"

LeadView = {
    "id": attr("id"), "name": attr("name"), "company": attr("company"), "phone": attr("phone"),
    "email": attr("email"), "region": attr("region"), "industry": attr("industry"), "source": attr("source"),
    "pool": lambda lead: lead.__dict__.get("pool_name") or lead.pool.name, "state": attr("state"),
    "holder": login("holder"), "customer": attr("customer_id"), "custom": lambda lead: dict(lead.custom or {}),
    "held_since": iso("held_since"), "protected_until": iso("protected_until"),
    "followup_due": iso("followup_due"), "created_at": iso("created_at"),
}


def pool_view(pool):
    return {"id": pool.id, "name": pool.name, **{f: getattr(pool, f) for f in RULE_FIELDS},
            "team": pool.team.path if pool.team_id else None}


# --- pools ------------------------------------------------------------------------------------------------


def pool_by_name(context, name):
    pool = Pool.get_or_none(Pool.workspace == context.workspace, Pool.name == (name or PUBLIC_POOL))
    if pool is None:
        raise NotFound(f"no lead pool {name!r} (create it with `kehu leads pool create {name}`)")
    return pool


def _rules(context, rules):
    data = load(PoolRules(), {k: v for k, v in rules.items() if v is not None})
    if "team" in data:
        data["team"] = unit_by_path(context, data["team"]) if data["team"] else None
    return data


@service
def create_pool(context, name, **rules):
    """Create a named pool (manager or above); rules not given take the DOMAIN.md defaults."""
    access.require_manager(context, "create lead pools")
    data = load(PoolName(), {"name": name})
    values = _rules(context, rules)
    if Pool.get_or_none(Pool.workspace == context.workspace, Pool.name == data["name"]) is not None:
        raise Conflict(f"lead pool {data['name']!r} already exists")
    pool = Pool.create(workspace=context.workspace, name=data["name"], created_at=context.now, **values)
    result = pool_view(pool)
    context.audit("leads.pool_created", "lead_pool", pool.id, after=result)
    return result


@service
def set_pool(context, name, **rules):
    """Change a pool's rules (manager or above); options not given keep their values.

    New deadlines apply from the next claim, assignment or follow-up; turning a rule off (0) clears that
    deadline on leads held now, so nothing is recycled by a rule that no longer exists.
    """
    access.require_manager(context, "change lead pool rules")
    pool = pool_by_name(context, name)
    values = _rules(context, rules)
    if not values:
        raise Invalid("nothing to change: pass at least one rule option")
    before = pool_view(pool)
    for key, value in values.items():
        setattr(pool, key, value)
    pool.save()
    held = (Lead.workspace == context.workspace) & (Lead.pool == pool) & (Lead.state == HELD)
    if values.get("protect_days") == 0:
        Lead.update(protected_until=None, protect_warn_at=None).where(held).execute()
    if values.get("followup_days") == 0:
        Lead.update(followup_due=None, followup_warn_at=None).where(held).execute()
    if values.get("warn_days") == 0:
        Lead.update(protect_warn_at=None, followup_warn_at=None).where(held).execute()
    after = pool_view(pool)
    context.audit("leads.pool_changed", "lead_pool", pool.id, before=before, after=after)
    return after


def list_pools(context):
    return [pool_view(p) for p in Pool.select().where(Pool.workspace == context.workspace).order_by(Pool.name)]


def may_use_pool(context, pool):
    """Records in a pool are visible to the reps who may claim them: everyone, or the pool's team."""
    if pool.team_id is None or context.user is None or access.role_of(context).scope == "all":
        return True
    if context.user.unit_id is None:
        return False
    team = OrgUnit.get_by_id(pool.team_id).path
    own = OrgUnit.get_by_id(context.user.unit_id).path
    return own == team or own.startswith(team + "/") or team.startswith(own + "/")


# --- reading ----------------------------------------------------------------------------------------------


def _visible_leads(context):
    """Leads the acting user sees: held by users in scope, plus the pools they may claim from."""
    query = Lead.select().where(Lead.workspace == context.workspace)
    scope = access.users_in_scope(context)
    if scope is None:
        return query
    pools = [p.id for p in Pool.select().where(Pool.workspace == context.workspace) if may_use_pool(context, p)]
    return query.where(Lead.holder.in_(scope) | ((Lead.state == IN_POOL) & Lead.pool.in_(pools)))


def lead_for(context, lead_id):
    """A lead the acting user may see, or ``not_found`` / ``permission_denied``."""
    lead_id = parse_id(lead_id, "lead")
    lead = Lead.get_or_none(Lead.workspace == context.workspace, Lead.id == lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    if not _visible_leads(context).where(Lead.id == lead.id).exists():
        raise PermissionDenied(f"lead {lead.id} is outside the data scope of {context.actor_label}")
    return lead


def show_lead(context, lead_id):
    return dump(LeadView, lead_for(context, lead_id))


def list_leads(context, pool=None, mine=False, state=None, holder=None, limit=100, offset=0):
    """Leads the acting user may see, filtered by pool, state, holder or ``mine``."""
    limit, offset = listing_bounds(limit, offset)
    query = _visible_leads(context).order_by(Lead.id)
    if pool:
        query = query.where(Lead.pool == pool_by_name(context, pool))
    if state:
        if state not in STATES:
            raise Invalid(f"state must be one of {', '.join(STATES)}")
        query = query.where(Lead.state == state)
    if mine:
        if context.user is None:
            raise Invalid("--mine needs --as LOGIN")
        query = query.where(Lead.holder == context.user)
    if holder:
        query = query.where(Lead.holder == user_by_login(context, holder, active_only=False))
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    query = query.select_extend(Pool.name.alias("pool_name")).join(Pool, on=(Lead.pool == Pool.id))
    return [dump(LeadView, lead) for lead in with_login(query, Lead, User, "holder")]


def lead_history(context, lead_id):
    """The lead's ownership timeline: every move with ``from``, ``to``, ``reason``, who and when."""
    lead = lead_for(context, lead_id)
    logins = dict(User.select(User.id, User.login).where(User.workspace == context.workspace).tuples())
    rows = LeadTransition.select().where(LeadTransition.workspace == context.workspace,
                                         LeadTransition.lead == lead).order_by(LeadTransition.id)
    return [{"at": t.at.isoformat(), "from": logins.get(t.from_holder_id), "to": logins.get(t.to_holder_id),
             "from_state": t.from_state, "to_state": t.to_state, "reason": t.reason, "note": t.note,
             "by": logins.get(t.actor_id)} for t in rows]


# --- adding -----------------------------------------------------------------------------------------------


def lead_keys(values, region="CN"):
    """The matching keys of a lead: E.164 phone and whether it is a mobile, e-mail, company name."""
    phone, mobile = normalize.phone_e164(values.get("phone"), region) if values.get("phone") else (None, False)
    return {"phone_key": phone, "phone_mobile": mobile, "email_key": normalize.email_key(values.get("email")),
            "company_key": normalize.company_key(values.get("company")) or None}


def phone_region(context):
    return (context.workspace.settings or {}).get("phone_region", "CN")


def find_duplicates(context, keyed):
    """For each keys dict, the existing lead that is its duplicate (same e-mail or same mobile), or None.

    Set-based: one query per key kind for the whole batch. Fixed lines and company names only make
    *possible* duplicates (see :func:`possible_duplicates`), never merge records.
    """
    emails = {k["email_key"] for k in keyed if k["email_key"]}
    mobiles = {k["phone_key"] for k in keyed if k["phone_key"] and k["phone_mobile"]}
    by_email, by_phone = {}, {}
    if emails:
        for lead in Lead.select().where(Lead.workspace == context.workspace, Lead.email_key.in_(list(emails))):
            by_email.setdefault(lead.email_key, lead)
    if mobiles:
        for lead in Lead.select().where(Lead.workspace == context.workspace, Lead.phone_key.in_(list(mobiles))):
            by_phone.setdefault(lead.phone_key, lead)
    return [by_email.get(k["email_key"]) or (by_phone.get(k["phone_key"]) if k["phone_mobile"] else None)
            for k in keyed]


@service
def add_leads(context, records, origin="manual", on_duplicate="skip", pool=None):
    """Add leads (the batch-first path of ``leads add`` and imports).

    A lead with an owner is held by them from the start (through the state machine); without one it waits
    in its pool. A duplicate (same e-mail or mobile as an existing lead) is skipped, updated or rejected per
    ``on_duplicate``; one held by another rep is always a ``conflict`` naming its holder.
    Returns ``{"created", "updated", "skipped", "rejected"}`` (each a list; rejected items carry ``index``).
    """
    if on_duplicate not in ("skip", "update", "error"):
        raise Invalid("--on-duplicate must be skip, update or error")
    access.require(context, "create", "add leads")
    schema = LeadInput()
    region = phone_region(context)
    pools, owners = {}, {}
    prepared, rejected = [], []
    for index, raw in enumerate(records):
        try:
            data = load(schema, {"pool": pool, **raw})
            name = data.pop("pool") or PUBLIC_POOL
            if name not in pools:
                pools[name] = pool_by_name(context, name)
            data["pool"] = pools[name]
            owner_login = data.pop("owner")
            if owner_login and owner_login not in owners:
                owner = user_by_login(context, owner_login)
                if context.user is not None and owner.id != context.user.id:
                    access.require(context, "assign", "give leads to other users")
                    if not access.owner_in_scope(context, owner.id):
                        raise PermissionDenied(f"{owner.login} is outside your data scope")
                owners[owner_login] = owner
            data["owner"] = owners.get(owner_login)
            data["custom"] = customfields.validate_values(context, "lead", data["custom"])
            prepared.append((index, data, lead_keys(data, region)))
        except (KehuError, ValueError) as exc:
            rejected.append({"index": index, "error": getattr(exc, "message", str(exc)),
                             "code": getattr(exc, "code", "invalid")})
    # Duplicates inside the batch: the first occurrence wins, later ones are duplicates of it.
    seen, unique = {}, []
    for item in prepared:
        index, data, keys = item
        marks = [m for m in (keys["email_key"], keys["phone_key"] if keys["phone_mobile"] else None) if m]
        first = next((seen[m] for m in marks if m in seen), None)
        if first is not None:
            rejected.append({"index": index, "error": f"duplicate of row {first + 1} in the same batch",
                             "code": "duplicate"}) if on_duplicate == "error" else None
            if on_duplicate != "error":
                unique.append((index, data, keys, "batch"))
            continue
        for m in marks:
            seen[m] = index
        unique.append((index, data, keys, None))
    matches = find_duplicates(context, [keys for _, _, keys, _ in unique])
    vetoes = context.vetoes("kehu_before_create", unique, entity="lead",
                            records=[data for _, data, _, _ in unique], origin=origin)
    created_rows, updated, skipped = [], [], []
    for (index, data, keys, in_batch), match, found in zip(unique, matches, vetoes):
        if found:
            rejected.append({"index": index, "error": "; ".join(v.reason for v in found), "code": "vetoed"})
            continue
        if in_batch:
            skipped.append({"index": index, "reason": "duplicate in the same batch"})
            continue
        if match is not None:
            holder = data["owner"]
            if match.state == HELD and match.holder_id is not None and (holder is None or holder.id != match.holder_id):
                holder_login = User.get_by_id(match.holder_id).login
                rejected.append({"index": index, "code": "conflict", "lead": match.id,
                                 "error": f"duplicate of lead {match.id}, held by {holder_login}"})
            elif on_duplicate == "error":
                rejected.append({"index": index, "code": "duplicate", "lead": match.id,
                                 "error": f"duplicate of lead {match.id}"})
            elif on_duplicate == "update":
                changes = {k: v for k, v in data.items() if k in ("name", "company", "phone", "email", "region",
                                                                 "industry", "source") and v is not None}
                changes.update({k: v for k, v in keys.items() if v is not None})
                Lead.update(updated_at=context.now, **changes).where(Lead.id == match.id).execute()
                updated.append({"index": index, "lead": match.id})
            else:
                skipped.append({"index": index, "lead": match.id, "reason": "duplicate"})
            continue
        created_rows.append((index, data, keys))
    created = _insert_leads(context, created_rows, origin)
    if updated:
        context.audit("lead.updated_by_import", "lead", None, after={"leads": [u["lead"] for u in updated]})
    rejected.sort(key=lambda r: r["index"])
    return {"created": created, "updated": updated, "skipped": skipped, "rejected": rejected}


def _insert_leads(context, rows, origin):
    """Insert new leads in one statement, then move the owned ones to ``held`` through the state machine."""
    if not rows:
        return []
    values = []
    for _, data, keys in rows:
        values.append({"workspace": context.workspace.id, "name": data["name"], "company": data["company"],
                       "phone": data["phone"], "email": data["email"], "region": data["region"],
                       "industry": data["industry"], "source": data["source"], "custom": data["custom"],
                       "pool": data["pool"].id, "state": IN_POOL, "created_at": context.now,
                       "updated_at": context.now, **keys})
    ids = bulk_insert(Lead, values)
    reason = machine.IMPORTED if origin == "import" else machine.ADDED
    # An import batch is audited by one event listing its ids (DESIGN decision 10); the timeline is per lead.
    batch_audit = origin == "import"
    machine.record(context, [machine.Move(i, None, IN_POOL, None, None, reason) for i in ids],
                   batch_audit=batch_audit)
    by_owner = {}
    for lead_id, (_, data, _) in zip(ids, rows):
        if data["owner"] is not None:
            by_owner.setdefault(data["owner"].id, []).append(lead_id)
    for owner_id, lead_ids in by_owner.items():
        machine.move(context, lead_ids, HELD, owner_id, reason, (IN_POOL,), batch_audit=batch_audit)
    created = []
    for lead_id, (index, data, _) in zip(ids, rows):
        created.append({"index": index, "id": lead_id, "name": data["name"], "pool": data["pool"].name,
                        "holder": data["owner"].login if data["owner"] else None})
    return created


def add_lead(context, **fields):
    """Add one lead; fails with its own error (``invalid``, ``conflict`` for a duplicate held by another)."""
    outcome = add_leads(context, [fields], origin="manual", on_duplicate="error")
    if outcome["rejected"]:
        problem = outcome["rejected"][0]
        code = "conflict" if problem["code"] in ("duplicate", "conflict") else problem["code"]
        error = next((c for c in KehuError.__subclasses__() if c.code == code), KehuError)
        raise error(problem["error"], code=code)
    return show_lead(context, outcome["created"][0]["id"])


# --- customers back to a pool -------------------------------------------------------------------------------

# DOMAIN.md §1.3: why a customer returns to the public pool (kehu default picklist; workspace setting
# ``loss_reasons`` overrides it).
LOSS_REASONS = ("主动放弃", "主动离开", "被挖走")


def loss_reasons(context):
    return tuple((context.workspace.settings or {}).get("loss_reasons") or LOSS_REASONS)


@service
def return_customer_to_pool(context, customer_id, reason, pool=None):
    """Put a lost or neglected customer into a pool (default public) as a lead linked to it.

    The owner or a manager over them may do it; ``reason`` is a loss reason (主动放弃 / 主动离开 / 被挖走 by
    default). The customer has no owner while it waits; whoever claims or is assigned the lead owns it again.
    """
    allowed = loss_reasons(context)
    if reason not in allowed:
        raise Invalid(f"reason must be one of {', '.join(allowed)}")
    customer = customer_by_id(context, customer_id)
    if context.user is not None and customer.owner_id != context.user.id:
        access.require_manager(context, "return another user's customer to the pool")
    access.require_record(context, "view", customer.owner_id, f"customer {customer.id}")
    target = pool_by_name(context, pool)
    waiting = Lead.get_or_none(Lead.workspace == context.workspace, Lead.customer == customer,
                               Lead.state.in_((IN_POOL, HELD)))
    if waiting is not None:
        raise Conflict(f"customer {customer.id} is already in pool work as lead {waiting.id}")
    values = {"name": customer.name, "company": customer.name, "phone": customer.phone, "email": customer.email,
              "region": customer.region, "industry": customer.industry, "source": customer.source}
    keys = lead_keys(values, phone_region(context))
    [lead_id] = bulk_insert(Lead, [{**values, **keys, "workspace": context.workspace.id, "custom": {},
                                    "pool": target.id, "state": IN_POOL, "customer": customer.id,
                                    "created_at": context.now, "updated_at": context.now}])
    machine.record(context, [machine.Move(lead_id, None, IN_POOL, customer.owner_id, None,
                                          machine.CUSTOMER_RETURNED)], note=reason)
    ownership.write_owner(context, Customer, "customer", [customer.id], None, f"returned_to_pool: {reason}")
    return show_lead(context, lead_id)


# --- ownership --------------------------------------------------------------------------------------------


def _lock_user(context):
    """Serialise one rep's claims across processes (PostgreSQL row lock; SQLite's write lock does it), and
    make sure the rep is still active: a handle can outlive a deactivation."""
    row = _ACTIVE_USER.first(user=context.user.id)
    if not (row and row[0]):
        raise PermissionDenied(f"{context.user.login} is no longer an active user")


def local_midnight(context, days_after=0):
    """The UTC instant of local midnight starting today (``days_after`` = 1: tomorrow) in the workspace timezone."""
    day = context.now.astimezone(context.tz).date() + dt.timedelta(days=days_after)
    return dt.datetime.combine(day, dt.time(), tzinfo=context.tz).astimezone(dt.timezone.utc)


# A claim is the hottest single-row path: its statements are compiled once per process (Prepared), the
# lead is read with its pool's rules in one statement, and the three rule checks share another.
_ACTIVE_USER = Prepared(lambda: (User.select(User.active).where(User.id == Slot("user")).for_update()
                                 if is_postgres() else User.select(User.active).where(User.id == Slot("user"))))
_CLAIM_RULE_COLUMNS = (Pool.id, Pool.workspace, Pool.name, Pool.team, Pool.max_held, Pool.daily_claims,
                       Pool.protect_days, Pool.followup_days, Pool.warn_days, Pool.cooldown_hours)
_CLAIM_TARGET = Prepared(lambda: (
    Lead.select(Lead.id, Lead.workspace, Lead.state, Lead.holder, Lead.customer, *_CLAIM_RULE_COLUMNS)
    .join(Pool, on=(Lead.pool == Pool.id)).where(Lead.id == Slot("lead"))
    .for_update(of=Lead) if is_postgres() else
    Lead.select(Lead.id, Lead.workspace, Lead.state, Lead.holder, Lead.customer, *_CLAIM_RULE_COLUMNS)
    .join(Pool, on=(Lead.pool == Pool.id)).where(Lead.id == Slot("lead"))))
_CLAIM_COUNTS = Prepared(lambda: Select(columns=[
    # when the rep last gave this lead up (the cooldown)
    LeadTransition.select(fn.MAX(LeadTransition.at)).where(
        LeadTransition.workspace == Slot("workspace"), LeadTransition.lead == Slot("lead"),
        LeadTransition.from_holder == Slot("user"), LeadTransition.reason.in_(machine.COOLDOWN_REASONS)),
    # how many leads of the pool the rep holds
    Lead.select(fn.COUNT(Lead.id)).where(Lead.workspace == Slot("workspace"), Lead.pool == Slot("pool"),
                                         Lead.holder == Slot("user"), Lead.state == HELD),
    # how many of them the rep claimed today (local day)
    LeadTransition.select(fn.COUNT(LeadTransition.id)).join(Lead, on=(LeadTransition.lead == Lead.id)).where(
        LeadTransition.workspace == Slot("workspace"), LeadTransition.to_holder == Slot("user"),
        LeadTransition.reason == machine.CLAIMED, LeadTransition.at >= Slot("day_start", LeadTransition.at),
        LeadTransition.at < Slot("day_end", LeadTransition.at), Lead.pool == Slot("pool")),
]))


@service
def claim_lead(context, lead_id):
    """A rep claims a lead from a pool, within the pool's caps and cooldown.

    Errors: ``not_found``, ``already_held``, ``claim_limit_held``, ``claim_limit_daily``, ``cooldown``.
    """
    if context.user is None:
        raise Invalid("a claim is made by a user: pass --as LOGIN")
    lead_id = parse_id(lead_id, "lead")
    _lock_user(context)
    row = _CLAIM_TARGET.first(lead=lead_id)
    if row is None or row[1] != context.workspace.id:
        raise NotFound(f"no lead {lead_id}")
    _, _, state, holder, customer, *rules = row
    if state == HELD:
        who = "you" if holder == context.user.id else User.get_by_id(holder).login
        raise KehuError(f"lead {lead_id} is already held by {who}", code="already_held")
    if state == CONVERTED:
        raise KehuError(f"lead {lead_id} is already converted", code="already_held")
    pool = Pool(**{column.name: value for column, value in zip(_CLAIM_RULE_COLUMNS, rules)})
    if not may_use_pool(context, pool):
        raise PermissionDenied(f"pool {pool.name} belongs to another team")
    last, held, today = _CLAIM_COUNTS.first(workspace=context.workspace.id, lead=lead_id, user=context.user.id,
                                            pool=pool.id, day_start=local_midnight(context),
                                            day_end=local_midnight(context, 1))
    if pool.cooldown_hours and last is not None:
        last = LeadTransition.at.python_value(last)
        until = last + dt.timedelta(hours=pool.cooldown_hours)
        if context.now < until:
            raise KehuError(f"you gave lead {lead_id} up at {last.isoformat()}; you may claim it again from "
                            f"{until.isoformat()}", code="cooldown")
    if pool.max_held and held >= pool.max_held:
        raise KehuError(f"you already hold {held} leads of pool {pool.name} (the most is {pool.max_held})",
                        code="claim_limit_held")
    if pool.daily_claims and today >= pool.daily_claims:
        raise KehuError(f"you have claimed {today} leads of pool {pool.name} today (the most is "
                        f"{pool.daily_claims} a day)", code="claim_limit_daily")
    moved = machine.move_rows(context, [(lead_id, state, holder, pool.id, customer)], HELD, context.user.id,
                              machine.CLAIMED, (IN_POOL,), pools={pool.id: pool})
    if not moved:
        raise KehuError(f"lead {lead_id} was just taken by someone else", code="already_held")
    protected, followup, _, _ = machine.deadlines(pool, context.now)  # what move_rows() just wrote
    return {"lead": lead_id, "holder": context.user.login,
            "protected_until": to_utc(protected).isoformat() if protected else None,
            "followup_due": to_utc(followup).isoformat() if followup else None}


def _held_by_someone_in_scope(context, lead, doing):
    if lead.state != HELD:
        raise Conflict(f"lead {lead.id} is not held (it is {lead.state})")
    if context.user is not None and lead.holder_id != context.user.id:
        access.require_manager(context, doing)
        if not access.owner_in_scope(context, lead.holder_id):
            raise PermissionDenied(f"lead {lead.id} is held outside your data scope")


@service
def release_lead(context, lead_id, reason=None):
    """Give a held lead back to its pool (the holder, or a manager over them); the cooldown starts."""
    lead = lead_for(context, lead_id)
    _held_by_someone_in_scope(context, lead, "release another rep's lead")
    machine.move(context, [lead.id], IN_POOL, None, machine.RELEASED, (HELD,), note=reason)
    return show_lead(context, lead.id)


@service
def transfer_lead(context, lead_id, to):
    """Give a lead (held or in a pool) to another user: manager or above, both within scope."""
    access.require_manager(context, "transfer leads")
    lead = lead_for(context, lead_id)
    if lead.state == CONVERTED:
        raise Conflict(f"lead {lead.id} is converted")
    target = user_by_login(context, to)
    if not access.owner_in_scope(context, target.id):
        raise PermissionDenied(f"{target.login} is outside your data scope")
    if lead.state == HELD and not access.owner_in_scope(context, lead.holder_id):
        raise PermissionDenied(f"lead {lead.id} is held outside your data scope")
    if lead.holder_id == target.id:
        raise Conflict(f"lead {lead.id} is already held by {target.login}")
    machine.move(context, [lead.id], HELD, target.id, machine.TRANSFERRED, (IN_POOL, HELD))
    return show_lead(context, lead.id)


def restart_followup_clock(context, lead_ids):
    """A follow-up happened: the follow-up deadline restarts from now (and its warning is re-armed)."""
    for pool in Pool.select().where(Pool.workspace == context.workspace,
                                    Pool.id.in_(Lead.select(Lead.pool).where(Lead.id.in_(lead_ids)))):
        due = context.now + dt.timedelta(days=pool.followup_days) if pool.followup_days else None
        Lead.update(last_followup_at=context.now, followup_due=due, followup_warn_at=machine.warn_instant(pool, due),
                    updated_at=context.now).where(Lead.workspace == context.workspace, Lead.id.in_(lead_ids),
                                                  Lead.pool == pool, Lead.state == HELD).execute()


@service
def follow_up_lead(context, lead_id, notes, kind="call"):
    """Log a follow-up on a held lead (an activity) and restart its follow-up clock."""
    lead = lead_for(context, lead_id)
    _held_by_someone_in_scope(context, lead, "follow up another rep's lead")
    activity = activities.log_activity(context, kind, f"follow-up of lead {lead.id}: {lead.name}", notes=notes,
                                       entity=f"lead:{lead.id}")
    restart_followup_clock(context, [lead.id])
    result = show_lead(context, lead.id)
    result["activity"] = activity["id"]
    return result


@service
def convert_lead(context, lead_id):
    """Convert a held lead: link the customer with the same mobile or e-mail, or create one for the holder."""
    lead = lead_for(context, lead_id)
    _held_by_someone_in_scope(context, lead, "convert another rep's lead")
    holder = User.get_by_id(lead.holder_id)
    customer = None
    if lead.phone_key and lead.phone_mobile:
        digits = normalize.phone_key(lead.phone)
        customer = Customer.get_or_none(Customer.workspace == context.workspace, Customer.phone_key == digits,
                                        Customer.deleted_at.is_null())
    if customer is None and lead.email_key:
        customer = Customer.get_or_none(Customer.workspace == context.workspace,
                                        Customer.email_key == lead.email_key, Customer.deleted_at.is_null())
    if customer is None:
        created = customers.create_customers(context, [{
            "name": lead.company or lead.name, "phone": lead.phone, "email": lead.email, "region": lead.region,
            "industry": lead.industry, "source": lead.source, "owner": holder.login}], origin="system")
        if created["rejected"]:
            raise Invalid(created["rejected"][0]["error"])
        customer_id, linked = created["created"][0]["id"], False
    else:
        customer_id, linked = customer.id, True
    Lead.update(customer=customer_id).where(Lead.id == lead.id).execute()
    machine.move(context, [lead.id], CONVERTED, None, machine.CONVERTED_REASON, (HELD,))
    return {"lead": lead.id, "customer": customer_id, "linked_existing": linked, "holder": holder.login}


# --- the sweep --------------------------------------------------------------------------------------------

SWEEP_BATCH = 5000


@service
def _sweep_batch(context, reason, due_column):
    """Recycle one batch of held leads past ``due_column``; returns how many moved."""
    # Plain integer and text columns: fetched straight from the cursor (peewee's per-row conversion would
    # cost more than the rest of the batch's Python work).
    rows = database.execute(machine.lock_leads(
        Lead.select(Lead.id, Lead.state, Lead.holder, Lead.pool, Lead.customer)
        .where(Lead.workspace == context.workspace, Lead.state == HELD, due_column.is_null(False),
               due_column <= context.now).limit(SWEEP_BATCH), skip_locked=True)).fetchall()
    moves = machine.move_rows(context, rows, IN_POOL, None, reason, (HELD,))
    by_holder = {}
    for m in moves:
        by_holder.setdefault(m.from_holder, []).append(m.lead)
    why = "not converted in time" if reason == machine.RECYCLED_UNCONVERTED else "no follow-up in time"
    context.notify([Notice(holder, "lead_recycled", f"{len(ids)} lead(s) returned to the pool ({why}): "
                           + ", ".join(map(str, ids[:20])) + ("…" if len(ids) > 20 else ""))
                    for holder, ids in by_holder.items() if holder is not None])
    return len(moves)


@service
def _warn_batch(context, warn_column, deadline_column, what):
    rows = list(machine.lock_leads(
        Lead.select(Lead.id, Lead.holder, deadline_column).where(
            Lead.workspace == context.workspace, Lead.state == HELD, warn_column.is_null(False),
            warn_column <= context.now).limit(SWEEP_BATCH), skip_locked=True).tuples())
    if not rows:
        return 0
    Lead.update({warn_column: None}).where(Lead.id.in_([r[0] for r in rows])).execute()
    context.notify([Notice(holder, "lead_deadline", f"lead {lead_id}: {what} by "
                           f"{deadline_column.python_value(deadline).astimezone(context.tz):%Y-%m-%d %H:%M}",
                           f"lead:{lead_id}") for lead_id, holder, deadline in rows if holder is not None])
    return len(rows)


def sweep(context):
    """Recycle every held lead past a deadline and send each due warning once: ``{"recycled", "warned"}``.

    Set-based, in batches (each its own transaction): safe to run again and from several workers at once.
    """
    recycled = warned = 0
    for reason, column in ((machine.RECYCLED_UNCONVERTED, Lead.protected_until),
                           (machine.RECYCLED_NO_FOLLOWUP, Lead.followup_due)):
        while (count := _sweep_batch(context, reason, column)):
            recycled += count
    for warn_column, deadline_column, what in (
            (Lead.protect_warn_at, Lead.protected_until, "convert it or it returns to the pool"),
            (Lead.followup_warn_at, Lead.followup_due, "follow it up or it returns to the pool")):
        while (count := _warn_batch(context, warn_column, deadline_column, what)):
            warned += count
    return {"recycled": recycled, "warned": warned}


SERVICES = {
    "pool_create": create_pool, "pool_set": set_pool, "pools": list_pools, "add": add_lead, "add_many": add_leads,
    "show": show_lead, "list": list_leads, "history": lead_history, "claim": claim_lead, "release": release_lead,
    "transfer": transfer_lead, "follow_up": follow_up_lead, "convert": convert_lead, "sweep": sweep,
    "return_customer": return_customer_to_pool,
}
