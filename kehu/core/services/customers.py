"""Customers: create (batch-first), show, list, update, transfer, delete — scoped by role on every path."""

from kehu.core import access, customfields, normalize
from kehu.core.context import service
from kehu.core.db import bulk_insert
from kehu.core.models import Contact, Customer, Event, User
from kehu.core.schemas import CustomerInput, listing_bounds, load
from kehu.core.services import ownership
from kehu.core.services.lookup import customer_by_id, parse_id, user_by_login
from kehu.core.views import ContactView, CustomerView, dump, dump_many, with_login
from kehu.errors import Invalid, KehuError, PermissionDenied

DEFAULT_TREE_DEPTH = 4
CORE_FIELDS = ("name", "phone", "email", "region", "industry", "source", "parent", "custom")


def tree_depth_limit(context):
    return int((context.workspace.settings or {}).get("customer_tree_depth", DEFAULT_TREE_DEPTH))


def _ancestors(context, customer_id):
    """Ids from ``customer_id`` up to its root (bounded by the depth limit plus one, against bad data)."""
    chain = []
    current = customer_id
    while current is not None and len(chain) <= tree_depth_limit(context) + 1:
        chain.append(current)
        current = (Customer.select(Customer.parent).where(Customer.id == current).scalar())
    return chain


def _subtree_height(context, customer_id):
    """Levels in the subtree rooted at ``customer_id`` (1 = no children), one query per level."""
    height, level = 1, [customer_id]
    while True:
        level = [cid for (cid,) in Customer.select(Customer.id).where(
            Customer.workspace == context.workspace, Customer.parent.in_(level),
            Customer.deleted_at.is_null()).tuples()]
        if not level or height > tree_depth_limit(context) + 1:
            return height
        height += 1


def _check_parent(context, parent_id, moving_id=None):
    """A parent must exist, be visible, not be the record itself or below it, and keep the tree ≤ N levels."""
    parent = customer_by_id(context, parent_id)
    if not access.owner_in_scope(context, parent.owner_id):
        raise PermissionDenied(f"customer {parent.id} is outside your data scope")
    chain = _ancestors(context, parent.id)
    if moving_id is not None and moving_id in chain:
        raise Invalid(f"customer {parent.id} is {moving_id} itself or below it: a tree cannot loop")
    height = _subtree_height(context, moving_id) if moving_id is not None else 1
    limit = tree_depth_limit(context)
    if len(chain) + height > limit:
        raise Invalid(f"a customer tree has at most {limit} levels; under {parent.id} this would make "
                      f"{len(chain) + height}")
    return parent


def _keys(values):
    out = {}
    if "name" in values:
        out["name_key"] = normalize.company_key(values["name"])
    if "phone" in values:
        out["phone_key"] = normalize.phone_key(values["phone"])
    if "email" in values:
        out["email_key"] = normalize.email_key(values["email"])
    return out


def _owner_for(context, login, owners):
    """The owner a new record gets (``login`` or the acting user), checked once per login in a batch."""
    key = login or None
    if key not in owners:
        owner = user_by_login(context, login) if login else context.user
        if owner is not None and context.user is not None and owner.id != context.user.id:
            access.require(context, "assign", "give customers to other users")
            if not access.owner_in_scope(context, owner.id):
                raise PermissionDenied(f"{owner.login} is outside the data scope of {context.user.login}")
        owners[key] = owner
    return owners[key]


def _prepare(context, schema, raw, owners):
    """Validate one input record; return the dict of values to write (owner as a user id)."""
    data = load(schema, raw)
    owner = _owner_for(context, data["owner"], owners)
    if data["parent"] is not None:
        _check_parent(context, parse_id(data["parent"], "parent customer"))
    data["custom"] = customfields.validate_values(context, "customer", data["custom"])
    data["owner"] = owner.id if owner is not None else None
    return data


