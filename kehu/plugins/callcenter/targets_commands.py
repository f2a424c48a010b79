"""(being written)"""

TARGETS_COMMANDS = []
