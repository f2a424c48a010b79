"""Output shapes of core records: what ``--json``, the API and hooks see.

Money is a decimal string, times ISO-8601 UTC; related users appear by login. A view is a mapping of
output name → getter; :func:`dump` applies it. Plain getters rather than marshmallow ``dump`` because
listing is a hot path (marshmallow costs ~45 µs a row; these ~2 µs); input stays marshmallow-validated.
"""


def attr(name):
    return lambda obj: getattr(obj, name)


def iso(name):
    def get(obj):
        value = getattr(obj, name)
        return None if value is None else value.isoformat()

    return get


def decimal_text(name):
    def get(obj):
        value = getattr(obj, name)
        return None if value is None else str(value)

    return get


def login(name):
    """The login of the user in foreign key ``name``: from a joined ``<name>_login`` alias, else one lookup."""
    alias = f"{name}_login"

    def get(obj):
        if alias in obj.__dict__:
            return obj.__dict__[alias]
        user_id = getattr(obj, f"{name}_id")
        return None if user_id is None else getattr(obj, name).login

    return get


def with_login(query, model, user_model, name):
    """Join ``model.<name>`` to users so :func:`login` reads the login without a query per row."""
    from peewee import JOIN

    alias = user_model.alias()
    return (query.select_extend(alias.login.alias(f"{name}_login"))
            .join_from(model, alias, JOIN.LEFT_OUTER, on=(getattr(model, name) == alias.id)).objects())


WorkspaceView = {"id": attr("id"), "name": attr("name"), "timezone": attr("timezone"),
                 "created_at": iso("created_at")}

OrgUnitView = {"id": attr("id"), "name": attr("name"), "path": attr("path"), "kind": attr("kind"),
               "parent_id": attr("parent_id")}

UserView = {"id": attr("id"), "login": attr("login"), "name": attr("name"), "role": attr("role"),
            "unit": lambda u: u.unit.path if u.unit_id else None, "active": attr("active")}

CustomerView = {"id": attr("id"), "name": attr("name"), "phone": attr("phone"), "email": attr("email"),
                "region": attr("region"), "industry": attr("industry"), "source": attr("source"),
                "owner": login("owner"), "parent": attr("parent_id"), "custom": lambda c: dict(c.custom or {}),
                "created_at": iso("created_at"), "updated_at": iso("updated_at")}

ContactView = {"id": attr("id"), "customer": attr("customer_id"), "name": attr("name"), "title": attr("title"),
               "role": attr("role"), "phone": attr("phone"), "email": attr("email")}

OpportunityView = {"id": attr("id"), "customer": attr("customer_id"), "name": attr("name"),
                   "amount": decimal_text("amount"), "stage": attr("stage"), "status": attr("status"),
                   "owner": login("owner"), "expected_close": iso("expected_close"),
                   "created_at": iso("created_at"), "updated_at": iso("updated_at")}

ActivityView = {"id": attr("id"), "kind": attr("kind"), "subject": attr("subject"), "notes": attr("notes"),
                "customer": attr("customer_id"), "entity": attr("entity"), "user": login("user"),
                "due_at": iso("due_at"), "done_at": iso("done_at"), "created_at": iso("created_at")}

EventView = {"id": attr("id"), "at": iso("at"), "actor": login("actor"), "action": attr("action"),
             "entity": lambda e: f"{e.entity_type}:{e.entity_id}" if e.entity_id else e.entity_type,
             "before": attr("before"), "after": attr("after")}

NotificationView = {"id": attr("id"), "at": iso("at"), "kind": attr("kind"), "message": attr("message"),
                    "entity": attr("entity"), "read": lambda n: n.read_at is not None}

FieldView = {"id": attr("id"), "entity": attr("entity"), "name": attr("name"), "type": attr("type"),
             "choices": attr("choices"), "required": attr("required"), "label": attr("label")}


def dump(view, obj):
    return {name: get(obj) for name, get in view.items()}


def dump_many(view, objs):
    return [dump(view, obj) for obj in objs]
