"""Roles, permissions and data scope, enforced by the service layer on every path.

A role has a ``scope`` (``own``: records the user owns; ``unit``: records owned by users in the user's
org-unit subtree; ``all``: the whole workspace) and a list of permissions:
``view``, ``create``, ``edit``, ``delete``, ``assign`` (give a record to someone else) on owned records,
``admin`` (users, org units, fields, plugins) and plugin permissions such as ``finance``.
The system (no acting user: jobs, the demo) may do everything.
"""

import attrs
from peewee import fn

from kehu.core.models import OrgUnit, Role, User
from kehu.errors import PermissionDenied

RECORD_PERMISSIONS = ("view", "create", "edit", "delete", "assign")


@attrs.frozen
class RoleDefault:
    key: str
    rank: int
    scope: str
    permissions: tuple
    label: str


# rank rep < manager < director < vp < gm; "manager or above" is rank >= 20 (admin included).
DEFAULT_ROLES = (
    RoleDefault("rep", 10, "own", ("view", "create", "edit"), "sales rep (业务员)"),
    RoleDefault("manager", 20, "unit", RECORD_PERMISSIONS, "department head (部门经理)"),
    RoleDefault("director", 30, "unit", RECORD_PERMISSIONS, "region head (大区总监)"),
    RoleDefault("vp", 40, "all", RECORD_PERMISSIONS, "VP of sales (销售分管副总)"),
    RoleDefault("gm", 50, "all", RECORD_PERMISSIONS + ("admin",), "general manager (总经理)"),
    RoleDefault("finance", 0, "all", ("view", "finance"), "finance (财务)"),
    RoleDefault("admin", 60, "all", RECORD_PERMISSIONS + ("admin",), "administrator"),
)
MANAGER_RANK = 20


def role_of(context):
    """The acting user's :class:`Role` row (cached on the context); ``None`` for the system."""
    if context.user is None:
        return None
    cached = context.cache.get("role")
    if cached is None or cached.key != context.user.role:
        cached = Role.get_or_none(Role.workspace == context.workspace, Role.key == context.user.role)
        if cached is None:  # a role deleted under a user: no rights at all
            cached = Role(key=context.user.role, rank=-1, scope="own", permissions=[])
        context.cache["role"] = cached
    return cached


def has_permission(context, permission):
    role = role_of(context)
    return role is None or permission in (role.permissions or ())


def require(context, permission, doing=None):
    """Raise ``permission_denied`` unless the acting user's role has ``permission``."""
    if not has_permission(context, permission):
        what = doing or permission
        raise PermissionDenied(f"{context.user.login} ({context.user.role}) may not {what}")


def is_manager_or_above(context):
    role = role_of(context)
    return role is None or role.rank >= MANAGER_RANK


def require_manager(context, doing):
    if not is_manager_or_above(context):
        raise PermissionDenied(f"only a manager or above may {doing}")


def subtree(unit_path):
    """The org units at ``unit_path`` and below it (an exact, case-sensitive prefix)."""
    # Not ``startswith``: that is ILIKE/LIKE, case-insensitive, and paths differing in case are other units.
    prefix = unit_path + "/"
    return (OrgUnit.path == unit_path) | (fn.SUBSTR(OrgUnit.path, 1, len(prefix)) == prefix)


def users_in_scope(context):
    """A subquery of the user ids whose records the acting user sees, or ``None`` for no restriction."""
    role = role_of(context)
    if role is None or role.scope == "all":
        return None
    user = context.user
    if role.scope == "unit" and user.unit_id is not None:
        unit = OrgUnit.get_by_id(user.unit_id)
        return (
            User.select(User.id)
            .join(OrgUnit)
            .where((User.workspace == context.workspace) & subtree(unit.path))
            | User.select(User.id).where(User.id == user.id)
        )
    return User.select(User.id).where(User.id == user.id)


def owner_condition(context, owner_field):
    """A peewee expression restricting ``owner_field`` to what the acting user sees (``None`` = all)."""
    role = role_of(context)
    if role is None or role.scope == "all":
        return None
    if role.scope == "own" or context.user.unit_id is None:
        return owner_field == context.user.id  # lets the (workspace, owner) index serve the query
    return owner_field.in_(users_in_scope(context))


def owner_in_scope(context, owner_id):
    """Whether a record owned by ``owner_id`` is within the acting user's data scope."""
    scope = users_in_scope(context)
    if scope is None:
        return True
    if owner_id is None:
        return False
    return User.select(fn.COUNT(User.id)).where(User.id == owner_id, User.id.in_(scope)).scalar() > 0


def require_record(context, permission, owner_id, label):
    """Check ``permission`` and that the record owned by ``owner_id`` is in scope, or raise."""
    require(context, permission, f"{permission} {label}")
    if not owner_in_scope(context, owner_id):
        raise PermissionDenied(f"{label} is outside the data scope of {context.user.login}")


def access_granted(context, entity, record_id):
    """Whether an enabled plugin grants the acting user working access to a record outside their data scope
    (``kehu_access_granted``: a phone claim lets a rep call a customer nobody owns). Grants only widen
    access for a reason a plugin names; every answer is asked, none can narrow another's."""
    if context.user is None:
        return True
    return any(context.hooks.kehu_access_granted(context=context, entity=entity, record_id=record_id))


def require_customer(context, permission, customer):
    """``require_record`` for a customer row, also allowing what a plugin grants (view only: seeing it and
    logging activities on it, never editing or deleting it)."""
    require(context, permission, f"{permission} customer {customer.id}")
    if owner_in_scope(context, customer.owner_id):
        return
    if permission == "view" and access_granted(context, "customer", customer.id):
        return
    raise PermissionDenied(f"customer {customer.id} is outside the data scope of {context.user.login}")
