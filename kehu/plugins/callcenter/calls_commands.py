"""(being written)"""

CALLS_COMMANDS = []
VISITS_COMMANDS = []
