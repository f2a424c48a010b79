"""Finding workspace records by their public keys, with ``not_found`` errors that say what was missing."""

from kehu.core.models import Customer, OrgUnit, User
from kehu.errors import Invalid, NotFound


def parse_id(value, what):
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid(f"{what} id must be a whole number, not {value!r}") from None
    if number <= 0:
        raise Invalid(f"{what} id must be positive, not {value!r}")
    return number


def user_by_login(context, login, active_only=True):
    user = User.get_or_none(User.workspace == context.workspace, User.login == login)
    if user is None:
        raise NotFound(f"no user {login!r} in workspace {context.workspace.name}")
    if active_only and not user.active:
        raise Invalid(f"user {login!r} is not active")
    return user


def unit_by_path(context, path):
    path = "/".join(part.strip() for part in str(path).strip().strip("/").split("/"))
    unit = OrgUnit.get_or_none(OrgUnit.workspace == context.workspace, OrgUnit.path == path)
    if unit is None:
        raise NotFound(f"no org unit {path!r} (add it with `kehu org add {path}`)")
    return unit


def customer_by_id(context, customer_id, for_update=False):
    customer_id = parse_id(customer_id, "customer")
    query = Customer.select().where(Customer.workspace == context.workspace, Customer.id == customer_id,
                                    Customer.deleted_at.is_null())
    customer = query.first()
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer
