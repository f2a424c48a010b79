"""Custom fields: declared per workspace and entity, validated and converted on every write."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from kehu.core.models import FieldDefinition
from kehu.errors import Invalid


def definitions(context, entity):
    """The workspace's field definitions for ``entity``, by name (cached on the context)."""
    key = ("fields", entity)
    if key not in context.cache:
        rows = FieldDefinition.select().where(FieldDefinition.workspace == context.workspace,
                                              FieldDefinition.entity == entity)
        context.cache[key] = {row.name: row for row in rows}
    return context.cache[key]


def convert(definition, value):
    """``value`` as the JSON-storable form of ``definition``'s type; raise ``ValueError`` when it is not."""
    kind = definition.type
    if kind == "text":
        return str(value)
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("not a whole number")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not text.lstrip("+-").isdigit():
            raise ValueError("not a whole number")
        return int(text)
    if kind == "decimal":
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
        if not number.is_finite():
            raise ValueError("not a decimal number")
        return str(number)
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError("not a date (YYYY-MM-DD)") from None
    if kind == "choice":
        text = str(value).strip()
        if text not in (definition.choices or []):
            raise ValueError(f"not one of {', '.join(definition.choices or [])}")
        return text
    raise ValueError(f"unknown field type {kind}")


def validate_values(context, entity, values, existing=None):
    """Validate ``values`` (a dict of custom field name → raw value) merged over ``existing``.

    A value of ``None`` or ``""`` clears the field. Returns the merged, converted dict; raises ``invalid``
    naming every unknown field, bad value and missing required field.
    """
    known = definitions(context, entity)
    merged = dict(existing or {})
    problems = []
    for name, raw in (values or {}).items():
        definition = known.get(name)
        if definition is None:
            problems.append(f"{name}: unknown field (declare it with `kehu field add {name} --type ...`)")
            continue
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            merged.pop(name, None)
            continue
        try:
            merged[name] = convert(definition, raw)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    for name, definition in known.items():
        if definition.required and name not in merged:
            problems.append(f"{name}: required")
    if problems:
        raise Invalid("; ".join(problems))
    return merged
