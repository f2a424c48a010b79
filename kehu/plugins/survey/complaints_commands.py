"""(being written)"""

COMPLAINTS_COMMANDS = []
