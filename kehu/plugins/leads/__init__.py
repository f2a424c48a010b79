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
