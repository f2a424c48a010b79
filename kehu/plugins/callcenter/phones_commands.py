"""(being written)"""

PHONES_COMMANDS = []
