"""(being written)"""

SERVICES = {}
JOBS = []


def send_in_transaction(context, form, customer_id, after=None):
    return None
