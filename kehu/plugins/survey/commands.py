"""``kehu survey ...`` and ``kehu complaints ...``: the groups; each concern adds its commands."""

import click

from kehu.plugins.survey.complaints_commands import COMPLAINTS_COMMANDS
from kehu.plugins.survey.survey_commands import SURVEY_COMMANDS


@click.group("survey")
def survey_group():
    """Satisfaction surveys: forms, sending, answers, NPS and CSAT reports."""


@click.group("complaints")
def complaints_group():
    """Complaints and inquiries: open, dispatch, resolve, return visit, confirm."""


for command in SURVEY_COMMANDS:
    survey_group.add_command(command)
for command in COMPLAINTS_COMMANDS:
    complaints_group.add_command(command)

GROUPS = (survey_group, complaints_group)
