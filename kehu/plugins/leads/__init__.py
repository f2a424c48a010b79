"""Lead pools (公海 and private pools): claims, protection, recycling, assignment, dedupe and import."""

from pathlib import Path

from kehu import hookimpl
from kehu.plugins.leads.models import MODELS, Pool

PUBLIC_POOL = "public"


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")


def _ensure_public_pool(context):
    if Pool.get_or_none(Pool.workspace == context.workspace, Pool.name == PUBLIC_POOL) is None:
        Pool.create(workspace=context.workspace, name=PUBLIC_POOL, created_at=context.now)


@hookimpl
def kehu_workspace_created(context):
    """Every workspace with leads has the public pool."""
    _ensure_public_pool(context)


@hookimpl
def kehu_plugin_enabled(context, plugin):
    if plugin == "leads":
        _ensure_public_pool(context)


@hookimpl
def kehu_populate_demo(context, customers, say):
    pool = Pool.get(Pool.workspace == context.workspace, Pool.name == PUBLIC_POOL)
    say(f"leads: the public pool '{pool.name}' (公海) is ready: a rep may hold {pool.max_held} leads and claim "
        f"{pool.daily_claims} a day; unconverted leads return after {pool.protect_days} days, "
        f"or after {pool.followup_days} days without follow-up.")
