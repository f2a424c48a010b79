"""Surveys: satisfaction forms, CSAT/NPS, complaints, return visits and the low-score loop."""

from pathlib import Path

from kehu import hookimpl
from kehu.plugins.survey.models import MODELS


@hookimpl
def kehu_register_models(register):
    register(MODELS, migrations=Path(__file__).parent / "migrations")
