"""(being written)"""

SURVEY_COMMANDS = []
