"""The organisation tree (company → region → department → ..., any depth)."""

from peewee import fn

from kehu.core import access
from kehu.core.context import service
from kehu.core.models import OrgUnit, User
from kehu.core.schemas import OrgUnitInput, listing_bounds, load
from kehu.core.views import OrgUnitView, dump, dump_many


def split_path(path):
    return [part.strip() for part in path.strip().strip("/").split("/")]


@service
def add_unit(context, path, kind=None):
    """Add the unit at ``path`` (``华东/销售一部``), creating missing ancestors. Admin only.

    Adding a path that exists only sets its ``kind`` when given; the result says whether it was created.
    """
    access.require(context, "admin", "change the org tree")
    data = load(OrgUnitInput(), {"path": path, "kind": kind})
    parent = None
    created = []
    parts = split_path(data["path"])
    for depth in range(1, len(parts) + 1):
        unit_path = "/".join(parts[:depth])
        unit = OrgUnit.get_or_none(OrgUnit.workspace == context.workspace, OrgUnit.path == unit_path)
        if unit is None:
            unit = OrgUnit.create(workspace=context.workspace, name=parts[depth - 1], path=unit_path,
                                  parent=parent, created_at=context.now,
                                  kind=data["kind"] if depth == len(parts) else None)
            created.append(unit_path)
            context.audit("org.unit_added", "org_unit", unit.id, after={"path": unit_path, "kind": unit.kind})
        elif depth == len(parts) and data["kind"] and unit.kind != data["kind"]:
            before = unit.kind
            unit.kind = data["kind"]
            unit.save()
            context.audit("org.unit_changed", "org_unit", unit.id, before={"kind": before},
                          after={"kind": unit.kind})
        parent = unit
    result = dump(OrgUnitView, parent)
    result["created"] = created
    return result


def list_units(context, limit=100, offset=0):
    """The org tree in path order, each unit with its count of active users."""
    limit, offset = listing_bounds(limit, offset)
    counts = dict(
        User.select(User.unit, fn.COUNT(User.id)).where(User.workspace == context.workspace, User.active)
        .group_by(User.unit).tuples()
    )
    query = OrgUnit.select().where(OrgUnit.workspace == context.workspace).order_by(OrgUnit.path)
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    out = dump_many(OrgUnitView, query)
    for item in out:
        item["depth"] = item["path"].count("/") + 1
        item["users"] = counts.get(item["id"], 0)
    return out


SERVICES = {"add": add_unit, "list": list_units}
