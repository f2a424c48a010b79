"""Clock and calendar rules: instants are aware UTC; a time without a zone is in the workspace timezone."""

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kehu.errors import Invalid


def zone(name):
    """The ``ZoneInfo`` for ``name``; an unknown name is bad input."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise Invalid(f"unknown timezone {name!r}") from None


def parse_instant(text, tz, what="time"):
    """Parse ISO-8601 ``text`` into an aware UTC datetime; a value without a zone is local to ``tz``.

    A bare date means its local midnight.
    """
    if isinstance(text, dt.datetime):
        value = text
    elif isinstance(text, dt.date):
        value = dt.datetime.combine(text, dt.time())
    else:
        raw = str(text).strip()
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
        except ValueError:
            raise Invalid(f"{what}: {text!r} is not an ISO-8601 date or time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.timezone.utc)


def parse_date(text, what="date"):
    if isinstance(text, dt.date) and not isinstance(text, dt.datetime):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise Invalid(f"{what}: {text!r} is not an ISO-8601 date (YYYY-MM-DD)") from None


def local(instant, tz):
    return instant.astimezone(tz)


def period_key(instant, tz, every):
    """The calendar period ``instant`` falls in, in ``tz``: ``2026-11-23``, ``2026-11``, ``2026-Q4``, ``2026``."""
    day = instant.astimezone(tz).date()
    if every == "day":
        return day.isoformat()
    if every == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if every == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if every == "year":
        return f"{day.year:04d}"
    raise ValueError(every)


def isoformat(value):
    """ISO-8601 text for a datetime or date (``None`` stays ``None``)."""
    return None if value is None else value.isoformat()
