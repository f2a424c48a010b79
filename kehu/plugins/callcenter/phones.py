"""(being written)"""

SERVICES = {}
JOBS = []


def mark_called(context, customer_id, rep_id):
    """(being written)"""
