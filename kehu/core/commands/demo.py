"""``kehu demo``: a demo database with a workspace, an org tree, users and sample records."""

import click

from kehu.core.console import emit, pass_state

COMMANDS = []
