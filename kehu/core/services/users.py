"""Users: add, change role or unit, deactivate (handing their records over), list."""

from kehu.core import access
from kehu.core.context import service
from kehu.core.models import Customer, Opportunity, Role, User
from kehu.core.schemas import UserInput, UserUpdate, listing_bounds, load
from kehu.core.services import ownership
from kehu.core.services.lookup import unit_by_path, user_by_login
from kehu.core.views import UserView, dump, dump_many
from kehu.errors import Conflict, Invalid


def _role_key(context, key):
    if Role.get_or_none(Role.workspace == context.workspace, Role.key == key) is None:
        roles = [k for (k,) in Role.select(Role.key).where(Role.workspace == context.workspace).tuples()]
        raise Invalid(f"unknown role {key!r} (roles: {', '.join(sorted(roles))})")
    return key


@service
def add_user(context, login, role, unit=None, name=None):
    """Add a user (admin). ``unit`` is an org path; ``role`` one of the workspace's roles."""
    access.require(context, "admin", "add users")
    data = load(UserInput(), {"login": login, "role": role, "unit": unit, "name": name})
    _role_key(context, data["role"])
    unit_row = unit_by_path(context, data["unit"]) if data["unit"] else None
    if User.get_or_none(User.workspace == context.workspace, User.login == data["login"]) is not None:
        raise Conflict(f"user {data['login']!r} already exists")
    user = User.create(workspace=context.workspace, login=data["login"], name=data["name"] or data["login"],
                       role=data["role"], unit=unit_row, created_at=context.now)
    result = dump(UserView, user)
    context.audit("user.added", "user", user.id, after=result)
    return result


@service
def update_user(context, login, **changes):
    """Change a user's role, unit or name (admin)."""
    access.require(context, "admin", "change users")
    data = load(UserUpdate(), {k: v for k, v in changes.items() if v is not None})
    user = user_by_login(context, login, active_only=False)
    before = dump(UserView, user)
    if "role" in data:
        was_admin = user.role == "admin" and user.active
        user.role = _role_key(context, data["role"])
        # Whoever demotes the last active admin (themselves or, as a gm, someone else) would leave none.
        if user.role != "admin" and (was_admin or user.login == getattr(context.user, "login", None)):
            _keep_an_admin(context, user)
    if "unit" in data:
        user.unit = unit_by_path(context, data["unit"]) if data["unit"] else None
    if data.get("name"):
        user.name = data["name"]
    user.save()
    after = dump(UserView, user)
    context.audit("user.changed", "user", user.id, before=before, after=after)
    context.cache.pop("role", None)
    return after


def _keep_an_admin(context, leaving):
    others = (User.select().where(User.workspace == context.workspace, User.active, User.role == "admin",
                                  User.id != leaving.id).count())
    if not others:
        raise Conflict("the workspace must keep at least one active admin")


@service
def deactivate_user(context, login, handover=None):
    """Deactivate a user (admin). Their customers go to ``handover`` when given; plugins hand back the rest."""
    access.require(context, "admin", "deactivate users")
    user = user_by_login(context, login, active_only=False)
    if not user.active:
        raise Conflict(f"user {login!r} is already inactive")
    if context.user is not None and user.id == context.user.id:
        raise Conflict("you cannot deactivate yourself")
    if user.role == "admin":
        _keep_an_admin(context, user)
    successor = None
    if handover:
        successor = user_by_login(context, handover)
        if successor.id == user.id:
            raise Invalid("a user cannot hand over to themselves")
    before = dump(UserView, user)
    moved = []
    if successor is not None:
        ids = [cid for (cid,) in Customer.select(Customer.id).where(
            Customer.workspace == context.workspace, Customer.owner == user, Customer.deleted_at.is_null()
        ).tuples()]
        moved = ownership.write_owner(context, Customer, "customer", ids, successor.id, "handover")
        # Their opportunities go too: a rep sees only the opportunities they own (DOMAIN §1.3: data handed over).
        opportunity_ids = [oid for (oid,) in Opportunity.select(Opportunity.id).where(
            Opportunity.workspace == context.workspace, Opportunity.owner == user).tuples()]
        ownership.write_owner(context, Opportunity, "opportunity", opportunity_ids, successor.id, "handover")
    user.active = False
    user.save()
    context.audit("user.deactivated", "user", user.id, before=before,
                  after={"active": False, "handover": successor.login if successor else None})
    context.hooks.kehu_user_deactivated(context=context, user=dump(UserView, user),
                                        handover=dump(UserView, successor) if successor else None)
    result = dump(UserView, user)
    result["customers_handed_over"] = len(moved)
    return result


def list_users(context, include_inactive=False, role=None, unit=None, limit=100, offset=0):
    limit, offset = listing_bounds(limit, offset)
    query = User.select().where(User.workspace == context.workspace).order_by(User.login)
    if not include_inactive:
        query = query.where(User.active)
    if role:
        query = query.where(User.role == role)
    if unit:
        query = query.where(User.unit == unit_by_path(context, unit))
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    return dump_many(UserView, query)


def list_roles(context):
    rows = Role.select().where(Role.workspace == context.workspace).order_by(Role.rank.desc(), Role.key)
    return [{"key": r.key, "label": r.label, "rank": r.rank, "scope": r.scope, "permissions": r.permissions}
            for r in rows]


SERVICES = {"add": add_user, "update": update_user, "deactivate": deactivate_user, "list": list_users,
            "roles": list_roles}