@service
def create_customers(context, records, origin="manual"):
    """Create customers from a list of input dicts: the batch-first path shared by the CLI and imports.

    Returns ``{"created": [customer dicts], "rejected": [{"index", "error", "code"}]}``: a record that
    fails validation or is vetoed by a plugin is rejected and the rest go on. A new customer's first owner
    is written with the row (announced by ``kehu_records_created``); every later change of owner goes
    through :func:`kehu.core.services.ownership.write_owner`.
    """
    access.require(context, "create", "create customers")
    prepared, rejected, owners = [], [], {}
    schema = CustomerInput()  # built once per batch: building one costs more than loading a row
    for index, raw in enumerate(records):
        try:
            prepared.append((index, _prepare(context, schema, raw, owners)))
        except KehuError as exc:
            rejected.append({"index": index, "error": exc.message, "code": exc.code})
    vetoes = context.vetoes("kehu_before_create", prepared, entity="customer",
                            records=[values for _, values in prepared], origin=origin)
    logins = {owner.id: owner.login for owner in owners.values() if owner is not None}
    rows = []
    for (index, values), found in zip(prepared, vetoes):
        if found:
            rejected.append({"index": index, "error": "; ".join(v.reason for v in found), "code": "vetoed"})
            continue
        rows.append({**values, **_keys(values), "workspace": context.workspace.id, "created_at": context.now,
                     "updated_at": context.now})
    created, events = [], []
    if rows:
        # One multi-row INSERT; RETURNING gives the ids in VALUES order (SQLite >= 3.35, PostgreSQL).
        ids = bulk_insert(Customer, rows)
        for customer_id, row in zip(ids, rows):
            customer = Customer(id=customer_id, **row)
            customer.__dict__["owner_login"] = logins.get(row["owner"])
            record = dump(CustomerView, customer)
            created.append(record)
            events.append({"workspace": context.workspace.id, "actor": getattr(context.user, "id", None),
                           "at": context.now, "action": "customer.created", "entity_type": "customer",
                           "entity_id": str(customer_id), "after": {**record, "origin": origin}})
        bulk_insert(Event, events, returning=False)
        context.after_commit(lambda: context.hooks.kehu_records_created(context=context, entity="customer",
                                                                        records=created))
    rejected.sort(key=lambda r: r["index"])
    return {"created": created, "rejected": rejected}


def create_customer(context, origin="manual", **fields):
    """Create one customer; fails with the record's own error (``invalid``, ``vetoed``, ...)."""
    outcome = create_customers(context, [fields], origin=origin)
    if outcome["rejected"]:
        problem = outcome["rejected"][0]
        # The record's own error class (Invalid, NotFound, PermissionDenied, ...), so callers can catch it.
        error = next((cls for cls in KehuError.__subclasses__() if cls.code == problem["code"]), KehuError)
        raise error(problem["error"], code=problem["code"])
    return outcome["created"][0]


def _visible(context, customer_id, permission="view"):
    customer = customer_by_id(context, customer_id)
    access.require_customer(context, permission, customer)
    return customer


def show_customer(context, customer_id):
    """One customer with its contacts and its parent chain."""
    customer = _visible(context, customer_id)
    result = dump(CustomerView, customer)
    result["contacts"] = dump_many(ContactView, Contact.select().where(
        Contact.workspace == context.workspace, Contact.customer == customer).order_by(Contact.id))
    result["ancestors"] = _ancestors(context, customer.id)[1:]
    result["children"] = [cid for (cid,) in Customer.select(Customer.id).where(
        Customer.workspace == context.workspace, Customer.parent == customer,
        Customer.deleted_at.is_null()).order_by(Customer.id).tuples()]
    return result


