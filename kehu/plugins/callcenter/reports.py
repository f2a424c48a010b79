"""(being written)"""

REPORTS = []
