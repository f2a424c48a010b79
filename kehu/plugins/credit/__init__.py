"""Credit: A/B/C grading, limits and terms, over-limit approvals, receivables, late fees and collections."""

from pathlib import Path

from kehu import hookimpl
from kehu.plugins.credit.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")
