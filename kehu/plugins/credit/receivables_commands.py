"""(being written)"""

COMMANDS = []
