"""Call center: call annotation, intent stages and talk tracks, dispositions, callbacks, reports, targets."""

from pathlib import Path

from kehu import hookimpl
from kehu.plugins.callcenter.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")
