"""Core's CLI commands, mounted on the root group by :func:`register_core_commands`."""


def register_core_commands(cli):
    from kehu.core.commands import admin, demo, records

    for command in admin.COMMANDS + records.COMMANDS + demo.COMMANDS:
        cli.add_command(command)
