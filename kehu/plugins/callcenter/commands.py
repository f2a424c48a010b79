"""``kehu calls ...``, ``kehu visits ...``, ``kehu targets ...``: the groups; each concern adds its commands."""

import click

from kehu.plugins.callcenter.calls_commands import CALLS_COMMANDS, VISITS_COMMANDS
from kehu.plugins.callcenter.phones_commands import PHONES_COMMANDS
from kehu.plugins.callcenter.targets_commands import TARGETS_COMMANDS


@click.group("calls")
def calls_group():
    """Call center: log calls, talk tracks, categories, new/old, invalid numbers, phone claims."""


@click.group("visits")
def visits_group():
    """Field visits (出访记录) after calls."""


@click.group("targets")
def targets_group():
    """Monthly targets cascading GM → region → department → rep, and their progress."""


for command in (*CALLS_COMMANDS, *PHONES_COMMANDS):
    calls_group.add_command(command)
for command in VISITS_COMMANDS:
    visits_group.add_command(command)
for command in TARGETS_COMMANDS:
    targets_group.add_command(command)

GROUPS = (calls_group, visits_group, targets_group)
