"""(being written)"""

SERVICES = {}
JOBS = []


def check_sources(context, entity, records, origin):
    return None
