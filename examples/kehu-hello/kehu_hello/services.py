"""The hello plugin's services: what its hook, its command and embedding callers share."""

from kehu.core.context import service
from kehu.core.schemas import listing_bounds
from kehu_hello.models import Greeting


@service
def greet(context, customers):
    """Store a greeting for each customer (dicts with ``id`` and ``name``), in one INSERT."""
    rows = [{"workspace": context.workspace.id, "customer": c["id"], "message": f"你好, {c['name']}!",
             "created_at": context.now} for c in customers]
    if rows:
        Greeting.insert_many(rows).execute()
    return len(rows)


def list_greetings(context, limit=100, offset=0):
    """The workspace's greetings, newest first (``limit`` 0 = all)."""
    limit, offset = listing_bounds(limit, offset)
    query = (Greeting.select().where(Greeting.workspace == context.workspace)
             .order_by(Greeting.id.desc()))
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [{"id": g.id, "customer": g.customer_id, "message": g.message, "created_at": g.created_at.isoformat()}
            for g in query]
