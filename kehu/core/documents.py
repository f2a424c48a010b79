"""Policy documents: validated JSON-shaped data with defaults that a workspace (or an industry pack) overrides.

Plugins keep their rules as documents (the credit policy, the call-center settings); an override is laid
over the defaults with :func:`merge_documents` and the result validated whole before anything is stored.
"""

import copy


def merge_documents(base, override):
    """``base`` with ``override`` laid over it: objects merge key by key, anything else (lists included) is
    replaced. Neither argument is changed."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_documents(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
