"""Industry packs: stage sets with win rates, fields, sources, scripts, surveys and policy overrides."""

from pathlib import Path

from kehu import hookimpl
from kehu.plugins.templates.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")
