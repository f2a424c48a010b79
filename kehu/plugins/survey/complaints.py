"""(being written)"""

SERVICES = {}
JOBS = []