def list_customers(context, owner=None, region=None, industry=None, source=None, parent=None, search=None,
                   limit=100, offset=0):
    """Customers the acting user may see, filtered; ``search`` matches the name, phone or e-mail."""
    limit, offset = listing_bounds(limit, offset)
    query = (Customer.select().where(Customer.workspace == context.workspace, Customer.deleted_at.is_null())
             .order_by(Customer.id))
    condition = access.owner_condition(context, Customer.owner)
    if condition is not None:
        query = query.where(condition)
    if owner:
        query = query.where(Customer.owner == user_by_login(context, owner, active_only=False))
    for column, value in ((Customer.region, region), (Customer.industry, industry), (Customer.source, source)):
        if value:
            query = query.where(column == value)
    if parent is not None:
        query = query.where(Customer.parent == parse_id(parent, "parent customer"))
    if search:
        term = search.strip()
        clauses = Customer.name.contains(term)
        name_key = normalize.company_key(term)
        if name_key:  # punctuation or a bare suffix reduces to "", which every name contains
            clauses |= Customer.name_key.contains(name_key)
        try:
            phone = normalize.phone_key(term)
        except ValueError:
            phone = None
        if phone:
            clauses |= Customer.phone_key == phone
        clauses |= Customer.email_key == term.lower()
        query = query.where(clauses)
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    return dump_many(CustomerView, with_login(query, Customer, User, "owner"))


@service
def update_customer(context, customer_id, **patch):
    """Change a customer's fields (``custom`` merges; a ``None`` value clears). ``owner`` transfers it."""
    new_owner = patch.pop("owner", None)
    patch = {k: v for k, v in patch.items() if v is not None or k in ("parent",)}
    unknown = set(patch) - set(CORE_FIELDS)
    if unknown:
        raise Invalid(f"cannot update {', '.join(sorted(unknown))}")
    customer = _visible(context, customer_id, "edit")
    if not patch and not new_owner:
        raise Invalid("nothing to update")
    data = load(CustomerInput(), {"name": customer.name, **{k: v for k, v in patch.items() if k != "custom"}},
                partial=True) if patch else {}
    data = {k: v for k, v in data.items() if k in patch}
    if "custom" in patch:
        data["custom"] = customfields.validate_values(context, "customer", patch["custom"], customer.custom)
    if "parent" in patch and patch["parent"] not in (None, "", 0, "0"):
        data["parent"] = _check_parent(context, parse_id(patch["parent"], "parent customer"), customer.id).id
    elif "parent" in patch:
        data["parent"] = None
    before = dump(CustomerView, customer)
    if data:
        context.raise_if_vetoed("kehu_before_update", [customer], entity="customer",
                                changes=[(before, data)])
        for key, value in {**data, **_keys(data)}.items():
            setattr(customer, key, value)
        customer.updated_at = context.now
        customer.save()
    if new_owner:
        transfer_customers(context, [customer.id], new_owner, reason="updated")
        customer = customer_by_id(context, customer.id)
    after = dump(CustomerView, customer)
    if data:
        context.audit("customer.updated", "customer", customer.id, before=before, after=after)
        context.after_commit(lambda: context.hooks.kehu_records_updated(
            context=context, entity="customer", changes=[(before, after)]))
    return after


@service
def transfer_customers(context, customer_ids, to, reason="transfer"):
    """Give customers to the user ``to`` (needs ``assign``; both the records and ``to`` in scope)."""
    access.require(context, "assign", "transfer customers")
    target = user_by_login(context, to)
    if not access.owner_in_scope(context, target.id):
        raise PermissionDenied(f"{target.login} is outside the data scope of {context.actor_label}")
    ids = []
    for customer_id in customer_ids:
        customer = _visible(context, customer_id, "assign")
        ids.append(customer.id)
    changes = ownership.write_owner(context, Customer, "customer", ids, target.id, reason)
    return {"transferred": [c.id for c in changes], "to": target.login}


@service
def delete_customer(context, customer_id):
    """Delete a customer (managers and above within scope; reps never). Kept as a soft delete for audit."""
    customer = _visible(context, customer_id, "delete")
    before = dump(CustomerView, customer)
    context.raise_if_vetoed("kehu_before_delete", [before], entity="customer", records=[before])
    customer.deleted_at = context.now
    customer.save()
    context.audit("customer.deleted", "customer", customer.id, before=before)
    context.after_commit(lambda: context.hooks.kehu_records_deleted(context=context, entity="customer",
                                                                    records=[before]))
    return {"id": customer.id, "deleted": True}


SERVICES = {
    "create": create_customer,
    "create_many": create_customers,
    "show": show_customer,
    "list": list_customers,
    "update": update_customer,
    "transfer": transfer_customers,
    "delete": delete_customer,
}
