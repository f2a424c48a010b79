"""(being written)"""

SERVICES = {}
